import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';

export interface OverloadLimits {
  /** Requests served at the same time. */
  maxInFlight: number;
  /** Requests waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** How long a request may wait for a slot before it is refused. */
  queueTimeoutMs: number;
}

const busy = () =>
  new ScimError(429, 'Roster is busy; retry after 1 s', undefined, {
    'Retry-After': '1',
  });

/**
 * Overload protection for the APIs: at most maxInFlight requests run, up to maxQueued wait (in
 * order, each at most queueTimeoutMs), and the rest get 429 with Retry-After at once, so a flood
 * cannot push every client's latency past what an IdP tolerates. Entra backs off on 429.
 */
export function overloadGuard(limits: () => OverloadLimits) {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  // A finished request hands its slot to the first waiter, or frees it.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  return async function guardOverload(ctx: Context, next: Next) {
    const { maxInFlight, maxQueued, queueTimeoutMs } = limits();
    if (inFlight < maxInFlight) {
      inFlight++;
    } else {
      if (waiting.length >= maxQueued) throw busy();
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(wake), 1);
          reject(busy());
        }, queueTimeoutMs);
        waiting.push(wake);
      });
    }
    try {
      await next();
    } finally {
      release();
    }
  };
}
