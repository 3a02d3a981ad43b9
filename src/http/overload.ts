import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import { SlotsBusy, type Slots } from '../slots.js';

const busy = () =>
  new ScimError(429, 'Roster is busy; retry after 1 s', undefined, {
    'Retry-After': '1',
  });

/**
 * Overload protection for the APIs: each request holds one of the request slots (server.overload:
 * at most maxInFlight run, up to maxQueued wait, in order, each at most queueTimeoutMs), and the rest
 * get 429 with Retry-After at once, so a flood cannot push every client's latency past what an IdP
 * tolerates. Entra backs off on 429. Background /Bulk runs hold a slot of the same pool.
 */
export function overloadGuard(slots: Slots) {
  return async function guardOverload(ctx: Context, next: Next) {
    try {
      await slots.run(next);
    } catch (err) {
      if (err instanceof SlotsBusy) throw busy();
      throw err;
    }
  };
}
