/** What callers of the user service hand in: the write's context, the lifecycle's hooks, the password rules. */
import type { Actor } from '../events/types.js';
import type { GroupRef, StoredUser, UserSource } from './mapping.js';

export interface WriteContext {
  actor: Actor;
  /** The token's source category: decides the default state of new users. */
  source: UserSource;
  /** false: no email for this write's transition (CSV import, admin choice). */
  sendEmail?: boolean;
  /** Where this write's email goes ("company", "alternate" or an address); used once, never stored. */
  destination?: string;
  ifMatch?: string;
  /**
   * Judge the write as it would be made (validation, lifecycle rules, password policy, uniqueness)
   * and write nothing: no document, event, email or schedule. The CSV import's dry run.
   */
  dryRun?: boolean;
  /** A replace that would change nothing (see changesBetween) writes nothing, not even a new version. */
  skipUnchanged?: boolean;
}

/**
 * What follows each user write (emails, schedules, state events): lifecycle/effectsService.ts, built
 * before the user service and handed to it at construction (docs/ARCHITECTURE.md "Composition").
 */
export interface UserEffects {
  afterCreate(user: StoredUser, ctx: WriteContext): Promise<void>;
  afterUpdate(before: StoredUser, after: StoredUser, ctx: WriteContext): Promise<void>;
  afterDelete(user: StoredUser, ctx: WriteContext): Promise<void>;
}

/**
 * What the users need of the groups (src/groups/groupsOfUsers.ts; the groups sit above the users, so
 * compose/users.ts passes it in).
 */
export interface GroupsOfUsers {
  /**
   * Users' groups as SCIM shows them (`groups`): direct and indirect, with display names; for many
   * users at once in one query per nesting level.
   */
  groupsOfMany(userIds: string[]): Promise<Map<string, GroupRef[]>>;
  groupsOf(userId: string): Promise<GroupRef[]>;
  /** The direct members of a group (a `groups.value eq` filter). */
  memberIdsOf(groupId: string): Promise<string[]>;
  /** Every user in some group (`groups pr`). */
  userIdsInAnyGroup(): Promise<string[]>;
  /** A deleted user out of every group; each group it left is touched (lastModified and version). */
  removeFromAll(userId: string): Promise<void>;
}

export interface PasswordRules {
  hash(password: string): Promise<string>;
  /** Whether the password is the one the stored hash was made from. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
  /** A human message when the password breaks the policy. */
  check(password: string, user: { userName: string; emails: string[] }): string | undefined;
}
