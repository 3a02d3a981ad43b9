import type { RouterContext } from '@koa/router';
import { createRouter, type Router } from '../http/router.js';
import type { Principal } from '../http/auth.js';
import { actorOf, ifMatch, listRoutes, projectionOf, sendCreated, sendResource } from '../http/scimResponse.js';
import type { UserService, WriteContext } from './service.js';

/** /Users: thin HTTP glue over the user service. */
export function userRoutes(service: UserService): Router {
  const router = createRouter();
  const context = (ctx: RouterContext): WriteContext => ({
    actor: actorOf(ctx),
    source: (ctx.state.principal as Principal).source,
    ifMatch: ifMatch(ctx),
  });

  listRoutes(router, '/Users', (raw) => service.list(raw));
  router.post('/Users', async (ctx) => {
    const { user, resource, location } = await service.create(ctx.request.body, context(ctx), projectionOf(ctx));
    sendCreated(ctx, resource, user.meta.version, location);
  });
  router.get('/Users/:id', async (ctx) => {
    const { user, resource } = await service.get(ctx.params.id, projectionOf(ctx));
    sendResource(ctx, resource, user.meta.version);
  });
  router.put('/Users/:id', async (ctx) => {
    const { user, resource } = await service.replace(ctx.params.id, ctx.request.body, context(ctx), projectionOf(ctx));
    sendResource(ctx, resource, user.meta.version);
  });
  router.patch('/Users/:id', async (ctx) => {
    const { user, resource } = await service.patch(ctx.params.id, ctx.request.body, context(ctx), projectionOf(ctx));
    sendResource(ctx, resource, user.meta.version);
  });
  router.delete('/Users/:id', async (ctx) => {
    await service.delete(ctx.params.id, context(ctx));
    ctx.status = 204;
  });
  return router;
}
