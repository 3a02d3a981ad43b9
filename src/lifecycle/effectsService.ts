/**
 * The lifecycle's effects of user writes (README "States and sources" and "Emails"): state events,
 * the activation email, schedules kept in step with `scheduledActivation` / `scheduledSuspension`,
 * links revoked when an address changes. Built below the user service from what it needs (no user
 * service) and handed to it at construction as its UserEffects: the dependency goes one way
 * (docs/ARCHITECTURE.md "Composition").
 */
import { userResource } from '../events/types.js';
import { companyEmailOf, type StoredUser, type UserState } from '../users/mapping.js';
import type { UserEffects, WriteContext } from '../users/contracts.js';
import { lifecycleBase, type LifecycleParts } from './context.js';
import { createLifecycleEmails } from './emails.js';
import { createScheduleSync } from './scheduleService.js';

const sameTime = (a?: Date, b?: Date) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

export function createLifecycleEffects(parts: LifecycleParts): UserEffects {
  const deps = lifecycleBase(parts);
  const { linkTokens, schedules } = deps;
  const { emailForActivation } = createLifecycleEmails(deps);
  const { syncSchedule, removeSchedule } = createScheduleSync(deps);

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

  return {
    async afterCreate(user, ctx) {
      await stateEvents(undefined, user, ctx);
      if (user.lifecycle.scheduledActivation)
        await syncSchedule(user, 'ACTIVE', user.lifecycle.scheduledActivation, ctx);
      if (user.lifecycle.scheduledSuspension)
        await syncSchedule(user, 'SUSPENDED', user.lifecycle.scheduledSuspension, ctx);
    },
    async afterUpdate(before, after, ctx) {
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
    async afterDelete(user, ctx) {
      for (const schedule of await schedules.forUser(user._id)) await removeSchedule(schedule, user, ctx.actor);
      await linkTokens.forgetUser(user._id);
    },
  };
}
