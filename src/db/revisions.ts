import { escapeRegex } from '../scim/filter.js';
import { isDuplicateKeyError } from './mongo.js';
import { type Db } from 'mongodb';

interface Revision {
  _id: string;
  at: Date;
}

/**
 * Optimistic concurrency that holds on FerretDB too, where a replace filtered on the version is
 * not atomic: each writer first inserts "<resource>:<next version>" under the unique _id index, so
 * only one writer can produce a version. Claims two versions back are removed as new ones land.
 */
export function createRevisions(db: Db) {
  const revisions = db.collection<Revision>('revisions');
  return {
    /** True when this writer owns `version` of `key`; false when another writer got there first. */
    async claim(key: string, version: number): Promise<boolean> {
      try {
        await revisions.insertOne({ _id: `${key}:${version}`, at: new Date() });
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
      if (version > 2) await revisions.deleteOne({ _id: `${key}:${version - 2}` });
      return true;
    },
    async release(key: string, version: number): Promise<void> {
      await revisions.deleteOne({ _id: `${key}:${version}` });
    },
    async forget(key: string): Promise<void> {
      await revisions.deleteMany({ _id: { $regex: `^${escapeRegex(key)}:` } });
    },
  };
}

export type Revisions = ReturnType<typeof createRevisions>;

/**
 * "Only one caller ever wins" for a key (using a token, firing a schedule), by an insert under the
 * unique _id index: the one guarantee FerretDB and MongoDB share for concurrent writers.
 */
export function createOnce(db: Db) {
  const once = db.collection<Revision>('once');
  return async function claimOnce(key: string): Promise<boolean> {
    try {
      await once.insertOne({ _id: key, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  };
}
