import type { Config } from '../config/index.js';
import { NotFoundError } from '../errors.js';
import type { Env } from '../events/env.js';
import type { NewEvent } from '../events/types.js';
import type { Jobs } from '../jobs/index.js';
import type { StoredUser } from '../users/mapping.js';
import type { UserRepository } from '../users/repository.js';
import type { UserService } from '../users/service.js';
import type { LinkTokens, Schedules } from './store.js';

/** The user service's versioned change, all the lifecycle writes through it. */
export type UserChanges = Pick<UserService, 'modify'>;

/**
 * What the lifecycle reads and notes of users outside a versioned change (sign-in counters and
 * locks, last login, schedules' and reminders' marks): the user repository, handed in by compose/users.ts.
 */
export type UserRecords = Pick<
  UserRepository,
  'findById' | 'findByUserName' | 'setFields' | 'takeLoginAttempt' | 'lock' | 'unlockExpired' | 'reminderCandidates'
>;

/**
 * What the lifecycle's parts below the user service share (its effects on user writes, emails,
 * schedules kept in step): everything but the user service, so they are built before it.
 */
export interface LifecycleBase {
  config: Config;
  /** Reads and bookkeeping that are no change of the user. */
  records: UserRecords;
  jobs: Jobs;
  linkTokens: LinkTokens;
  recordEvent(event: NewEvent): Promise<void>;
  now: () => Date;
  /** The user, or 404 in the admin shape. */
  loadUser(id: string): Promise<StoredUser>;
}

/** What the lifecycle's parts above the user service (credentials, state changes) share. */
export interface LifecycleContext extends LifecycleBase {
  /** Changes of users (versioned, with their events and effects). */
  users: UserChanges;
}

/** What the composition hands the lifecycle's parts below the user service (its effects). */
export interface LifecycleParts {
  env: Env;
  records: UserRecords;
  jobs: Jobs;
  linkTokens: LinkTokens;
  schedules: Schedules;
}

/** The shared context of the lifecycle's parts, from what the composition hands in. */
export function lifecycleBase(parts: LifecycleParts): LifecycleBase & { schedules: Schedules } {
  const { env, records, jobs, linkTokens, schedules } = parts;
  async function loadUser(id: string): Promise<StoredUser> {
    const user = await records.findById(id);
    if (!user) throw new NotFoundError(`User ${id} not found`, { code: 'not_found' });
    return user;
  }
  return {
    config: env.config,
    records,
    jobs,
    linkTokens,
    schedules,
    recordEvent: env.recordEvent,
    now: env.now,
    loadUser,
  };
}
