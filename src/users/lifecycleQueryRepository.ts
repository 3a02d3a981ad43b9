import type { Collection, Filter } from 'mongodb';
import { countMatching } from '../db/mongo.js';
import type { StoredUser } from './mapping.js';

export interface LifecycleCounts {
  STAGED: number;
  ACTIVE: number;
  SUSPENDED: number;
  locked: number;
  activationPending: number;
}

/**
 * Queries over users' lifecycle fields: who is due a reminder, how many are in each state. Part of
 * the user repository (repository.ts); served by its `lifecycle.*` indexes.
 */
export function createLifecycleQueries(users: Collection<StoredUser>) {
  return {
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
