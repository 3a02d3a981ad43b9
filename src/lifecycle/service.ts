import type { Config } from '../config/index.js';
import type { Actor, NewEvent } from '../events/types.js';
import { SYSTEM } from '../events/types.js';
import { AdminError } from '../http/errors.js';
import { EMAIL_EVENT_TYPES, type EmailKind, type Jobs } from '../jobs/index.js';
import { companyEmail, isEmailAddress, normalize } from '../scim/validate.js';
import type { StoredUser, UserState } from '../users/mapping.js';
import type { UserService, WriteContext } from '../users/service.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { canSignIn, emailOnActivation } from './rules.js';
import { scheduleJson, type LinkKind, type LinkTokens, type Schedule, type Schedules } from './store.js';

export const STATE_CHANGE_JOB = 'user-state-change';
export const REMINDER_JOB = 'no-login-reminders';

export interface LifecycleDeps {
  config: Config;
  users: UserService;
  jobs: Jobs;
  linkTokens: LinkTokens;
  schedules: Schedules;
  recordEvent(event: NewEvent): Promise<void>;
  now?: () => Date;
}

export interface EmailOptions {
  /** "company", "alternate" or an email address; used for this email only, never stored. */
  destination?: string;
}

const DAY_MS = 86_400_000;
/** A real scrypt hash of a random value: unknown users cost as much time as wrong passwords. */
let dummyHash: Promise<string> | undefined;

export function checkDestination(destination: unknown): string | undefined {
  if (destination === undefined || destination === null || destination === '') return undefined;
  if (
    typeof destination === 'string' &&
    (destination === 'company' || destination === 'alternate' || isEmailAddress(destination))
  ) {
    return destination;
  }
  throw new AdminError(400, 'invalid_destination', 'destination must be "company", "alternate" or an email address');
}

export type Lifecycle = ReturnType<typeof createLifecycle>;

/**
 * The lifecycle rules around user writes (DESIGN.md "The lifecycle extension" and "Emails"):
 * state transition events, activation/welcome emails, scheduled changes, links, logins, reminders.
 */
