import { isRefusal } from '../errors.js';
import type { GroupService } from '../groups/service.js';
import { createRouter, type Router } from '../http/router.js';
import { queryOf } from '../http/scimResponse.js';
import { ScimError } from '../scim/errors.js';
import { listResponse, parseListRequest } from '../scim/list.js';
import type { UserService } from '../users/service.js';

/** The SCIM root: /.search (and GET /?filter=) across Users and Groups, and /Me. */
export function rootRoutes(
  users: UserService,
  groups: GroupService,
  limits: { defaultCount: number; maxResults: number },
): Router {
  const router = createRouter();
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
