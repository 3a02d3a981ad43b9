import type { Context, Next } from 'koa';
import type { BlockList } from 'node:net';
import { addressList, clientAddress } from '../net/addresses.js';

/** Sets ctx.ip (failure limits, logs) per server.trustProxy; read live so a reload applies. */
export function trustProxy(entries: () => readonly string[]) {
  let cached: { entries: readonly string[]; list: BlockList } | undefined;
  return async function setClientAddress(ctx: Context, next: Next) {
    const current = entries();
    if (cached?.entries !== current) cached = { entries: current, list: addressList(current) };
    ctx.request.ip = clientAddress(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for'), cached.list);
    return next();
  };
}
