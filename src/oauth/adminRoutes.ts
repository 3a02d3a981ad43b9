import { readJsonObject } from '../http/json.js';
import { actorOf } from '../http/auth.js';
import { createRouter, type Router } from '../http/router.js';
import type { ClientService } from './clients.js';

/** /admin/v1/oauth/clients: register, list, show, rotate a secret, revoke. */
export function oauthClientAdminRoutes(clients: ClientService): Router {
  const router = createRouter();
  router.post('/oauth/clients', async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await clients.create(await readJsonObject(ctx), actorOf(ctx));
  });
  router.get('/oauth/clients', async (ctx) => {
    ctx.body = { clients: await clients.list() };
  });
  router.get('/oauth/clients/:id', async (ctx) => {
    ctx.body = await clients.get(ctx.params.id);
  });
  router.post('/oauth/clients/:id/rotate-secret', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await clients.rotate(ctx.params.id, actorOf(ctx));
  });
  router.post('/oauth/clients/:id/revoke', async (ctx) => {
    ctx.body = await clients.revoke(ctx.params.id, actorOf(ctx));
  });
  return router;
}
