import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import type { Principal } from './auth.js';

/**
 * Token buckets by key: each allows a burst of one minute's allowance, refilled continuously. In
 * memory, per instance, at most `maxKeys` of them: the key seen least recently is forgotten first
 * (it starts again from a full bucket). `take` answers undefined when the request may go, else the
 * seconds to wait.
 */
export function createBuckets(now: () => number = Date.now, maxKeys = 100_000) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Like take, but takes nothing: the seconds to wait when the bucket is empty, else undefined. */
    peek(key: string, perMinute: number): number | undefined {
      const bucket = buckets.get(key);
      if (!bucket) return undefined;
      const perMs = perMinute / 60_000;
      const tokens = Math.min(perMinute, bucket.tokens + (now() - bucket.at) * perMs);
      return tokens < 1 ? Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) : undefined;
    },
    take(key: string, perMinute: number): number | undefined {
      const perMs = perMinute / 60_000;
      const t = now();
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: t };
      bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
      // Re-inserted so the map's order is least recently seen first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      bucket.tokens -= 1;
      return undefined;
    },
  };
}

/** The 429 every limiter answers; the error handler gives it the admin shape off the SCIM API. */
export function tooManyRequests(perMinute: number, retryAfter: number, what = 'requests'): ScimError {
  return new ScimError(
    429,
    `Rate limit of ${perMinute} ${what} per minute exceeded; retry after ${retryAfter} s`,
    undefined,
    {
      'Retry-After': String(retryAfter),
    },
  );
}

export interface RateLimitOptions {
  enabled: () => boolean;
  requestsPerMinute: () => number;
  now?: () => number;
}

/** Per-token limit (after authentication); over it 429 with Retry-After in whole seconds. */
export function rateLimit(options: RateLimitOptions) {
  const buckets = createBuckets(options.now);
  return async function limitRate(ctx: Context, next: Next) {
    if (!options.enabled()) return next();
    const principal = ctx.state.principal as Principal | undefined;
    if (!principal) return next();
    const perMinute = options.requestsPerMinute();
    const retryAfter = buckets.take(`${principal.kind}:${principal.name}`, perMinute);
    if (retryAfter !== undefined) throw tooManyRequests(perMinute, retryAfter);
    return next();
  };
}
