import type { RouterContext } from '@koa/router';
import { createRouter, type Router } from '../http/router.js';
import { actorOf, queryOf } from '../http/scimResponse.js';
import { parseProjection } from '../scim/projection.js';
import type { GroupMemberService } from './groupMembersService.js';

/** /GroupMembers: thin HTTP glue over the group member service. */
export function groupMembersRoutes(service: GroupMemberService): Router {
  const router = createRouter();
  const context = (ctx: RouterContext) => ({ actor: actorOf(ctx) });

  router.get('/GroupMembers', async (ctx) => {
    ctx.body = await service.list(queryOf(ctx));
  });
  router.post('/GroupMembers/.search', async (ctx) => {
    ctx.body = await service.list(ctx.request.body as Record<string, unknown>);
  });
  router.get('/GroupMembers/:id', async (ctx) => {
    ctx.body = await service.get(ctx.params.id, parseProjection(ctx.query.attributes, ctx.query.excludedAttributes));
  });
  router.post('/GroupMembers', async (ctx) => {
    const { resource, location } = await service.create(ctx.request.body, context(ctx), {
      attributes: ctx.query.attributes,
      excluded: ctx.query.excludedAttributes,
    });
    ctx.set('Location', location);
    ctx.status = 201;
    ctx.body = resource;
  });
  router.delete('/GroupMembers/:id', async (ctx) => {
    await service.delete(ctx.params.id, context(ctx));
    ctx.status = 204;
  });
  return router;
}