export function createLifecycle(deps: LifecycleDeps) {
  const { config, users, jobs, linkTokens, schedules } = deps;
  const now = deps.now ?? (() => new Date());
  // Read on each use: the configuration can be reloaded (SIGHUP).
  const activationTtlMs = () => config.activation.linkTtlDays * DAY_MS;
  const resetTtlMs = () => config.activation.resetLinkTtlHours * 3_600_000;

  const resource = (user: StoredUser) => ({ type: 'User' as const, id: user._id, username: user.userName });
  const company = (user: StoredUser) => companyEmail(user as unknown as Record<string, unknown>);

  /** The address for an email: the caller's choice, else the kind's default order. */
  function recipient(user: StoredUser, destination: string | undefined, defaults: ('alternate' | 'company')[]) {
    const pick = (d: string) =>
      d === 'company' ? company(user) : d === 'alternate' ? user.lifecycle.alternateEmail : d;
    if (destination) return { to: pick(destination), destination };
    for (const d of defaults) {
      const to = pick(d);
      if (to) return { to, destination: d };
    }
    return { to: undefined, destination: defaults[0] };
  }

  function vars(user: StoredUser) {
    const name = (user.name as { givenName?: string; familyName?: string } | undefined) ?? {};
    return {
      user_company_email: company(user) ?? '',
      first_name: name.givenName ?? '',
      last_name: name.familyName ?? '',
      username: user.userName,
    };
  }

  async function noAddress(user: StoredUser, kind: EmailKind, actor: Actor) {
    await deps.recordEvent({
      type: EMAIL_EVENT_TYPES[kind],
      resource: resource(user),
      initiatedBy: actor,
      success: false,
      details: { error: 'the user has no email address for this email' },
    });
  }

  async function sendLinkEmail(
    user: StoredUser,
    kind: 'activation' | 'password-reset',
    destination: string | undefined,
    actor: Actor,
  ) {
    const linkKind: LinkKind = kind === 'activation' ? 'activation' : 'reset';
    const target = recipient(
      user,
      destination,
      kind === 'activation' ? ['alternate', 'company'] : ['company', 'alternate'],
    );
    if (!target.to) return noAddress(user, kind, actor).then(() => undefined);
    const token = await linkTokens.issue(
      user._id,
      linkKind,
      linkKind === 'activation' ? activationTtlMs() : resetTtlMs(),
      now(),
    );
    const path = linkKind === 'activation' ? 'activate' : 'reset-password';
    await jobs.enqueueEmail({
      kind,
      to: target.to,
      userId: user._id,
      username: user.userName,
      vars: { ...vars(user), activation_link: `${config.server.publicUrl}/${path}?token=${token}` },
      initiatedBy: actor,
      details: { destination: target.destination },
    });
    return { kind, recipient: target.to };
  }

  async function sendWelcome(user: StoredUser, destination: string | undefined, actor: Actor) {
    const target = recipient(user, destination, ['company', 'alternate']);
    if (!target.to) return noAddress(user, 'welcome', actor).then(() => undefined);
    await jobs.enqueueEmail({
      kind: 'welcome',
      to: target.to,
      userId: user._id,
      username: user.userName,
      vars: vars(user),
      initiatedBy: actor,
      details: { destination: target.destination },
    });
    return { kind: 'welcome' as const, recipient: target.to };
  }

  /** The email of a transition to ACTIVE: activation link while no password exists, else welcome. */
  function emailForActivation(user: StoredUser, destination: string | undefined, actor: Actor) {
    return emailOnActivation(user.lifecycle) === 'activation'
      ? sendLinkEmail(user, 'activation', destination, actor)
      : sendWelcome(user, destination, actor);
  }

  async function stateEvents(before: UserState | undefined, user: StoredUser, ctx: WriteContext) {
    const after = user.lifecycle.state;
    if (before === after) return;
    const changes = [{ field: 'state', from: before ?? null, to: after }];
    if (after === 'ACTIVE') {
      await deps.recordEvent({ type: 'user_activated', resource: resource(user), initiatedBy: ctx.actor, changes });
      if (ctx.sendEmail !== false) await emailForActivation(user, ctx.destination, ctx.actor);
    } else if (after === 'SUSPENDED') {
      await deps.recordEvent({ type: 'user_suspended', resource: resource(user), initiatedBy: ctx.actor, changes });
    }
  }

  async function addSchedule(
    user: StoredUser,
    input: Pick<Schedule, 'state' | 'at' | 'sendEmail' | 'destination'>,
    actor: Actor,
  ) {
    const schedule = await schedules.create({ userId: user._id, ...input, createdBy: actor }, now());
    await jobs.schedule(STATE_CHANGE_JOB, input.at, { scheduleId: schedule._id });
    await deps.recordEvent({
      type: 'user_activation_schedule_create',
      resource: resource(user),
      initiatedBy: actor,
      details: { scheduleId: schedule._id, state: input.state, at: input.at.toISOString() },
    });
    return schedule;
  }

  async function removeSchedule(
    schedule: Schedule,
    user: { _id: string; userName: string },
    actor: Actor,
  ): Promise<boolean> {
    const taken = await schedules.take(schedule._id);
    if (!taken) return false;
    await jobs.cancel({ name: STATE_CHANGE_JOB, data: { scheduleId: schedule._id } });
    await deps.recordEvent({
      type: 'user_activation_schedule_delete',
      resource: { type: 'User', id: user._id, username: user.userName },
      initiatedBy: actor,
      details: { scheduleId: schedule._id, state: schedule.state, at: schedule.at.toISOString() },
    });
    return true;
  }

  /** Keeps the pending schedule of one kind in step with the SCIM attribute (null/absent cancels). */
  async function syncSchedule(user: StoredUser, state: Schedule['state'], at: Date | undefined, ctx: WriteContext) {
    const pending = await schedules.pendingFor(user._id, state);
    if (at && pending.length === 1 && pending[0].at.getTime() === at.getTime()) return;
    for (const schedule of pending) await removeSchedule(schedule, user, ctx.actor);
    if (at) await addSchedule(user, { state, at, sendEmail: ctx.sendEmail !== false }, ctx.actor);
  }

  const sameTime = (a?: Date, b?: Date) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

  /** An admin's request for a link email: ACTIVE users whose password Roster manages, with an address. */
  async function sendLinkOnRequest(
    id: string,
    what: 'activation emails' | 'password reset emails',
    options: EmailOptions,
    actor: Actor,
  ) {
    const destination = checkDestination(options.destination);
    const user = await loadUser(id);
    if (user.lifecycle.state !== 'ACTIVE') {
      throw new AdminError(409, 'not_eligible', `The user is ${user.lifecycle.state}; ${what} go to ACTIVE users only`);
    }
    if (user.lifecycle.passwordAuthority !== 'none') {
      throw new AdminError(
        409,
        'external_password',
        `Passwords of this user are managed by ${user.lifecycle.passwordAuthority}`,
      );
    }
    const kind =
      what === 'activation emails' && user.lifecycle.passwordStatus === 'PENDING' ? 'activation' : 'password-reset';
    const sent = await sendLinkEmail(user, kind, destination, actor);
    if (!sent) throw new AdminError(409, 'no_address', 'The user has no email address to send to');
    return sent;
  }

  async function loadUser(id: string): Promise<StoredUser> {
    const user = await users.find(id);
    if (!user) throw new AdminError(404, 'not_found', `User ${id} not found`);
    return user;
  }

  /** Moves a user to `state` through the ordinary user write path (events, emails, schedules follow). */
  const scheduleKey = (state: Schedule['state']) =>
    state === 'ACTIVE' ? 'scheduledActivation' : 'scheduledSuspension';

  /**
   * Moves a user to `state` through the ordinary user write path (events, emails, schedules follow).
   * A change made now supersedes a pending scheduled one of the same kind, unless it is that
   * schedule firing (which removes itself afterwards).
   */
  async function setState(
    id: string,
    state: Schedule['state'],
    ctx: WriteContext,
    firing = false,
  ): Promise<StoredUser> {
    return users.modify(id, ctx, (user) => {
      if (user.lifecycle.state === state) return false;
      user.lifecycle.state = state;
      if (!firing) delete user.lifecycle[scheduleKey(state)];
    });
  }

  /**
   * Runs a due schedule. The state change comes first and is idempotent (a second instance or a
   * retry finds the user already in the state: no second email); the schedule is removed after it,
   * so a crash in between is retried rather than lost.
   */
  async function fireSchedule(scheduleId: string) {
    const schedule = await schedules.get(scheduleId);
    if (!schedule) return; // cancelled, or already fired
    const user = await users.find(schedule.userId);
    if (user && user.lifecycle.state !== schedule.state) {
      const ctx = {
        actor: SYSTEM,
        source: user.lifecycle.source,
        sendEmail: schedule.sendEmail,
        destination: schedule.destination,
      };
      await setState(user._id, schedule.state, ctx, true);
    }
    if (!(await schedules.take(scheduleId)) || !user) return;
    await users.unset(user._id, [`lifecycle.${scheduleKey(schedule.state)}`]);
    await deps.recordEvent({
      type: 'user_activation_schedule_fired',
      resource: resource(user),
      initiatedBy: SYSTEM,
      details: { scheduleId, state: schedule.state, at: schedule.at.toISOString(), createdBy: schedule.createdBy },
    });
  }

  async function sendReminders(): Promise<number> {
    const days = config.reminders.noLoginDays;
    if (days <= 0) return 0;
    const cutoff = new Date(now().getTime() - days * DAY_MS);
    const candidates = await users.candidatesForReminder(cutoff);
    let sent = 0;
    for (const user of candidates) {
      await users.touch(user._id, { 'secret.lastReminderAt': now() });
      const pending = user.lifecycle.passwordStatus === 'PENDING' && user.lifecycle.passwordAuthority === 'none';
      const target = recipient(user, undefined, pending ? ['alternate', 'company'] : ['company', 'alternate']);
      // No address, no email: and no new link either (issuing one would void the user's current link).
      if (!target.to) continue;
      const link = pending
        ? `${config.server.publicUrl}/activate?token=${await linkTokens.issue(user._id, 'activation', activationTtlMs(), now())}`
        : '';
      await jobs.enqueueEmail({
        kind: 'reminder',
        to: target.to,
        userId: user._id,
        username: user.userName,
        vars: { ...vars(user), activation_link: link },
        initiatedBy: SYSTEM,
        details: { noLoginDays: days, activated: !pending },
      });
      sent++;
    }
    return sent;
  }

  return {
    /** Plugged into the user service: runs after every user write. */
    effects: {
      async afterCreate(user: StoredUser, ctx: WriteContext) {
        await stateEvents(undefined, user, ctx);
        if (user.lifecycle.scheduledActivation)
          await syncSchedule(user, 'ACTIVE', user.lifecycle.scheduledActivation, ctx);
        if (user.lifecycle.scheduledSuspension)
          await syncSchedule(user, 'SUSPENDED', user.lifecycle.scheduledSuspension, ctx);
      },
      async afterUpdate(before: StoredUser, after: StoredUser, ctx: WriteContext) {
        // A link went to an address the user may no longer own; revoked before any new email is sent.
        if (company(before) !== company(after) || before.lifecycle.alternateEmail !== after.lifecycle.alternateEmail) {
          await linkTokens.forgetUser(after._id);
        }
        await stateEvents(before.lifecycle.state, after, ctx);
        if (!sameTime(before.lifecycle.scheduledActivation, after.lifecycle.scheduledActivation)) {
          await syncSchedule(after, 'ACTIVE', after.lifecycle.scheduledActivation, ctx);
        }
        if (!sameTime(before.lifecycle.scheduledSuspension, after.lifecycle.scheduledSuspension)) {
          await syncSchedule(after, 'SUSPENDED', after.lifecycle.scheduledSuspension, ctx);
        }
      },
      async afterDelete(user: StoredUser, ctx: WriteContext) {
        for (const schedule of await schedules.forUser(user._id)) await removeSchedule(schedule, user, ctx.actor);
        await linkTokens.forgetUser(user._id);
      },
    },

    /** Registers the job handlers; call before jobs.start(). */
    async defineJobs() {
      jobs.defineHandler<{ scheduleId: string }>(STATE_CHANGE_JOB, (data) => fireSchedule(data.scheduleId), {
        retry: { maxRetries: 5, delayMs: 5_000 },
      });
      jobs.defineHandler(REMINDER_JOB, async () => void (await sendReminders()), { retry: false });
    },
    async startRecurring() {
      await jobs.every(REMINDER_JOB, `0 ${config.reminders.hourUtc} * * *`, {}, { timezone: 'UTC' });
    },
    fireSchedule,
    sendReminders,

    async activate(id: string, options: { sendEmail?: boolean; destination?: string }, actor: Actor) {
      const user = await loadUser(id);
      if (user.lifecycle.state === 'ACTIVE') throw new AdminError(409, 'already_active', 'The user is already ACTIVE');
      return setState(id, 'ACTIVE', {
        actor,
        source: user.lifecycle.source,
        sendEmail: options.sendEmail,
        destination: checkDestination(options.destination),
      });
    },

    async suspend(id: string, actor: Actor) {
      const user = await loadUser(id);
      if (user.lifecycle.state === 'SUSPENDED')
        throw new AdminError(409, 'already_suspended', 'The user is already SUSPENDED');
      return setState(id, 'SUSPENDED', { actor, source: user.lifecycle.source });
    },

    async createSchedule(
      id: string,
      input: { state?: unknown; at?: unknown; sendEmail?: unknown; destination?: unknown },
      actor: Actor,
    ) {
      if (input.state !== 'ACTIVE' && input.state !== 'SUSPENDED') {
        throw new AdminError(400, 'invalid_state', 'state must be "ACTIVE" or "SUSPENDED"');
      }
      const at = typeof input.at === 'string' ? new Date(input.at) : undefined;
      if (!at || Number.isNaN(at.getTime()))
        throw new AdminError(400, 'invalid_at', 'at must be an ISO 8601 date-time');
      if (input.sendEmail !== undefined && typeof input.sendEmail !== 'boolean') {
        throw new AdminError(400, 'invalid_send_email', 'sendEmail must be a boolean');
      }
      const destination = checkDestination(input.destination);
      const user = await loadUser(id);
      if (input.state === 'ACTIVE' && user.lifecycle.state === 'ACTIVE') {
        throw new AdminError(409, 'already_active', 'The user is already ACTIVE');
      }
      // One pending schedule per user and kind: the new one replaces the old, and the SCIM attribute shows it.
      for (const old of await schedules.pendingFor(id, input.state)) await removeSchedule(old, user, actor);
      const schedule = await addSchedule(
        user,
        { state: input.state, at, sendEmail: input.sendEmail !== false, destination },
        actor,
      );
      await users.touch(id, { [`lifecycle.${scheduleKey(input.state)}`]: at });
      return scheduleJson(schedule);
    },

    async listSchedules(userId?: string) {
      return (await schedules.list(userId)).map(scheduleJson);
    },

    async cancelSchedule(scheduleId: string, actor: Actor) {
      const schedule = await schedules.get(scheduleId);
      if (!schedule) throw new AdminError(404, 'not_found', `Schedule ${scheduleId} not found`);
      const user = (await users.find(schedule.userId)) ?? ({ _id: schedule.userId, userName: '' } as StoredUser);
      if (!(await removeSchedule(schedule, user, actor)))
        throw new AdminError(404, 'not_found', `Schedule ${scheduleId} not found`);
      await users.unset(schedule.userId, [`lifecycle.${scheduleKey(schedule.state)}`]);
    },

    /** "Send activation email": activation link while PENDING, a reset link once a password exists. */
    sendActivationEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'activation emails', options, actor),

    sendPasswordResetEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'password reset emails', options, actor),

    async unlock(id: string, actor: Actor) {
      const user = await loadUser(id);
      const after = await users.modify(id, { actor, source: user.lifecycle.source }, (u) => {
        u.lifecycle.locked = false;
        const { lockedAt: _ended, ...secret } = u.secret ?? {};
        u.secret = { ...secret, failedLogins: 0 };
      });
      await deps.recordEvent({ type: 'user_unlocked', resource: resource(after), initiatedBy: actor });
      return after;
    },

    async expirePassword(id: string, actor: Actor) {
      const user = await loadUser(id);
      if (user.lifecycle.passwordStatus === 'PENDING') {
        throw new AdminError(409, 'no_password', 'The user has no password yet');
      }
      const after = await users.modify(id, { actor, source: user.lifecycle.source }, (u) => {
        u.lifecycle.passwordStatus = 'EXPIRED';
      });
      await deps.recordEvent({ type: 'user_password_expired', resource: resource(after), initiatedBy: actor });
      return after;
    },

    /** For the page: the user behind a valid link (undefined for used, expired or unknown links). */
    async userForLink(token: string, kind: LinkKind): Promise<StoredUser | undefined> {
      const userId = await linkTokens.peek(token, kind, now());
      return userId ? users.find(userId) : undefined;
    },

    /**
     * Sets the password through a link. Returns an error message for the form (policy) or
     * 'invalid' for a used, expired or unknown link; the link is used up only on success.
     */
    async setPasswordWithLink(
      token: string,
      kind: LinkKind,
      password: string,
    ): Promise<'ok' | 'invalid' | { error: string }> {
      const user = await this.userForLink(token, kind);
      if (!user) return 'invalid';
      if (kind === 'activation' && user.lifecycle.passwordStatus !== 'PENDING') return 'invalid';
      const emails = ((user.emails as { value: string }[] | undefined) ?? []).map((e) => e.value);
      const problem = checkPasswordPolicy(password, config.passwords, { username: user.userName, emails });
      if (problem) return { error: problem };
      const hash = await hashPassword(password);
      if ((await linkTokens.consume(token, kind, now())) !== user._id) return 'invalid';
      const actor: Actor = { type: 'user', name: user.userName };
      const after = await users.modify(user._id, { actor, source: user.lifecycle.source }, (u) => {
        u.secret = { ...u.secret, passwordHash: hash, passwordSetAt: now(), failedLogins: 0 };
        u.lifecycle.passwordStatus = 'ACTIVE';
        if (kind === 'reset') u.lifecycle.locked = false;
      });
      await deps.recordEvent({
        type: 'user_password_set',
        resource: resource(after),
        initiatedBy: actor,
        details: { via: kind },
      });
      return 'ok';
    },

    /** POST /auth/verify: true only for an ACTIVE user with an ACTIVE password who is not locked. */
    async verifyCredentials(username: string, password: string): Promise<StoredUser | undefined> {
      const user = await users.findByUserName(normalize(username));
      const attempt = (u: StoredUser | null, success: boolean, reason?: string) =>
        deps.recordEvent({
          type: 'user_login_attempt',
          ...(u ? { resource: resource(u) } : {}),
          initiatedBy: { type: 'user', name: username.slice(0, 256) },
          success,
          ...(reason ? { details: { reason } } : {}),
        });
      if (!user?.secret?.passwordHash) {
        dummyHash ??= hashPassword(`dummy-${Math.random()}`);
        await verifyPassword(password, await dummyHash);
        await attempt(user, false, user ? 'no password' : 'unknown user');
        return undefined;
      }
      // The attempt is counted before the password is checked, so parallel guesses cannot outrun the
      // limit; the hash is checked either way, so a locked account answers as slowly as a wrong password.
      const max = config.passwords.maxFailedAttempts;
      const lockoutMs = config.passwords.lockoutMinutes * 60_000;
      const lockEnd = new Date(now().getTime() - lockoutMs);
      if (lockoutMs > 0 && user.lifecycle.locked && user.secret.lockedAt && user.secret.lockedAt <= lockEnd) {
        // A timed lock that has run out ends before this attempt is counted (one writer ends it).
        if (await users.unlockExpired(user._id, lockEnd)) {
          await deps.recordEvent({
            type: 'user_unlocked',
            resource: resource(user),
            initiatedBy: SYSTEM,
            details: { after: `${config.passwords.lockoutMinutes} minutes` },
          });
        }
        user.lifecycle.locked = false;
      }
      const attemptNumber = await users.takeLoginAttempt(user._id, max);
      const passwordMatches = await verifyPassword(password, user.secret.passwordHash);
      if (attemptNumber === undefined || !passwordMatches) {
        await attempt(user, false, attemptNumber === undefined ? 'locked' : 'wrong password');
        if ((attemptNumber === undefined || attemptNumber >= max) && (await users.lock(user._id))) {
          await deps.recordEvent({
            type: 'user_lockout',
            resource: resource(user),
            initiatedBy: SYSTEM,
            details: { failedAttempts: attemptNumber ?? max },
          });
        }
        return undefined;
      }
      if (!canSignIn(user.lifecycle)) {
        await attempt(user, false, `state ${user.lifecycle.state}, password ${user.lifecycle.passwordStatus}`);
        return undefined;
      }
      await users.touch(user._id, { 'lifecycle.lastLogin': now(), 'secret.failedLogins': 0 });
      await attempt(user, true);
      return user;
    },
  };
}
