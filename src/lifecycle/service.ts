import type { Actor } from '../events/types.js';
import { ConflictError } from '../errors.js';
import { lifecycleBase, type LifecycleParts, type UserChanges } from './context.js';
import { createCredentials } from './credentials.js';
import { checkDestination, createLifecycleEmails, type EmailOptions } from './emails.js';
import { createScheduling, STATE_CHANGE_JOB } from './scheduleService.js';

export { checkDestination, type EmailOptions } from './emails.js';

export { STATE_CHANGE_JOB } from './scheduleService.js';
export const REMINDER_JOB = 'no-login-reminders';

export interface LifecycleDeps extends LifecycleParts {
  /** The user service's versioned change; the user service sits below, built first. */
  users: UserChanges;
}

export type Lifecycle = ReturnType<typeof createLifecycle>;

/**
 * The lifecycle's operations above the user service (README "States and sources" and "Emails"):
 * activation and suspension, scheduled changes, links, logins, reminders. What follows each user
 * write is lifecycle/effectsService.ts, handed to the user service when it is built.
 */
export function createLifecycle(deps: LifecycleDeps) {
  const { users, jobs } = deps;
  const base = lifecycleBase(deps);
  const { config, loadUser } = base;
  const context = { ...base, users };
  const credentials = createCredentials(context);
  const { sendLinkOnRequest, sendReminders } = createLifecycleEmails(context);
  const scheduling = createScheduling(context);
  const { setState, fireSchedule } = scheduling;

  return {
    /** Registers the job handlers; call before jobs.start(). */
    async defineJobs() {
      jobs.defineHandler<{ scheduleId: string }>(STATE_CHANGE_JOB, (data) => fireSchedule(data.scheduleId), {
        retry: { maxRetries: 5, delayMs: 5_000 },
      });
      jobs.defineHandler(REMINDER_JOB, async () => void (await sendReminders()), {
        retry: false,
        scope: 'eachDirectory',
      });
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
