import type { Context, Next } from 'koa';
import { ScimError } from '../scim/errors.js';
import type { Principal } from './auth.js';
import { createBuckets } from '../buckets.js';

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
    const retryAfter = buckets.take(`${principal.kind} ${principal.id}`, perMinute);
    if (retryAfter !== undefined) throw tooManyRequests(perMinute, retryAfter);
    return next();
  };
}
