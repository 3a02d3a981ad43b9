import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import { SlotsBusy, type Slots } from '../slots.js';
import type { Principal } from './auth.js';

const busy = () =>
  new ScimError(429, 'Roster is busy; retry after 1 s', undefined, {
    'Retry-After': '1',
  });

/**
 * Overload protection for the APIs: each request holds one of the request slots (server.overload:
 * at most maxInFlight run, up to maxQueued wait, in order, each at most queueTimeoutMs), and the rest
 * get 429 with Retry-After at once, so a flood cannot push every client's latency past what an IdP
 * tolerates. Entra backs off on 429. Background /Bulk runs hold a slot of the same pool. Waiting
 * requests are served in turns by directory and credential, so a directory or a client that floods
 * Roster gets the 429s, not the others.
 */
export function overloadGuard(slots: Slots) {
  return async function guardOverload(ctx: Context, next: Next) {
    // Turns by directory, then by credential (src/slots.ts): one directory's burst waits behind itself.
    const directory = (ctx.state.directory as { _id: string } | undefined)?._id ?? '';
    const principal = (ctx.state.principal as Principal | undefined)?.id ?? '';
    try {
      await slots.run(next, [directory, principal]);
    } catch (err) {
      if (err instanceof SlotsBusy) throw busy();
      throw err;
    }
  };
}
