import { createRouter, type Router } from '../http/router.js';
import type { Actor } from '../events/types.js';
import { AdminError, refusalAnswer } from '../http/errors.js';
import { actorOf } from '../http/auth.js';
import type { Lifecycle } from '../lifecycle/service.js';
import type { StoredUser } from '../users/mapping.js';
import type { UserService } from '../users/service.js';
import { readJsonObject } from '../http/json.js';

const MAX_BULK_USERS = 1000;

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new AdminError(400, 'invalid_parameter', `${name} must be a boolean`);
  return value;
}

/** The admin user actions (README "Admin API"); each also works for many users through /users/actions. */
export function adminUserRoutes(users: UserService, lifecycle: Lifecycle): Router {
  const router = createRouter();
  const view = (user: StoredUser) => users.render(user, {});

  type Action = (id: string, body: Record<string, unknown>, actor: Actor) => Promise<unknown>;
  const actions: Record<string, Action> = {
    activate: async (id, body, actor) =>
      view(
        await lifecycle.activate(
          id,
          {
            sendEmail: optionalBoolean(body.sendEmail, 'sendEmail'),
            destination: body.destination as string | undefined,
          },
          actor,
        ),
      ),
    suspend: async (id, _body, actor) => view(await lifecycle.suspend(id, actor)),
    schedule: (id, body, actor) => lifecycle.createSchedule(id, body, actor),
    'activation-email': (id, body, actor) =>
      lifecycle.sendActivationEmail(id, { destination: body.destination as string }, actor),
    'password-reset-email': (id, body, actor) =>
      lifecycle.sendPasswordResetEmail(id, { destination: body.destination as string }, actor),
    unlock: async (id, _body, actor) => view(await lifecycle.unlock(id, actor)),
    'expire-password': async (id, _body, actor) => view(await lifecycle.expirePassword(id, actor)),
  };

  for (const name of ['activate', 'suspend', 'activation-email', 'password-reset-email', 'unlock', 'expire-password']) {
    router.post(`/users/:id/${name}`, async (ctx) => {
      ctx.body = await actions[name](ctx.params.id, await readJsonObject(ctx), actorOf(ctx));
    });
  }
  router.post('/users/:id/schedules', async (ctx) => {
    ctx.status = 201;
    ctx.body = await actions.schedule(ctx.params.id, await readJsonObject(ctx), actorOf(ctx));
  });
  router.get('/schedules', async (ctx) => {
    const userId = typeof ctx.query.userId === 'string' ? ctx.query.userId : undefined;
    ctx.body = { schedules: await lifecycle.listSchedules(userId) };
  });
  router.delete('/schedules/:id', async (ctx) => {
    await lifecycle.cancelSchedule(ctx.params.id, actorOf(ctx));
    ctx.status = 204;
  });

  // { action, userIds, ...options }: one result per user; one user's failure does not stop the rest.
  router.post('/users/actions', async (ctx) => {
    const body = await readJsonObject(ctx);
    const action =
      body.action === 'send-activation'
        ? 'activation-email'
        : body.action === 'send-reset'
          ? 'password-reset-email'
          : body.action;
    if (typeof action !== 'string' || !Object.hasOwn(actions, action)) {
      throw new AdminError(400, 'invalid_action', `action must be one of ${Object.keys(actions).join(', ')}`);
    }
    const ids = body.userIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== 'string')) {
      throw new AdminError(400, 'invalid_user_ids', 'userIds must be a non-empty array of user ids');
    }
    if (ids.length > MAX_BULK_USERS)
      throw new AdminError(413, 'too_many', `At most ${MAX_BULK_USERS} users per request`);
    const { action: _a, userIds: _u, ...options } = body;
    const results = [];
    for (const id of ids as string[]) {
      try {
        results.push({ userId: id, ok: true, result: await actions[action](id, options, actorOf(ctx)) });
      } catch (err) {
        const answer = refusalAnswer(err);
        if (!answer) throw err;
        const code = answer.code ?? answer.scimType ?? String(answer.status);
        results.push({ userId: id, ok: false, error: { code, message: answer.message } });
      }
    }
    ctx.body = {
      action,
      results,
      succeeded: results.filter((r) => r.ok).length,
      failed: results.filter((r) => !r.ok).length,
    };
  });
  return router;
}
