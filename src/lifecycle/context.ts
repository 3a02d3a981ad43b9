import type { Config } from '../config/index.js';
import type { NewEvent } from '../events/types.js';
import type { Jobs } from '../jobs/index.js';
import type { StoredUser } from '../users/mapping.js';
import type { UserRepository } from '../users/repository.js';
import type { UserService } from '../users/service.js';
import type { LinkTokens } from './store.js';

/** The user service's versioned change, all the lifecycle writes through it. */
export type UserChanges = Pick<UserService, 'modify'>;

/**
 * What the lifecycle reads and notes of users outside a versioned change (sign-in counters and
 * locks, last login, schedules' and reminders' marks): the user repository, handed in by compose.ts.
 */
export type UserRecords = Pick<
  UserRepository,
  'findById' | 'findByUserName' | 'setFields' | 'takeLoginAttempt' | 'lock' | 'unlockExpired' | 'reminderCandidates'
>;

/** What the lifecycle's parts (credentials, emails, states and schedules) share. */
export interface LifecycleContext {
  config: Config;
  /** Changes of users (versioned, with their events and effects). */
  users: UserChanges;
  /** Reads and bookkeeping that are no change of the user. */
  records: UserRecords;
  jobs: Jobs;
  linkTokens: LinkTokens;
  recordEvent(event: NewEvent): Promise<void>;
  now: () => Date;
  /** The user, or 404 in the admin shape. */
  loadUser(id: string): Promise<StoredUser>;
}
