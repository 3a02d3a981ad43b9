import { createRouter, type Router } from '../http/router.js';
import type { Context } from 'koa';
import type { Config } from '../config/index.js';
import { readRawBody } from '../http/body.js';
import { isIP } from 'node:net';
import { requireToken, type Authenticator, type Principal } from '../http/auth.js';
import { AdminError } from '../http/errors.js';
import { createBuckets } from '../buckets.js';
import { tooManyRequests } from '../http/rateLimit.js';
import { normalize } from '../scim/validate.js';
import { createNonce, renderDonePage, renderInvalidLinkPage, renderSetPasswordPage, securityHeaders } from './pages.js';
import type { Lifecycle } from './service.js';
import { looksLikeLinkToken } from './tokens.js';
import type { LinkKind } from './store.js';

const FORM_LIMIT = 16 * 1024;

/** Form (urlencoded) or JSON body of the end-user endpoints, as strings. */
async function readFields(ctx: Context): Promise<Record<string, string>> {
  const raw = (await readRawBody(ctx, FORM_LIMIT)).toString('utf8');
  const type = ctx.get('content-type').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(parsed ?? {}).filter(([, v]) => typeof v === 'string')) as Record<
        string,
        string
      >;
    } catch {
      throw new AdminError(400, 'invalid_json', 'The body is not valid JSON');
    }
  }
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(raw));
  throw new AdminError(415, 'unsupported_media_type', 'Send a form or JSON');
}

/** End-user pages (/activate, /reset-password); no bearer token. */
export function lifecycleRoutes(config: Config, lifecycle: Lifecycle): Router {
  const router = createRouter({ errorShape: 'admin', owns: ['/activate', '/reset-password'] });
  // Read on each request: a directory's own mail.orgName (its settings) names it on its pages.
  const orgName = () => config.mail.orgName;
  const publicOrigin = new URL(config.server.publicUrl).origin;

  const page = (ctx: Context, status: number, render: (nonce: string) => string) => {
    const nonce = createNonce();
    ctx.set(securityHeaders(nonce));
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = render(nonce);
  };
  const invalid = (ctx: Context, json: boolean) => {
    if (json) throw new AdminError(410, 'invalid_link', 'This link is no longer valid');
    page(ctx, 410, (nonce) => renderInvalidLinkPage({ orgName: orgName(), nonce }));
  };

  for (const [path, kind] of [
    ['/activate', 'activation'],
    ['/reset-password', 'reset'],
  ] as [string, LinkKind][]) {
    const pageKind = kind === 'activation' ? 'activate' : 'reset';
    const form = (ctx: Context, status: number, token: string, username: string, error?: string) =>
      page(ctx, status, (nonce) =>
        renderSetPasswordPage({
          kind: pageKind,
          token,
          orgName: orgName(),
          username,
          nonce,
          error,
          policy: config.passwords,
        }),
      );
    router.get(path, async (ctx) => {
      const token = ctx.query.token;
      const user = looksLikeLinkToken(token) ? await lifecycle.userForLink(token, kind) : undefined;
      const usable = user && (kind === 'reset' || user.lifecycle.passwordStatus === 'PENDING');
      if (!usable || typeof token !== 'string') return invalid(ctx, false);
      form(ctx, 200, token, user.userName);
    });

    router.post(path, async (ctx) => {
      const json = ctx.is('application/json') === 'application/json';
      // A cross-site form post is refused; the unguessable token in the body is the main guard.
      const origin = ctx.get('origin');
      if (origin && origin !== 'null' && origin !== publicOrigin) {
        throw new AdminError(403, 'cross_origin', 'Cross-origin form posts are not accepted');
      }
      const fields = await readFields(ctx);
      const token = fields.token;
      if (!looksLikeLinkToken(token)) return invalid(ctx, json);
      const password = fields.password ?? '';
      if (!json && fields.confirm !== undefined && fields.confirm !== password) {
        const user = await lifecycle.userForLink(token, kind);
        if (!user) return invalid(ctx, json);
        return form(ctx, 400, token, user.userName, 'The two passwords do not match.');
      }
      const result = await lifecycle.setPasswordWithLink(token, kind, password);
      if (result === 'invalid') return invalid(ctx, json);
      if (result !== 'ok') {
        if (json) throw new AdminError(400, 'password_policy', result.error);
        const user = await lifecycle.userForLink(token, kind);
        if (!user) return invalid(ctx, json);
        return form(ctx, 400, token, user.userName, result.error);
      }
      if (json) {
        ctx.body = { status: 'password_set' };
        return;
      }
      page(ctx, 200, (nonce) =>
        renderDonePage({ kind: pageKind, orgName: orgName(), nonce, portalUrl: config.mail.portalUrl }),
      );
    });
  }

  return router;
}

/**
 * POST /auth/verify, the credential check applications call: only with a verify token (never a SCIM
 * or admin token), limited per calling client, per username and per end-user IP (the `ip` field the
 * application passes, else the caller's address), each over its limit 429 with Retry-After.
 */
export function credentialRoutes(config: Config, lifecycle: Lifecycle, authenticator: Authenticator): Router {
  const router = createRouter({ errorShape: 'admin', owns: ['/auth/'] });
  const buckets = createBuckets();
  const limit = (key: string, perMinute: number, what: string) => {
    const retryAfter = buckets.take(key, perMinute);
    if (retryAfter !== undefined) throw tooManyRequests(perMinute, retryAfter, what);
  };
  router.post('/auth/verify', requireToken(authenticator, 'verify'), async (ctx) => {
    const limits = config.auth.verifyRateLimit;
    const client = (ctx.state.principal as Principal).id;
    limit(`client:${client}`, limits.perClientPerMinute, 'credential checks by this client');
    const fields = await readFields(ctx);
    if (typeof fields.username !== 'string' || typeof fields.password !== 'string') {
      throw new AdminError(400, 'invalid_request', 'username and password are required');
    }
    if (fields.ip !== undefined && isIP(fields.ip) === 0) {
      throw new AdminError(400, 'invalid_request', 'ip must be an IPv4 or IPv6 address');
    }
    limit(`user:${normalize(fields.username)}`, limits.perUsernamePerMinute, 'attempts for this username');
    limit(`ip:${fields.ip ?? ctx.ip}`, limits.perIpPerMinute, 'attempts from this address');
    const user = await lifecycle.verifyCredentials(fields.username, fields.password);
    if (!user) throw new AdminError(401, 'invalid_credentials', 'Invalid username or password');
    ctx.body = { authenticated: true, id: user._id, userName: user.userName };
  });
  return router;
}
