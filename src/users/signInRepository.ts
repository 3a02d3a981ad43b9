import type { Collection } from 'mongodb';
import type { StoredUser } from './mapping.js';

/**
 * Sign-in counters and locks on the user document, each one atomic conditional write (no read
 * first), so concurrent sign-ins need no lock. Part of the user repository (repository.ts).
 */
export function createSignInRecords(users: Collection<StoredUser>) {
  return {
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
  };
}
