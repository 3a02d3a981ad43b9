import { createRouter, type Router } from '../http/router.js';
import { actorOf, queryOf } from '../http/scimResponse.js';
import type { GroupService } from '../groups/service.js';
import { isRefusal } from '../errors.js';
import { ScimError } from '../scim/errors.js';
import { listResponse, parseListRequest } from '../scim/list.js';
import type { UserService } from '../users/service.js';
import type { AsyncBulk } from './asyncBulk.js';
import type { createBulkService } from './service.js';

/** Whether a Prefer header (RFC 7240) asks for respond-async. */
export const prefersAsync = (prefer: string) =>
  prefer.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === 'respond-async');

/** /Bulk, root /.search across Users and Groups, and /Me. */
export function bulkAndRootRoutes(
  bulk: ReturnType<typeof createBulkService>,
  users: UserService,
  groups: GroupService,
  limits: { defaultCount: number; maxResults: number },
  asyncBulk?: AsyncBulk,
): Router {
  const router = createRouter();
  router.post('/Bulk', async (ctx) => {
    const txn = prefersAsync(ctx.get('prefer')) ? await asyncBulk?.start(ctx.request.body, actorOf(ctx)) : undefined;
    if (txn) {
      // RFC 9967 section 2.5.1.1: no body; the asyncresp SETs carry this txn (":" and the index).
      ctx.status = 202;
      ctx.set('Set-Txn', txn);
      ctx.set('Preference-Applied', 'respond-async');
      ctx.body = ''; // else Koa writes the status text
      ctx.remove('Content-Type');
      return;
    }
    ctx.body = await bulk.execute(ctx.request.body, actorOf(ctx));
  });

  const rootSearch = async (raw: Record<string, unknown>) => {
    // Parsed once here, so one page across both types keeps to count (capped at maxResults).
    const request = parseListRequest(raw, limits);
    if (request.cursor !== undefined)
      throw new ScimError(400, 'Cursor paging is not supported across resource types', 'invalidValue');
    // An attribute one resource type lacks means "no matches of that type", not an error, unless both lack it.
    const attempt = async (list: () => Promise<ReturnType<typeof listResponse>>) => {
      try {
        return await list();
      } catch (err) {
        if (isRefusal(err) && err.scimType === 'invalidFilter') return err;
        throw err;
      }
    };
    const { startIndex, count } = request;
    const userPage = await attempt(() => users.list({ ...raw, count }));
    const userResults = isRefusal(userPage) ? { Resources: [], totalResults: 0 } : userPage;
    const groupPage = await attempt(() =>
      groups.list({
        ...raw,
        startIndex: Math.max(startIndex - userResults.totalResults, 1),
        count: count - userResults.Resources.length,
      }),
    );
    if (isRefusal(userPage) && isRefusal(groupPage)) throw userPage;
    const groupResults = isRefusal(groupPage) ? { Resources: [], totalResults: 0 } : groupPage;
    return listResponse([...userResults.Resources, ...groupResults.Resources], {
      totalResults: userResults.totalResults + groupResults.totalResults,
      startIndex,
    });
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
