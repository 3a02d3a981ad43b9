import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import type { Principal } from './auth.js';

export interface RateLimitOptions {
  enabled: () => boolean;
  requestsPerMinute: () => number;
  now?: () => number;
}

/**
 * Per-token token bucket (after authentication): a burst of one minute's allowance, refilled
 * continuously. Over the limit: 429 with Retry-After in whole seconds. In memory, per instance.
 */
export function rateLimit(options: RateLimitOptions) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const now = options.now ?? Date.now;
  return async function limitRate(ctx: Context, next: Next) {
    if (!options.enabled()) return next();
    const principal = ctx.state.principal as Principal | undefined;
    if (!principal) return next();
    const capacity = options.requestsPerMinute();
    const perMs = capacity / 60_000;
    const key = `${principal.kind}:${principal.name}`;
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: capacity, at: t };
    bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = String(Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)));
      // The error handler gives it the admin shape (code too_many_requests) under /admin.
      const message = `Rate limit of ${capacity} requests per minute exceeded; retry after ${retryAfter} s`;
      throw new ScimError(429, message, undefined, { 'Retry-After': retryAfter });
    }
    bucket.tokens -= 1;
    return next();
  };
}
