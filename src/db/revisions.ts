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
/** Longer than any single write takes, so only an abandoned claim is ever taken over. */
const STALE_CLAIM_MS = 60_000;

export function createRevisions(db: Db) {
  const revisions = db.collection<Revision>('revisions');
  /** True when this writer owns `version` of `key`; false when another writer got there first. */
  async function claim(key: string, version: number): Promise<boolean> {
    const _id = `${key}:${version}`;
    try {
      await revisions.insertOne({ _id, at: new Date() });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // A claim whose writer died between claim and write would block the resource for good.
      const stale = await revisions.deleteOne({ _id, at: { $lt: new Date(Date.now() - STALE_CLAIM_MS) } });
      if (stale.deletedCount !== 1) return false;
      return claim(key, version);
    }
    if (version > 2) await revisions.deleteOne({ _id: `${key}:${version - 2}` });
    return true;
  }
  return {
    claim,
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
