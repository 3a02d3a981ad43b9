import { type Collection, type Db, type Filter } from 'mongodb';
import { createPagePositions, listResources, type ListQuery } from '../db/listing.js';
import { countMatching, insertUnordered, type IndexSpec } from '../db/mongo.js';
import type { Membership } from './mapping.js';
import { createMemberLookups } from './memberLookupRepository.js';

export type { Membership } from './mapping.js';

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
  const positions = createPagePositions();

  async function addPairs(pairs: Omit<Membership, '_id'>[]): Promise<boolean[]> {
    // One unordered insert: each pair is its own document under a unique _id, duplicates ignored.
    const docs = pairs.map((p) => ({ _id: membershipId(p.groupId, p.memberId), ...p }));
    const refused = new Set(await insertUnordered(memberships, docs));
    return docs.map((_, i) => !refused.has(i));
  }

  return {
    ...createMemberLookups(memberships),

    /**
     * A SCIM list of memberships (GET /GroupMembers), in a stable order: the membership id (the
     * group's, then the member's). `group.value eq G` alone is read as the group's id range, in
     * order, and counted by `groupCount` (the caller's kept count of `countOfGroup`).
     */
    list(query: ListQuery<Membership>, groupCount: (groupId: string) => Promise<number>) {
      return listResources<Membership>({
        ...query,
        collection: memberships,
        defaultSortField: '_id',
        positions,
        rewrite: (filter) => {
          const groupId = Object.keys(filter).length === 1 ? filter.groupId : undefined;
          const range = typeof groupId === 'string' ? groupRange(groupId) : undefined;
          return range && { query: range, count: () => groupCount(groupId as string) };
        },
      });
    },

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
      if (!memberIds.length) return [];
      const found = await memberships
        .find({ _id: { $in: memberIds.map((m) => membershipId(groupId, m)) } }, { projection: { memberId: 1 } })
        .toArray();
      return found.map((m) => m.memberId);
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
  };
}
