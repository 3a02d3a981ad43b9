import { createRouter, type Router } from '../http/router.js';
import { actorOf } from '../http/scimResponse.js';
import type { AsyncBulk } from './asyncBulk.js';
import type { createBulkService } from './service.js';

/** Whether a Prefer header (RFC 7240) asks for respond-async. */
export const prefersAsync = (prefer: string) =>
  prefer.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === 'respond-async');

/** /Bulk, answered at once or (Prefer: respond-async) in the background. */
export function bulkRoutes(bulk: ReturnType<typeof createBulkService>, asyncBulk?: AsyncBulk): Router {
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

  return router;
}
