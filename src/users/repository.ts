import { type Collection, type Db, type Filter } from 'mongodb';
import { countMatching, insertUnordered, isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import type { StoredUser } from './mapping.js';
import { uniqueEmails } from './mapping.js';

/**
 * One document per claimed address: the directory-wide uniqueness space of company and alternate
 * emails ("email claims" everywhere; the outbox's send claims are `outbox_claims`).
 */
export const EMAIL_CLAIMS_COLLECTION = 'email_claims';

interface EmailClaim {
  _id: string;
  userId: string;
  at?: Date;
}

export const USER_INDEXES: IndexSpec[] = [
  { collection: 'users', key: { 'norm.userName': 1 }, options: { unique: true, name: 'userName_unique' } },
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

export interface LifecycleCounts {
  STAGED: number;
  ACTIVE: number;
  SUSPENDED: number;
  locked: number;
  activationPending: number;
}

export class DuplicateError extends Error {
  constructor(
    readonly field: 'userName' | 'email',
    readonly value: string,
  ) {
    super(`${field} ${value} is already taken`);
  }
}

export class VersionConflictError extends Error {}

/**
 * A claim younger than this may belong to a write in flight (its user not inserted yet), so it is
 * never taken over; an older one whose user does not hold the address is stale (a crash, or an
 * outage between the steps) and is.
 */
const CLAIM_GRACE_MS = 5_000;

export type UserRepository = ReturnType<typeof createUserRepository>;

/**
 * Queries for users. No multi-document transactions: claims are written before the user and
 * released after it, and a claim whose user no longer holds the address is stale and is taken over,
 * so a crash between the steps never blocks an address for good.
 */
export function createUserRepository(db: Db) {
  const users: Collection<StoredUser> = db.collection<StoredUser>('users');
  const emailClaims: Collection<EmailClaim> = db.collection<EmailClaim>(EMAIL_CLAIMS_COLLECTION);

  async function claim(userId: string, email: string): Promise<void> {
    try {
      await emailClaims.insertOne({ _id: email, userId, at: new Date() });
      return;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const holder = await emailClaims.findOne({ _id: email });
    if (!holder || holder.userId === userId) return;
    const ownerHolds = await holds(holder.userId, email);
    const young = holder.at !== undefined && Date.now() - holder.at.getTime() < CLAIM_GRACE_MS;
    if (ownerHolds || young) throw new DuplicateError('email', email);
    // Stale claim left by a crash or an interrupted write: take it over if nobody else did meanwhile.
    const taken = await emailClaims.updateOne(
      { _id: email, userId: holder.userId },
      { $set: { userId, at: new Date() } },
    );
    if (taken.modifiedCount !== 1) throw new DuplicateError('email', email);
  }

  /** Whether the user exists and has this address as company or alternate email (a claim is not stale). */
  async function holds(userId: string, email: string): Promise<boolean> {
    const owner = await users.findOne({ _id: userId }, { projection: { norm: 1 } });
    return Boolean(owner && [owner.norm.companyEmail, owner.norm.alternateEmail].includes(email));
  }

  async function claimAll(userId: string, emails: string[]): Promise<void> {
    const done: string[] = [];
    try {
      for (const email of emails) {
        await claim(userId, email);
        done.push(email);
      }
    } catch (err) {
      await release(userId, done);
      throw err;
    }
  }

  async function release(userId: string, emails: string[]): Promise<void> {
    if (emails.length) await emailClaims.deleteMany({ _id: { $in: emails }, userId });
  }

  return {
    collection: users,

    async insert(user: StoredUser): Promise<void> {
      const emails = uniqueEmails(user);
      const claimedAt = Date.now();
      await claimAll(user._id, emails);
      try {
        await users.insertOne(user);
      } catch (err) {
        await release(user._id, emails);
        if (isDuplicateKeyError(err)) throw new DuplicateError('userName', user.userName);
        throw err;
      }
      // Claims younger than CLAIM_GRACE_MS are never taken over. Only when this write took longer
      // could a concurrent writer have taken one (thinking it stale): claim again now that the user
      // exists; whoever finds the address held by another existing user backs out.
      if (Date.now() - claimedAt < CLAIM_GRACE_MS / 2) return;
      try {
        for (const email of emails) await claim(user._id, email);
      } catch (err) {
        await users.deleteOne({ _id: user._id });
        await release(user._id, emails);
        throw err;
      }
    },

    /**
     * Inserts many users in a few writes (one for the claims, one for the users), with the same
     * uniqueness guarantees as insert(). Returns, per user, undefined or the error that refused it.
     */
    async insertMany(batch: StoredUser[]): Promise<(DuplicateError | undefined)[]> {
      const results: (DuplicateError | undefined)[] = batch.map(() => undefined);
      const wanted = batch.map((user) =>
        uniqueEmails(user).map((email) => ({ _id: email, userId: user._id, at: new Date() })),
      );
      const flat = wanted.flatMap((list, i) => list.map((claimDoc) => ({ claimDoc, i })));
      const failedClaims = await insertUnordered(
        emailClaims,
        flat.map((f) => f.claimDoc),
      );
      // A refused claim may be stale: the one-by-one path decides (and takes stale claims over).
      for (const index of failedClaims) {
        const { claimDoc, i } = flat[index];
        if (results[i]) continue;
        try {
          await claim(claimDoc.userId, claimDoc._id);
        } catch (err) {
          if (!(err instanceof DuplicateError)) throw err;
          results[i] = err;
        }
      }
      const failedUsers = new Set<number>(batch.map((_, i) => i).filter((i) => results[i]));
      for (const i of failedUsers) await release(batch[i]._id, uniqueEmails(batch[i]));
      const candidates = batch.map((user, i) => ({ user, i })).filter(({ i }) => !failedUsers.has(i));
      const refused = await insertUnordered(
        users,
        candidates.map((c) => c.user),
      );
      for (const index of refused) {
        const { user, i } = candidates[index];
        results[i] = new DuplicateError('userName', user.userName);
        await release(user._id, uniqueEmails(user));
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
      for (const email of uniqueEmails(user).filter((e) => !old.includes(e))) {
        const holder = await emailClaims.findOne({ _id: email });
        if (holder && holder.userId !== user._id && (await holds(holder.userId, email))) {
          return new DuplicateError('email', email);
        }
      }
      return undefined;
    },

    findById(id: string): Promise<StoredUser | null> {
      return users.findOne({ _id: id });
    },

    findByIds(ids: string[], projection?: Record<string, 0 | 1>): Promise<StoredUser[]> {
      return users.find({ _id: { $in: ids } }, projection ? { projection } : {}).toArray();
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

    findByUserName(userName: string): Promise<StoredUser | null> {
      return users.findOne({ 'norm.userName': userName });
    },

    findByUserNames(userNames: string[]): Promise<StoredUser[]> {
      return users.find({ 'norm.userName': { $in: userNames } }).toArray();
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
      await claimAll(after._id, added);
      let result;
      try {
        result = await users.replaceOne({ _id: before._id, 'meta.version': before.meta.version }, after);
      } catch (err) {
        await release(after._id, added);
        if (isDuplicateKeyError(err)) throw new DuplicateError('userName', after.userName);
        throw err;
      }
      if (result.matchedCount !== 1) {
        await release(after._id, added);
        throw new VersionConflictError(`user ${before._id} changed concurrently`);
      }
      await release(after._id, removed);
    },

    async delete(user: StoredUser): Promise<boolean> {
      const result = await users.deleteOne({ _id: user._id });
      await emailClaims.deleteMany({ userId: user._id });
      return result.deletedCount === 1;
    },

    /** ACTIVE users without a login (or, never logged in, activated) since `cutoff`, not reminded since then. */
    reminderCandidates(cutoff: Date, limit = 10_000): Promise<StoredUser[]> {
      return users
        .find({
          'lifecycle.state': 'ACTIVE',
          $and: [
            {
              $or: [
                { 'lifecycle.lastLogin': { $lt: cutoff } },
                { 'lifecycle.lastLogin': { $exists: false }, 'lifecycle.activatedAt': { $lt: cutoff } },
              ],
            },
            { $or: [{ 'secret.lastReminderAt': { $exists: false } }, { 'secret.lastReminderAt': { $lt: cutoff } }] },
          ],
        } as Filter<StoredUser>)
        .limit(limit)
        .toArray();
    },

    /**
     * Takes one sign-in attempt before the password is checked: counts it if the user is not locked
     * and has attempts left, in one atomic write. Returns the attempt's number, or undefined when none
     * is left (so a burst of parallel guesses gets exactly the allowed number evaluated).
     */
    async takeLoginAttempt(id: string, maxAttempts: number): Promise<number | undefined> {
      const user = await users.findOneAndUpdate(
        { _id: id, 'lifecycle.locked': { $ne: true }, 'secret.failedLogins': { $not: { $gte: maxAttempts } } },
        { $inc: { 'secret.failedLogins': 1 } } as never,
        { returnDocument: 'after', projection: { 'secret.failedLogins': 1 } },
      );
      return user ? (user.secret?.failedLogins ?? 1) : undefined;
    },

    /** Locks the user (idempotent, never a conflict); true for the one write that locked it. */
    async lock(id: string, at: Date): Promise<boolean> {
      const result = await users.updateOne({ _id: id, 'lifecycle.locked': { $ne: true } }, {
        $set: { 'lifecycle.locked': true, 'secret.lockedAt': at, 'meta.lastModified': at },
        $inc: { 'meta.version': 1 },
      } as never);
      return result.modifiedCount === 1;
    },

    /** Ends a lock set by failed sign-ins at or before `lockedBefore`; true for the one write that did. */
    async unlockExpired(id: string, lockedBefore: Date, at: Date): Promise<boolean> {
      const result = await users.updateOne(
        { _id: id, 'lifecycle.locked': true, 'secret.lockedAt': { $lte: lockedBefore } },
        {
          $set: { 'lifecycle.locked': false, 'secret.failedLogins': 0, 'meta.lastModified': at },
          $unset: { 'secret.lockedAt': '' },
          $inc: { 'meta.version': 1 },
        } as never,
      );
      return result.modifiedCount === 1;
    },

    async setFields(id: string, set: Record<string, unknown>, unset: string[] = []): Promise<void> {
      await users.updateOne({ _id: id }, {
        ...(Object.keys(set).length ? { $set: set } : {}),
        ...(unset.length ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
      } as never);
    },

    /** How many users are in each state, locked, and ACTIVE still waiting to set a first password. */
    async lifecycleCounts(): Promise<LifecycleCounts> {
      const [STAGED, ACTIVE, SUSPENDED, locked, activationPending] = await Promise.all([
        countMatching(users, { 'lifecycle.state': 'STAGED' }),
        countMatching(users, { 'lifecycle.state': 'ACTIVE' }),
        countMatching(users, { 'lifecycle.state': 'SUSPENDED' }),
        countMatching(users, { 'lifecycle.locked': true }),
        countMatching(users, { 'lifecycle.state': 'ACTIVE', 'lifecycle.passwordStatus': 'PENDING' }),
      ]);
      return { STAGED, ACTIVE, SUSPENDED, locked, activationPending };
    },
  };
}
