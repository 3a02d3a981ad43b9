import { type Collection, type Db } from 'mongodb';
import { createPagePositions, listResources, type ListQuery } from '../db/listing.js';
import { insertUnordered, isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import { CLAIM_GRACE_MS, createEmailClaims, EMAIL_CLAIMS_COLLECTION } from './emailClaimRepository.js';
import { DuplicateError, VersionConflictError } from './errors.js';
import { createLifecycleQueries } from './lifecycleQueryRepository.js';
import type { StoredUser } from './mapping.js';
import { uniqueEmails } from './mapping.js';
import { createSignInRecords } from './signInRepository.js';

export { DuplicateError, VersionConflictError } from './errors.js';
export { EMAIL_CLAIMS_COLLECTION } from './emailClaimRepository.js';
export type { LifecycleCounts } from './lifecycleQueryRepository.js';

export const USER_INDEXES: IndexSpec[] = [
  // userName is unique within a directory through its directory key (src/db/directoryScope.ts DIRECTORY_KEYS).
  { collection: 'users', key: { 'dkey.userName': 1 }, options: { unique: true, name: 'userName_key_unique' } },
  { collection: 'users', key: { 'norm.userName': 1 }, options: { name: 'userName' } },
  { collection: 'users', key: { 'meta.created': 1, _id: 1 }, options: { name: 'created_id' } },
  { collection: 'users', key: { 'norm.emails': 1 }, options: { name: 'emails' } },
  { collection: 'users', key: { externalId: 1 }, options: { name: 'externalId' } },
  { collection: 'users', key: { 'meta.lastModified': 1 }, options: { name: 'lastModified' } },
  // Also serves filters on the state alone (its first key).
  {
    collection: 'users',
    key: { 'lifecycle.state': 1, 'lifecycle.passwordStatus': 1 },
    options: { name: 'state_passwordStatus' },
  },
  { collection: 'users', key: { 'lifecycle.locked': 1 }, options: { name: 'locked' } },
  { collection: EMAIL_CLAIMS_COLLECTION, key: { userId: 1 }, options: { name: 'userId' } },
];

export type UserRepository = ReturnType<typeof createUserRepository>;

/**
 * Queries for users, with their email claims (emailClaimRepository.ts: written before the user,
 * released after it), sign-in counters and locks (signInRepository.ts) and lifecycle queries
 * (lifecycleQueryRepository.ts). The collection stays here: callers get operations.
 */
export function createUserRepository(db: Db) {
  const users: Collection<StoredUser> = db.collection<StoredUser>('users');
  const claims = createEmailClaims(db, async (userId, email) => {
    const owner = await users.findOne({ _id: userId }, { projection: { norm: 1 } });
    return Boolean(owner && [owner.norm.companyEmail, owner.norm.alternateEmail].includes(email));
  });

  return {
    ...readsOf(users),
    ...createSignInRecords(users),
    ...createLifecycleQueries(users),

    async insert(user: StoredUser): Promise<void> {
      const emails = uniqueEmails(user);
      const claimedAt = Date.now();
      await claims.claimAll(user._id, emails);
      try {
        await users.insertOne(user);
      } catch (err) {
        await claims.release(user._id, emails);
        if (isDuplicateKeyError(err)) throw new DuplicateError('userName', user.userName);
        throw err;
      }
      // Claims younger than CLAIM_GRACE_MS are never taken over. Only when this write took longer
      // could a concurrent writer have taken one (thinking it stale): claim again now that the user
      // exists; whoever finds the address held by another existing user backs out.
      if (Date.now() - claimedAt < CLAIM_GRACE_MS / 2) return;
      try {
        for (const email of emails) await claims.claim(user._id, email);
      } catch (err) {
        await users.deleteOne({ _id: user._id });
        await claims.release(user._id, emails);
        throw err;
      }
    },

    /**
     * Inserts many users in a few writes (one for the claims, one for the users), with the same
     * uniqueness guarantees as insert(). Returns, per user, undefined or the error that refused it.
     */
    async insertMany(batch: StoredUser[]): Promise<(DuplicateError | undefined)[]> {
      const results = await claims.claimMany(batch);
      const candidates = batch.map((user, i) => ({ user, i })).filter(({ i }) => !results[i]);
      const refused = await insertUnordered(
        users,
        candidates.map((c) => c.user),
      );
      for (const index of refused) {
        const { user, i } = candidates[index];
        results[i] = new DuplicateError('userName', user.userName);
        await claims.release(user._id, uniqueEmails(user));
      }
      return results;
    },

    /**
     * What insert() (no `before`) or replace() would refuse, read without writing: another user's
     * userName, or an address another user holds. For dry runs; the writes check for themselves.
     */
    async findDuplicate(user: StoredUser, before?: StoredUser): Promise<DuplicateError | undefined> {
      if (!before || before.norm.userName !== user.norm.userName) {
        const other = await users.findOne({ 'norm.userName': user.norm.userName }, { projection: { _id: 1 } });
        if (other && other._id !== user._id) return new DuplicateError('userName', user.userName);
      }
      const old = before ? uniqueEmails(before) : [];
      const held = await claims.heldByOther(
        user._id,
        uniqueEmails(user).filter((e) => !old.includes(e)),
      );
      return held === undefined ? undefined : new DuplicateError('email', held);
    },

    /**
     * Replaces the whole document if its version is still `before.meta.version` (else
     * VersionConflictError): one conditional write, atomic on MongoDB and on FerretDB v2.
     */
    async replace(before: StoredUser, after: StoredUser): Promise<void> {
      const oldEmails = uniqueEmails(before);
      const newEmails = uniqueEmails(after);
      const added = newEmails.filter((e) => !oldEmails.includes(e));
      const removed = oldEmails.filter((e) => !newEmails.includes(e));
      await claims.claimAll(after._id, added);
      let result;
      try {
        result = await users.replaceOne({ _id: before._id, 'meta.version': before.meta.version }, after);
      } catch (err) {
        await claims.release(after._id, added);
        if (isDuplicateKeyError(err)) throw new DuplicateError('userName', after.userName);
        throw err;
      }
      if (result.matchedCount !== 1) {
        await claims.release(after._id, added);
        throw new VersionConflictError(`user ${before._id} changed concurrently`);
      }
      await claims.release(after._id, removed);
    },

    async delete(user: StoredUser): Promise<boolean> {
      const result = await users.deleteOne({ _id: user._id });
      await claims.releaseAll(user._id);
      return result.deletedCount === 1;
    },

    /** Bookkeeping that is no change of the user (no version bump): last login, reminder and schedule marks. */
    async setFields(id: string, set: Record<string, unknown>, unset: string[] = []): Promise<void> {
      await users.updateOne({ _id: id }, {
        ...(Object.keys(set).length ? { $set: set } : {}),
        ...(unset.length ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
      } as never);
    },
  };
}

/** The user repository's reads. */
function readsOf(users: Collection<StoredUser>) {
  const positions = createPagePositions();
  return {
    /** A SCIM list of users (GET /Users, /.search): the listing over this collection, paged by index. */
    list(query: ListQuery<StoredUser>) {
      return listResources({ ...query, collection: users, positions });
    },

    findById(id: string): Promise<StoredUser | null> {
      return users.findOne({ _id: id });
    },

    findByIds(ids: string[], projection?: Record<string, 0 | 1>): Promise<StoredUser[]> {
      if (!ids.length) return Promise.resolve([]);
      return users.find({ _id: { $in: ids } }, projection ? { projection } : {}).toArray();
    },

    findByUserName(userName: string): Promise<StoredUser | null> {
      return users.findOne({ 'norm.userName': userName });
    },

    findByUserNames(userNames: string[]): Promise<StoredUser[]> {
      if (!userNames.length) return Promise.resolve([]);
      return users.find({ 'norm.userName': { $in: userNames } }).toArray();
    },

    /** Every user in creation order, without password data, read a batch at a time (exports). */
    streamAll(batchSize: number): AsyncIterable<StoredUser> {
      return users
        .find({}, { projection: { secret: 0 } })
        .sort({ 'meta.created': 1, _id: 1 })
        .batchSize(batchSize);
    },

    /** Answers once the database does: the first query of a stream, run before its answer starts. */
    async ping(): Promise<void> {
      await users.findOne({}, { projection: { _id: 1 } });
    },
  };
}
