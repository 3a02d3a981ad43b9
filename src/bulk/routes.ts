import Router from '@koa/router';
import { actorOf, queryOf } from '../http/scimResponse.js';
import type { GroupService } from '../groups/service.js';
import { ScimError } from '../scim/errors.js';
import { listResponse } from '../scim/list.js';
import type { UserService } from '../users/service.js';
import type { createBulkService } from './service.js';

/** /Bulk, root /.search across Users and Groups, and /Me. */
export function bulkAndRootRoutes(
  bulk: ReturnType<typeof createBulkService>,
  users: UserService,
  groups: GroupService,
): Router {
  const router = new Router();
  router.post('/Bulk', async (ctx) => {
    ctx.body = await bulk.execute(ctx.request.body, actorOf(ctx));
  });

  const rootSearch = async (raw: Record<string, unknown>) => {
    const params: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) params[k.toLowerCase()] = v;
    if (params.cursor !== undefined)
      throw new ScimError(400, 'Cursor paging is not supported across resource types', 'invalidValue');
    // An attribute one resource type lacks means "no matches of that type", not an error, unless both lack it.
    const attempt = async (list: () => Promise<ReturnType<typeof listResponse>>) => {
      try {
        return await list();
      } catch (err) {
        if (err instanceof ScimError && err.scimType === 'invalidFilter') return err;
        throw err;
      }
    };
    const userPage = await attempt(() => users.list(params));
    const count = userPage instanceof ScimError ? Number(params.count ?? 100) : userPage.itemsPerPage;
    const startIndex = Math.max(Number(params.startindex ?? 1) || 1, 1);
    const userTotal = userPage instanceof ScimError ? 0 : userPage.totalResults;
    const remaining = Math.max((Number(params.count ?? 100) || 0) - (userPage instanceof ScimError ? 0 : count), 0);
    const groupPage = await attempt(() =>
      groups.list({ ...params, startindex: Math.max(startIndex - userTotal, 1), count: remaining }),
    );
    if (userPage instanceof ScimError && groupPage instanceof ScimError) throw userPage;
    const resources = [
      ...(userPage instanceof ScimError ? [] : userPage.Resources),
      ...(groupPage instanceof ScimError ? [] : groupPage.Resources),
    ];
    const total = userTotal + (groupPage instanceof ScimError ? 0 : groupPage.totalResults);
    return listResponse(resources, { totalResults: total, startIndex });
  };
  router.post('/.search', async (ctx) => {
    ctx.body = await rootSearch(ctx.request.body as Record<string, unknown>);
  });
  router.get('/', async (ctx) => {
    if (ctx.query.filter === undefined) throw new ScimError(404, 'Use /Users or /Groups, or POST /.search');
    ctx.body = await rootSearch(queryOf(ctx));
  });
  router.all('/Me', () => {
    throw new ScimError(501, '/Me is not supported: SCIM tokens belong to provisioning clients, not to users');
  });
  return router;
}
