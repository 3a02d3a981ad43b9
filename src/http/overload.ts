import { Stream } from 'node:stream';
import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import { SlotsBusy, type Slots } from '../slots.js';
import type { Principal } from './auth.js';

const busy = () =>
  new ScimError(429, 'Roster is busy; retry after 1 s', undefined, {
    'Retry-After': '1',
  });

/**
 * Encodes an object body to JSON here, inside the slot, rather than after every middleware
 * (Koa's default): encoding a page of users is much of its cost, and its bytes are its weight in
 * the fair share. The answer's bytes; 0 for a stream.
 */
function encodeBody(ctx: Context): number {
  const body: unknown = ctx.body;
  if (body === null || body === undefined || body instanceof Stream) return 0;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return Buffer.byteLength(body);
  if (typeof body !== 'object') return 0;
  if (!ctx.response.get('content-type')) ctx.type = 'json';
  const json = JSON.stringify(body);
  ctx.body = json;
  return Buffer.byteLength(json);
}

/**
 * Overload protection for the APIs: each request holds one of the request slots (server.overload:
 * at most maxInFlight run, up to maxQueued wait, in order, each at most queueTimeoutMs), and the rest
 * get 429 with Retry-After at once, so a flood cannot push every client's latency past what an IdP
 * tolerates. Entra backs off on 429. Background /Bulk runs hold a slot of the same pool. Waiting
 * requests are served in turns by directory and credential, weighed by their work (src/slots.ts),
 * so a directory or a client that floods Roster gets the 429s, not the others.
 */
export function overloadGuard(slots: Slots) {
  return async function guardOverload(ctx: Context, next: Next) {
    // Turns by directory, then by credential (src/slots.ts): one directory's burst waits behind itself.
    const directory = (ctx.state.directory as { _id: string } | undefined)?._id ?? '';
    const principal = (ctx.state.principal as Principal | undefined)?.id ?? '';
    try {
      await slots.run(
        async () => {
          await next();
          return encodeBody(ctx);
        },
        [directory, principal],
        (responseBytes) => (ctx.request.length ?? 0) + responseBytes,
      );
    } catch (err) {
      if (err instanceof SlotsBusy) throw busy();
      throw err;
    }
  };
}
