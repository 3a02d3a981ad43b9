/**
 * Scheduled state changes (README "States and sources"): a pending schedule per user and kind, kept
 * in step with the SCIM attributes `scheduledActivation` / `scheduledSuspension`, fired by a job
 * through the ordinary user write path, created, listed and cancelled by admins.
 */
import { SYSTEM, userResource, type Actor, type NewEvent } from '../events/types.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { StoredUser } from '../users/mapping.js';
import type { WriteContext } from '../users/service.js';
import type { LifecycleBase, LifecycleContext } from './context.js';
import { checkDestination } from './emails.js';
import { scheduleJson, type Schedule, type Schedules } from './store.js';

export const STATE_CHANGE_JOB = 'user-state-change';

/** An admin's schedule request checked: the state, the time, whether to send the email, where. */
function scheduleInput(input: {
  state?: unknown;
  at?: unknown;
  sendEmail?: unknown;
  destination?: unknown;
}): Pick<Schedule, 'state' | 'at' | 'sendEmail' | 'destination'> {
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
  return { state: input.state, at, sendEmail: input.sendEmail !== false, destination };
}

function scheduleEvent(
  type: 'user_activation_schedule_create' | 'user_activation_schedule_delete',
  schedule: Schedule,
  user: { _id: string; userName: string },
  actor: Actor,
): NewEvent {
  return {
    type,
    resource: userResource(user),
    initiatedBy: actor,
    details: { scheduleId: schedule._id, state: schedule.state, at: schedule.at.toISOString() },
  };
}

/** The SCIM attribute that shows a pending schedule of this kind. */
const scheduleKey = (state: Schedule['state']) => (state === 'ACTIVE' ? 'scheduledActivation' : 'scheduledSuspension');

/**
 * The schedules kept in step with user writes (built below the user service: the lifecycle's
 * effects use it): add, remove and sync one kind.
 */
export function createScheduleSync(deps: LifecycleBase & { schedules: Schedules }) {
  const { jobs, schedules, now } = deps;

  const recordScheduleEvent = (...args: Parameters<typeof scheduleEvent>) => deps.recordEvent(scheduleEvent(...args));

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

  return { addSchedule, removeSchedule, syncSchedule };
}

export function createScheduling(deps: LifecycleContext & { schedules: Schedules }) {
  const { users, records, schedules, loadUser } = deps;
  const { addSchedule, removeSchedule, syncSchedule } = createScheduleSync(deps);

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
    const user = await records.findById(schedule.userId);
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
    await records.setFields(user._id, {}, [`lifecycle.${scheduleKey(schedule.state)}`]);
    await deps.recordEvent({
      type: 'user_activation_schedule_fired',
      resource: userResource(user),
      initiatedBy: SYSTEM,
      details: { scheduleId, state: schedule.state, at: schedule.at.toISOString(), createdBy: schedule.createdBy },
    });
  }

  return {
    setState,
    syncSchedule,
    removeSchedule,
    fireSchedule,

    async createSchedule(
      id: string,
      input: { state?: unknown; at?: unknown; sendEmail?: unknown; destination?: unknown },
      actor: Actor,
    ) {
      const wanted = scheduleInput(input);
      const user = await loadUser(id);
      if (wanted.state === 'ACTIVE' && user.lifecycle.state === 'ACTIVE') {
        throw new ConflictError('The user is already ACTIVE', { code: 'already_active' });
      }
      // One pending schedule per user and kind: the new one replaces the old, and the SCIM attribute shows it.
      for (const old of await schedules.pendingFor(id, wanted.state)) await removeSchedule(old, user, actor);
      const schedule = await addSchedule(user, wanted, actor);
      await records.setFields(id, { [`lifecycle.${scheduleKey(wanted.state)}`]: wanted.at });
      return scheduleJson(schedule);
    },

    async listSchedules(userId?: string) {
      return (await schedules.list(userId)).map(scheduleJson);
    },

    async cancelSchedule(scheduleId: string, actor: Actor) {
      const schedule = await schedules.get(scheduleId);
      if (!schedule) throw new NotFoundError(`Schedule ${scheduleId} not found`, { code: 'not_found' });
      const user = (await records.findById(schedule.userId)) ?? ({ _id: schedule.userId, userName: '' } as StoredUser);
      if (!(await removeSchedule(schedule, user, actor)))
        throw new NotFoundError(`Schedule ${scheduleId} not found`, { code: 'not_found' });
      await records.setFields(schedule.userId, {}, [`lifecycle.${scheduleKey(schedule.state)}`]);
    },
  };
}
