import type { Context, Next } from 'koa';
import { readJsonObject } from '../http/json.js';
import type { Config } from '../config/index.js';
import type { Authenticator } from '../http/auth.js';
import { AdminError } from '../http/errors.js';
import { createBuckets } from '../buckets.js';
import { tooManyRequests } from '../http/rateLimit.js';
import { createRouter, type Router } from '../http/router.js';
import { checkCsrf, sessionCookie, sessionIdOf } from './auth.js';
import type { ConsoleSession, ConsoleSessions } from './sessions.js';
import { createStaticFiles } from './static.js';

const FAILED_SIGN_INS_PER_MINUTE = 20;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a sign-in may come from this Origin: the public URL's; in development, when the public URL
 * is a loopback one, also the other loopback names on its port (`npm start` prints 127.0.0.1 while
 * the default public URL says localhost).
 */
export function signInOriginAllowed(origin: string, config: Pick<Config, 'server' | 'production'>): boolean {
  const own = new URL(config.server.publicUrl);
  if (origin === own.origin) return true;
  if (config.production || !LOOPBACK_HOSTS.has(own.hostname)) return false;
  try {
    const from = new URL(origin);
    return from.protocol === own.protocol && from.port === own.port && LOOPBACK_HOSTS.has(from.hostname);
  } catch {
    return false;
  }
}

/** Headers of every console response: nothing inline, nothing from elsewhere, never in a frame. */
export const CONSOLE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

async function consoleHeaders(ctx: Context, next: Next) {
  ctx.set(CONSOLE_HEADERS);
  await next();
}

/**
 * The admin console at /console: its files, and the session endpoints (sign in with an admin token
 * for a cookie, read the session's CSRF token after a reload, sign out). What the pages show and do
 * goes through /admin/v1 with that cookie (console/auth.ts adminCredential).
 */
export function consoleRoutes(
  config: Config,
  authenticator: Authenticator,
  sessions: ConsoleSessions,
  staticDir: string,
): Router {
  const router = createRouter({ errorShape: 'admin', owns: ['/console', '/console/'] });
  const files = createStaticFiles(staticDir);
  const failedSignIns = createBuckets();
  router.use(consoleHeaders);

  const secure = () => new URL(config.server.publicUrl).protocol === 'https:';
  const answer = (ctx: Context, session: ConsoleSession) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { name: session.adminName, csrfToken: session.csrfToken, endsAt: session.endsAt.toISOString() };
  };

  router.post('/console/session', async (ctx) => {
    const origin = ctx.get('origin');
    if (origin && !signInOriginAllowed(origin, config)) {
      throw new AdminError(
        403,
        'cross_origin',
        `Sign in from the console itself: open ${config.server.publicUrl}/console (server.publicUrl)`,
      );
    }
    const { token } = await readJsonObject(ctx, 16 * 1024);
    if (typeof token !== 'string' || token === '') throw new AdminError(400, 'invalid_request', 'token is required');
    // Failed sign-ins are limited per address (ctx.ip, see server.trustProxy); checking a token is a
    // hash, so only failures are counted: other addresses' failures never refuse a correct token.
    const retryAfter = failedSignIns.peek(ctx.ip, FAILED_SIGN_INS_PER_MINUTE);
    if (retryAfter !== undefined) {
      throw tooManyRequests(FAILED_SIGN_INS_PER_MINUTE, retryAfter, 'failed sign-in attempts');
    }
    const principal = authenticator.identify(`Bearer ${token}`);
    if (principal?.kind !== 'admin') {
      failedSignIns.take(ctx.ip, FAILED_SIGN_INS_PER_MINUTE);
      throw new AdminError(401, 'invalid_token', 'This is not a valid admin token');
    }
    const { id, session } = await sessions.create(principal.name);
    const maxAgeSeconds = config.console.session.absoluteHours * 3600;
    ctx.set('Set-Cookie', sessionCookie(id, { secure: secure(), maxAgeSeconds }));
    ctx.status = 201;
    answer(ctx, session);
  });

  router.get('/console/session', async (ctx) => {
    const session = await sessions.use(sessionIdOf(ctx));
    if (!session) throw new AdminError(401, 'session_ended', 'Not signed in');
    answer(ctx, session);
  });

  router.delete('/console/session', async (ctx) => {
    const id = sessionIdOf(ctx);
    const session = await sessions.use(id);
    if (session) checkCsrf(ctx, session);
    await sessions.end(id);
    ctx.set('Set-Cookie', sessionCookie('', { secure: secure(), maxAgeSeconds: 0 }));
    ctx.status = 204;
  });

  router.get('/console', (ctx) => files.send(ctx, 'index.html'));
  router.get('/console/:file', (ctx) => files.send(ctx, ctx.params.file));
  return router;
}
