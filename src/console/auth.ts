import type { Context, Next } from 'koa';
import { requireToken, type Authenticator, type Principal } from '../http/auth.js';
import { AdminError } from '../http/errors.js';
import { sameSecret, type ConsoleSession, type ConsoleSessions } from './sessions.js';

export const SESSION_COOKIE = 'roster_console';
export const CSRF_HEADER = 'X-CSRF-Token';
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The Set-Cookie value of a session (written by hand: Koa refuses Secure behind a TLS proxy). */
export function sessionCookie(value: string, options: { secure: boolean; maxAgeSeconds: number }): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (options.secure) parts.push('Secure');
  parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`);
  return parts.join('; ');
}

export function sessionIdOf(ctx: Context): string | undefined {
  return ctx.cookies.get(SESSION_COOKIE) || undefined;
}

/** A console session's CSRF token, required on everything but GET and HEAD. */
export function checkCsrf(ctx: Context, session: ConsoleSession): void {
  if (SAFE_METHODS.has(ctx.method)) return;
  const presented = ctx.get(CSRF_HEADER);
  if (!presented || !sameSecret(presented, session.csrfToken)) {
    throw new AdminError(403, 'csrf_token_invalid', `This request needs the session's ${CSRF_HEADER} header`);
  }
}

/** The console's principal: events name the admin token that signed in, as `console:<name>`. */
export function consolePrincipal(session: ConsoleSession): Principal {
  const id = `console:${session.adminName}`;
  return { kind: 'admin', id, name: id, source: 'manual', scopes: ['admin'] };
}

/**
 * The admin API's credential check: a bearer admin token as before, or, without an Authorization
 * header, a console session cookie together with its CSRF token on state-changing requests.
 */
export function adminCredential(authenticator: Authenticator, sessions: ConsoleSessions) {
  const bearer = requireToken(authenticator, 'admin');
  return async function authenticateAdmin(ctx: Context, next: Next) {
    const sessionId = sessionIdOf(ctx);
    if (ctx.get('authorization') || !sessionId) return bearer(ctx, next);
    const session = await sessions.use(sessionId);
    if (!session) throw new AdminError(401, 'session_ended', 'The console session has ended; sign in again');
    checkCsrf(ctx, session);
    ctx.state.principal = consolePrincipal(session);
    return next();
  };
}
