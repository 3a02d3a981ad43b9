import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { inTransaction } from '../transaction.js';
import type { Logger } from '../logger.js';
import type { HttpMetrics } from '../metrics.js';

/** Request id (X-Request-Id in and out), one structured log line per request, and HTTP metrics. */
export function requestContext(logger: Logger, metrics: HttpMetrics) {
  return async function trackRequest(ctx: Context, next: Next) {
    const incoming = ctx.get('x-request-id');
    const requestId = /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      // One transaction per request: the events (and security event tokens) it causes share a txn.
      await inTransaction(ctx.method, () => next());
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.observe(ctx.method, String(route), ctx.status, seconds);
      if (ctx.path !== '/healthz' && ctx.path !== '/metrics') {
        logger.info(
          {
            requestId,
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(seconds * 1000),
            principal: ctx.state.principal?.name,
          },
          'request',
        );
      }
    }
  };
}
