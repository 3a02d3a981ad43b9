import { type Collection, type Db, type Filter } from 'mongodb';
import { countMatching, insertUnordered, type IndexSpec } from '../db/mongo.js';

/** One document per (group, member) pair, so a membership change touches one small document. */
export interface Membership {
  _id: string;
  groupId: string;
  memberId: string;
  type: 'User' | 'Group';
}

export const MEMBERSHIP_INDEXES: IndexSpec[] = [
  { collection: 'memberships', key: { groupId: 1, memberId: 1 }, options: { name: 'group_member' } },
  { collection: 'memberships', key: { memberId: 1 }, options: { name: 'member' } },
];

export const membershipId = (groupId: string, memberId: string) => `${groupId}:${memberId}`;

/**
 * A group's memberships as a range of their ids, which the _id index reads in order: the same
 * documents as `groupId = G`, an index the engine can only combine with a page's bounds by reading
 * all of a large group. Undefined for an id with a `:` or `;` of its own (never Roster's UUIDs).
 */
export function groupRange(groupId: string): Filter<Membership> | undefined {
  if (/[:;]/.test(groupId)) return undefined;
  return { _id: { $gt: `${groupId}:`, $lt: `${groupId};` } };
}

export type MembershipRepository = ReturnType<typeof createMembershipRepository>;

/**
 * Every query on memberships, for users, groups, bulk, import and export alike. Each change is one
 * write: an unordered insert of pairs (duplicates ignored) or a delete by ids.
 */
export function createMembershipRepository(db: Db) {
  const memberships: Collection<Membership> = db.collection<Membership>('memberships');

  async function addPairs(pairs: Omit<Membership, '_id'>[]): Promise<boolean[]> {
    // One unordered insert: each pair is its own document under a unique _id, duplicates ignored.
    const docs = pairs.map((p) => ({ _id: membershipId(p.groupId, p.memberId), ...p }));
    const refused = new Set(await insertUnordered(memberships, docs));
    return docs.map((_, i) => !refused.has(i));
  }

  return {
    /** For paged lists of memberships (GET /GroupMembers). */
    collection: memberships,

    async find(id: string): Promise<Membership | null> {
      return memberships.findOne({ _id: id });
    },

    /** Idempotent: adding an existing member changes nothing. Returns how many were new. */
    async addMembers(groupId: string, members: { id: string; type: 'User' | 'Group' }[]): Promise<number> {
      const added = await addPairs(members.map((m) => ({ groupId, memberId: m.id, type: m.type })));
      return added.filter(Boolean).length;
    },

    /** addMembers for pairs of any groups in one write (the CSV import): per pair, whether it was new. */
    addPairs,

    async removeMembers(groupId: string, memberIds: string[]): Promise<number> {
      if (!memberIds.length) return 0;
      const result = await memberships.deleteMany({ _id: { $in: memberIds.map((m) => membershipId(groupId, m)) } });
      return result.deletedCount;
    },

    async removeAllMembers(groupId: string): Promise<number> {
      return (await memberships.deleteMany({ groupId })).deletedCount;
    },

    members(groupId: string): Promise<Membership[]> {
      return memberships.find({ groupId }).sort({ _id: 1 }).toArray();
    },

    async memberIdsMatching(groupId: string, memberIds: string[]): Promise<string[]> {
      const found = await memberships
        .find({ _id: { $in: memberIds.map((m) => membershipId(groupId, m)) } }, { projection: { memberId: 1 } })
        .toArray();
      return found.map((m) => m.memberId);
    },

    /** Groups that have any of these members directly. */
    async groupIdsOf(memberIds: string[]): Promise<Membership[]> {
      if (!memberIds.length) return [];
      return memberships.find({ memberId: { $in: memberIds } }).toArray();
    },

    async groupIdsWithMembers(memberIds: string[]): Promise<string[]> {
      return memberships.distinct('groupId', { memberId: { $in: memberIds } });
    },

    async memberIdsOf(groupIds: string[]): Promise<string[]> {
      return memberships.distinct('memberId', { groupId: { $in: groupIds } });
    },

    async removeMemberEverywhere(memberId: string): Promise<string[]> {
      const groupIds = await memberships.distinct('groupId', { memberId });
      await memberships.deleteMany({ memberId });
      return groupIds;
    },
    /** A group's memberships in member order, a batch at a time (a large group is never all in memory). */
    async *batchesOf(groupId: string, size: number): AsyncGenerator<Membership[]> {
      let batch: Membership[] = [];
      for await (const m of memberships.find({ groupId }).sort({ _id: 1 }).batchSize(size)) {
        batch.push(m);
        if (batch.length === size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },

    /** Removes a deleted group: its own members and its places in other groups. */
    async removeGroup(groupId: string): Promise<void> {
      await memberships.deleteMany({ groupId });
      await memberships.deleteMany({ memberId: groupId });
    },

    countOfGroup(groupId: string): Promise<number> {
      return countMatching(memberships, groupRange(groupId) ?? { groupId });
    },

    async has(groupId: string, memberId: string): Promise<boolean> {
      return (await memberships.findOne({ _id: membershipId(groupId, memberId) }, { projection: { _id: 1 } })) !== null;
    },

    /** Users that are in any group (the `groups pr` filter). */
    userIdsInAnyGroup(): Promise<string[]> {
      return memberships.distinct('memberId', { type: 'User' });
    },

    /** Groups that have any member (the `members pr` filter). */
    groupIdsWithAnyMember(): Promise<string[]> {
      return memberships.distinct('groupId');
    },

    /** The direct group memberships of these users. */
    ofUsers(userIds: string[]): Promise<Pick<Membership, 'groupId' | 'memberId'>[]> {
      return memberships
        .find({ memberId: { $in: userIds }, type: 'User' }, { projection: { groupId: 1, memberId: 1 } })
        .toArray();
    },

    /** The largest number of groups any user is directly in: one pass over memberships by member. */
    async maxGroupsPerUser(): Promise<number> {
      let max = 0;
      let current: string | undefined;
      let count = 0;
      const cursor = memberships
        .find({ type: 'User' }, { projection: { _id: 0, memberId: 1 } })
        .sort({ memberId: 1 })
        .batchSize(5000);
      for await (const m of cursor) {
        if (m.memberId !== current) {
          current = m.memberId;
          count = 0;
        }
        count++;
        if (count > max) max = count;
      }
      return max;
    },
  };
}
