import type { Config } from '../config/index.js';
import type { Actor, NewEvent } from '../events/types.js';
import { userResource } from '../events/types.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Jobs } from '../jobs/index.js';
import { companyEmailOf, type StoredUser, type UserState } from '../users/mapping.js';
import type { WriteContext } from '../users/service.js';
import type { UserChanges, UserRecords } from './context.js';
import { createCredentials } from './credentials.js';
import { checkDestination, createLifecycleEmails, type EmailOptions } from './emails.js';
import { createScheduling, STATE_CHANGE_JOB } from './scheduleService.js';
import type { LinkTokens, Schedules } from './store.js';

export { checkDestination, type EmailOptions } from './emails.js';

export { STATE_CHANGE_JOB } from './scheduleService.js';
export const REMINDER_JOB = 'no-login-reminders';

export interface LifecycleDeps {
  config: Config;
  users: UserChanges;
  records: UserRecords;
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
  const { config, users, records, jobs, linkTokens, schedules } = deps;
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

  const sameTime = (a?: Date, b?: Date) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

  async function loadUser(id: string): Promise<StoredUser> {
    const user = await records.findById(id);
    if (!user) throw new NotFoundError(`User ${id} not found`, { code: 'not_found' });
    return user;
  }

  const context = { config, users, records, jobs, linkTokens, recordEvent: deps.recordEvent, now, loadUser };
  const credentials = createCredentials(context);
  const { emailForActivation, sendLinkOnRequest, sendReminders } = createLifecycleEmails(context);
  const scheduling = createScheduling({ ...context, schedules });
  const { setState, syncSchedule, removeSchedule, fireSchedule } = scheduling;

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
    createSchedule: scheduling.createSchedule,
    listSchedules: scheduling.listSchedules,
    cancelSchedule: scheduling.cancelSchedule,

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

    /** "Send activation email": activation link while PENDING, a reset link once a password exists. */
    sendActivationEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'activation emails', options, actor),

    sendPasswordResetEmail: (id: string, options: EmailOptions, actor: Actor) =>
      sendLinkOnRequest(id, 'password reset emails', options, actor),

    ...credentials,
  };
}
