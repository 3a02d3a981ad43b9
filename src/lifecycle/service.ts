import type { Config } from '../config/index.js';
import type { Actor, NewEvent } from '../events/types.js';
import { SYSTEM, userResource } from '../events/types.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { Jobs } from '../jobs/index.js';
import { companyEmailOf, type StoredUser, type UserState } from '../users/mapping.js';
import type { UserService, WriteContext } from '../users/service.js';
import { createCredentials } from './credentials.js';
import { checkDestination, createLifecycleEmails, type EmailOptions } from './emails.js';
import { scheduleJson, type LinkTokens, type Schedule, type Schedules } from './store.js';

export { checkDestination, type EmailOptions } from './emails.js';

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

export type Lifecycle = ReturnType<typeof createLifecycle>;

/**
 * The lifecycle rules around user writes (README "States and sources" and "Emails"):
 * state transition events, activation/welcome emails, scheduled changes, links, logins, reminders.
 */
export function createLifecycle(deps: LifecycleDeps) {
  const { config, users, jobs, linkTokens, schedules } = deps;
  const now = deps.now ?? (() => new Date());

  async function stateEvents(before: UserState | undefined, user: StoredUser, ctx: WriteContext) {
    const after = user.lifecycle.state;
    if (before === after) return;
    const changes = [{ field: 'state', from: before ?? null, to: after }];
    if (after === 'ACTIVE') {
      await deps.recordEvent({ type: 'user_activated', resource: userResource(user), initiatedBy: ctx.actor, changes });
      if (ctx.sendEmail !== false) await emailForActivation(user, ctx.destination, ctx.actor);
    } else if (after === 'SUSPENDED') {
      await deps.recordEvent({ type: 'user_suspended', resource: userResource(user), initiatedBy: ctx.actor, changes });
    }
  }

  function recordScheduleEvent(
    type: 'user_activation_schedule_create' | 'user_activation_schedule_delete',
    schedule: Schedule,
    user: { _id: string; userName: string },
    actor: Actor,
  ) {
    return deps.recordEvent({
      type,
      resource: userResource(user),
      initiatedBy: actor,
      details: { scheduleId: schedule._id, state: schedule.state, at: schedule.at.toISOString() },
    });
  }

  async function addSchedule(
    user: StoredUser,
    input: Pick<Schedule, 'state' | 'at' | 'sendEmail' | 'destination'>,
    actor: Actor,
  ) {
    const schedule = await schedules.create({ userId: user._id, ...input, createdBy: actor }, now());
    await jobs.schedule(STATE_CHANGE_JOB, input.at, { scheduleId: schedule._id });
    await recordScheduleEvent('user_activation_schedule_create', schedule, user, actor);
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
    await recordScheduleEvent('user_activation_schedule_delete', schedule, user, actor);
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

  async function loadUser(id: string): Promise<StoredUser> {
    const user = await users.find(id);
    if (!user) throw new NotFoundError(`User ${id} not found`, { code: 'not_found' });
    return user;
  }

  const context = { config, users, jobs, linkTokens, recordEvent: deps.recordEvent, now, loadUser };
  const credentials = createCredentials(context);
  const { emailForActivation, sendLinkOnRequest, sendReminders } = createLifecycleEmails(context);

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
      resource: userResource(user),
      initiatedBy: SYSTEM,
      details: { scheduleId, state: schedule.state, at: schedule.at.toISOString(), createdBy: schedule.createdBy },
    });
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
        if (
          companyEmailOf(before) !== companyEmailOf(after) ||
          before.lifecycle.alternateEmail !== after.lifecycle.alternateEmail
        ) {
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
      if (user.lifecycle.state === 'ACTIVE')
        throw new ConflictError('The user is already ACTIVE', { code: 'already_active' });
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
        throw new ConflictError('The user is already SUSPENDED', { code: 'already_suspended' });
      return setState(id, 'SUSPENDED', { actor, source: user.lifecycle.source });
    },

    async createSchedule(
      id: string,
      input: { state?: unknown; at?: unknown; sendEmail?: unknown; destination?: unknown },
      actor: Actor,
    ) {
      if (input.state !== 'ACTIVE' && input.state !== 'SUSPENDED') {
        throw new InvalidError('state must be "ACTIVE" or "SUSPENDED"', { code: 'invalid_state' });
      }
      const at = typeof input.at === 'string' ? new Date(input.at) : undefined;
      if (!at || Number.isNaN(at.getTime()))
        throw new InvalidError('at must be an ISO 8601 date-time', { code: 'invalid_at' });
      if (input.sendEmail !== undefined && typeof input.sendEmail !== 'boolean') {
        throw new InvalidError('sendEmail must be a boolean', { code: 'invalid_send_email' });
      }
      const destination = checkDestination(input.destination);
      const user = await loadUser(id);
      if (input.state === 'ACTIVE' && user.lifecycle.state === 'ACTIVE') {
        throw new ConflictError('The user is already ACTIVE', { code: 'already_active' });
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
      if (!schedule) throw new NotFoundError(`Schedule ${scheduleId} not found`, { code: 'not_found' });
      const user = (await users.find(schedule.userId)) ?? ({ _id: schedule.userId, userName: '' } as StoredUser);
      if (!(await removeSchedule(schedule, user, actor)))
        throw new NotFoundError(`Schedule ${scheduleId} not found`, { code: 'not_found' });
      await users.unset(schedule.userId, [`lifecycle.${scheduleKey(schedule.state)}`]);
    },

    /** "Send activation email": activation link while PENDING, a reset link once a password exists. */
    sendActivationEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'activation emails', options, actor),

    sendPasswordResetEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'password reset emails', options, actor),

    ...credentials,
  };
}
