import type { RouterContext } from '@koa/router';
import { createRouter, type Router } from '../http/router.js';
import {
  actorOf,
  ifMatch,
  listRoutes,
  projectionOf,
  sendCreated,
  sendResource,
  sendStream,
} from '../http/scimResponse.js';
import { etagFor } from '../scim/etag.js';
import type { GroupService, GroupWriteContext } from './service.js';

/** /Groups: thin HTTP glue over the group service. */
export function groupRoutes(service: GroupService): Router {
  const router = createRouter();
  const context = (ctx: RouterContext): GroupWriteContext => ({ actor: actorOf(ctx), ifMatch: ifMatch(ctx) });

  listRoutes(router, '/Groups', (raw) => service.list(raw));
  router.post('/Groups', async (ctx) => {
    const { group, resource, location } = await service.create(ctx.request.body, context(ctx), projectionOf(ctx));
    sendCreated(ctx, resource, group.meta.version, location);
  });
  router.get('/Groups/:id', async (ctx) => {
    // The full group (what IdPs read) is streamed; a projection is built as one document.
    if (ctx.query.attributes === undefined && ctx.query.excludedAttributes === undefined) {
      const { group, chunks } = await service.getStreamed(ctx.params.id);
      return sendStream(ctx, chunks, group.meta.version);
    }
    const { group, resource } = await service.get(ctx.params.id, projectionOf(ctx));
    sendResource(ctx, resource, group.meta.version);
  });
  router.put('/Groups/:id', async (ctx) => {
    const { group, resource } = await service.replace(ctx.params.id, ctx.request.body, context(ctx), projectionOf(ctx));
    sendResource(ctx, resource, group.meta.version);
  });
  // 204 unless the client asks for attributes: rendering members would make a one-member change
  // cost as much as the group is large (Okta and Entra both accept 204).
  router.patch('/Groups/:id', async (ctx) => {
    const wantsBody = ctx.query.attributes !== undefined || ctx.query.excludedAttributes !== undefined;
    const { group, resource } = await service.patch(
      ctx.params.id,
      ctx.request.body,
      context(ctx),
      projectionOf(ctx),
      wantsBody,
    );
    if (wantsBody) return sendResource(ctx, resource!, group.meta.version);
    ctx.set('ETag', etagFor(group.meta.version));
    ctx.status = 204;
  });
  router.delete('/Groups/:id', async (ctx) => {
    await service.delete(ctx.params.id, context(ctx));
    ctx.status = 204;
  });
  return router;
}
