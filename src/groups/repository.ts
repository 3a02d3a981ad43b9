import { type Collection, type Db } from 'mongodb';
import { createPagePositions, listResources, type ListQuery } from '../db/listing.js';
import { isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import type { StoredGroup } from './mapping.js';

export const GROUP_INDEXES: IndexSpec[] = [
  // displayName is unique within a directory through its directory key (src/db/directoryScope.ts DIRECTORY_KEYS).
  { collection: 'groups', key: { 'dkey.displayName': 1 }, options: { unique: true, name: 'displayName_key_unique' } },
  { collection: 'groups', key: { 'norm.displayName': 1 }, options: { name: 'displayName' } },
  { collection: 'groups', key: { 'meta.created': 1, _id: 1 }, options: { name: 'created_id' } },
  { collection: 'groups', key: { externalId: 1 }, options: { name: 'externalId' } },
];

export class DuplicateGroupError extends Error {}

export type GroupRepository = ReturnType<typeof createGroupRepository>;

export function createGroupRepository(db: Db) {
  const groups: Collection<StoredGroup> = db.collection<StoredGroup>('groups');
  const positions = createPagePositions();

  return {
    /** A SCIM list of groups (GET /Groups, /.search): the listing over this collection, paged by index. */
    list(query: ListQuery<StoredGroup>) {
      return listResources({ ...query, collection: groups, positions });
    },

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

    /** The group's version, undefined when there is no such group. */
    async version(id: string): Promise<number | undefined> {
      return (await groups.findOne({ _id: id }, { projection: { 'meta.version': 1 } }))?.meta.version;
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

    /** The group document only; its memberships go through the membership repository. */
    async delete(id: string): Promise<boolean> {
      return (await groups.deleteOne({ _id: id })).deletedCount === 1;
    },
  };
}
