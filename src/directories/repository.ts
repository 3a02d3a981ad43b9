/**
 * The directories themselves (collection `directories`): not directory data, so read without a
 * directory scope. A slug is unique among directories that are not purged.
 */
import type { Db } from 'mongodb';
import { findPage, isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import type { Directory } from './types.js';

export const DIRECTORIES_COLLECTION = 'directories';

export const DIRECTORY_INDEXES: IndexSpec[] = [
  { collection: DIRECTORIES_COLLECTION, key: { slug: 1 }, options: { unique: true, name: 'slug_unique' } },
  { collection: DIRECTORIES_COLLECTION, key: { status: 1, purgeAfter: 1 }, options: { name: 'status_purgeAfter' } },
];

export function createDirectoryRepository(db: Db) {
  const directories = db.collection<Directory>(DIRECTORIES_COLLECTION);
  return {
    /** Inserts; false when the slug is taken. */
    async insert(directory: Directory): Promise<boolean> {
      try {
        await directories.insertOne(directory);
        return true;
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
    },

    /** Inserts the default directory unless it exists (every instance at start-up, at once). */
    async ensure(directory: Directory): Promise<void> {
      await directories
        .updateOne({ _id: directory._id }, { $setOnInsert: directory }, { upsert: true })
        .catch((err) => {
          if (!isDuplicateKeyError(err)) throw err;
        });
    },

    byId: async (id: string) => (await directories.findOne({ _id: id })) ?? undefined,
    bySlug: async (slug: string) => (await directories.findOne({ slug })) ?? undefined,

    /** Every directory but the purged, by creation (an operator's list: thousands, not millions). */
    list: (limit: number) => findPage(directories, {}, limit, { sort: { createdAt: 1, _id: 1 } }),

    /** Directories not deleted, ids only (the sweeps' loop). */
    async liveIds(): Promise<string[]> {
      const docs = await directories.find({ status: { $ne: 'deleted' } }, { projection: { _id: 1 } }).toArray();
      return docs.map((d) => d._id);
    },

    /** Deleted directories whose retention has passed. */
    async duePurges(now: Date): Promise<string[]> {
      const docs = await directories
        .find({ status: 'deleted', purgeAfter: { $lte: now } }, { projection: { _id: 1 } })
        .toArray();
      return docs.map((d) => d._id);
    },

    /** A change conditional on the version read; undefined when another change came first. */
    async update(id: string, version: number, set: Partial<Directory>, unset: (keyof Directory)[] = []) {
      const doc = await directories.findOneAndUpdate(
        { _id: id, version },
        {
          $set: set,
          $inc: { version: 1 },
          ...(unset.length ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
        },
        { returnDocument: 'after' },
      );
      return doc ?? undefined;
    },

    /** Adds an instance's counts of SCIM traffic (not a change of the directory: no version). */
    async addActivity(id: string, counts: { requests: number; errors: number; lastAt: Date; lastErrorAt?: Date }) {
      await directories.updateOne(
        { _id: id },
        {
          $inc: { 'activity.scimRequests': counts.requests, 'activity.scimErrors': counts.errors },
          $max: {
            'activity.lastScimRequestAt': counts.lastAt,
            ...(counts.lastErrorAt ? { 'activity.lastScimErrorAt': counts.lastErrorAt } : {}),
          },
        },
      );
    },

    async remove(id: string): Promise<void> {
      await directories.deleteOne({ _id: id });
    },
  };
}

export type DirectoryRepository = ReturnType<typeof createDirectoryRepository>;
