import { insertUnordered, isDuplicateKeyError } from '../db/mongo.js';
import { type Collection, type Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';

export interface StoredGroup {
  _id: string;
  displayName: string;
  externalId?: string;
  norm: { displayName: string };
  meta: { created: Date; lastModified: Date; version: number };
}

/** One document per (group, member) pair, so a membership change touches one small document. */
export interface Membership {
  _id: string;
  groupId: string;
  memberId: string;
  type: 'User' | 'Group';
}

export const GROUP_INDEXES: IndexSpec[] = [
  { collection: 'groups', key: { 'norm.displayName': 1 }, options: { unique: true, name: 'displayName_unique' } },
  { collection: 'groups', key: { 'meta.created': 1, _id: 1 }, options: { name: 'created_id' } },
  { collection: 'groups', key: { externalId: 1 }, options: { name: 'externalId' } },
  { collection: 'memberships', key: { groupId: 1, memberId: 1 }, options: { name: 'group_member' } },
  { collection: 'memberships', key: { memberId: 1 }, options: { name: 'member' } },
];

export const membershipId = (groupId: string, memberId: string) => `${groupId}:${memberId}`;

export class DuplicateGroupError extends Error {}

export type GroupRepository = ReturnType<typeof createGroupRepository>;

export function createGroupRepository(db: Db) {
  const groups: Collection<StoredGroup> = db.collection<StoredGroup>('groups');
  const memberships: Collection<Membership> = db.collection<Membership>('memberships');

  return {
    collection: groups,
    memberships,

    async insert(group: StoredGroup): Promise<void> {
      try {
        await groups.insertOne(group);
      } catch (err) {
        if (isDuplicateKeyError(err)) throw new DuplicateGroupError(group.displayName);
        throw err;
      }
    },

    findById(id: string): Promise<StoredGroup | null> {
      return groups.findOne({ _id: id });
    },

    findByIds(ids: string[]): Promise<StoredGroup[]> {
      return ids.length ? groups.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
    },

    findByDisplayNames(names: string[]): Promise<StoredGroup[]> {
      return names.length ? groups.find({ 'norm.displayName': { $in: names } }).toArray() : Promise.resolve([]);
    },

    /** Writes the group's own fields if its version is unchanged (one conditional write); false when someone else wrote first. */
    async replace(before: StoredGroup, after: StoredGroup): Promise<boolean> {
      try {
        const result = await groups.replaceOne({ _id: before._id, 'meta.version': before.meta.version }, after);
        return result.matchedCount === 1;
      } catch (err) {
        if (isDuplicateKeyError(err)) throw new DuplicateGroupError(after.displayName);
        throw err;
      }
    },

    /** Bumps version and lastModified after a membership change (one document, constant time). */
    touch(id: string, now: Date): Promise<StoredGroup | null> {
      return groups.findOneAndUpdate(
        { _id: id },
        { $set: { 'meta.lastModified': now }, $inc: { 'meta.version': 1 } },
        { returnDocument: 'after' },
      );
    },

    async delete(id: string): Promise<boolean> {
      const result = await groups.deleteOne({ _id: id });
      await memberships.deleteMany({ groupId: id });
      await memberships.deleteMany({ memberId: id });
      return result.deletedCount === 1;
    },

    /** Idempotent: adding an existing member changes nothing. Returns how many were new. */
    async addMembers(groupId: string, members: { id: string; type: 'User' | 'Group' }[]): Promise<number> {
      // One unordered insert: each pair is its own document under a unique _id, duplicates ignored.
      const docs = members.map((m) => ({ _id: membershipId(groupId, m.id), groupId, memberId: m.id, type: m.type }));
      return docs.length - (await insertUnordered(memberships, docs)).length;
    },

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
  };
}
