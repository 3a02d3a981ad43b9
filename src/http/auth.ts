import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Config, TokenSource } from '../config/index.js';
import { ScimError } from '../scim/errors.js';
import { AdminError } from './errors.js';

/** SCIM clients, admins, and applications that call the credential check (POST /auth/verify). */
export type PrincipalKind = 'scim' | 'admin' | 'verify';

/** Who is calling: shown in events as `initiatedBy`. */
export interface Principal {
  kind: PrincipalKind;
  name: string;
  source: TokenSource;
}

interface TokenEntry extends Principal {
  hash: Buffer;
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface Authenticator {
  identify(authorization: string | undefined): Principal | undefined;
  hasTokens(kind: PrincipalKind): boolean;
}

/** Tokens are kept only as SHA-256 digests and compared in constant time, every entry every time. */
export function createAuthenticator(
  config: Config,
  extra: { kind: PrincipalKind; name: string; token: string }[] = [],
): Authenticator {
  const entries: TokenEntry[] = [];
  const digest = (t: { token?: string; hash?: string }) =>
    t.token ? sha256(t.token) : Buffer.from(t.hash!.slice('sha256:'.length), 'hex');
  for (const t of config.auth.scimTokens)
    entries.push({ kind: 'scim', name: t.name, source: t.source, hash: digest(t) });
  for (const t of config.auth.adminTokens)
    entries.push({ kind: 'admin', name: t.name, source: 'manual', hash: digest(t) });
  for (const t of config.auth.verifyTokens)
    entries.push({ kind: 'verify', name: t.name, source: 'manual', hash: digest(t) });
  for (const t of extra) entries.push({ kind: t.kind, name: t.name, source: 'manual', hash: sha256(t.token) });

  return {
    identify(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match) return undefined;
      const presented = sha256(match[1]);
      let found: TokenEntry | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.hash, presented) && !found) found = entry;
      }
      return found && { kind: found.kind, name: found.name, source: found.source };
    },
    hasTokens: (kind) => entries.some((e) => e.kind === kind),
  };
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="roster"' };

const API_NAMES: Record<PrincipalKind, string> = {
  scim: 'the SCIM API',
  admin: 'the admin API',
  verify: 'the credential check',
};

/** Guards a router or route: 401 without a valid token, 403 with a token of another kind. */
export function requireToken(authenticator: Authenticator, kind: PrincipalKind) {
  return async function authenticate(ctx: Context, next: Next) {
    const principal = authenticator.identify(ctx.get('authorization') || undefined);
    if (!principal) {
      const message = ctx.get('authorization') ? 'Invalid bearer token' : 'Authorization: Bearer <token> is required';
      if (kind !== 'scim') {
        ctx.set(CHALLENGE);
        throw new AdminError(401, 'unauthorized', message);
      }
      throw new ScimError(401, message, undefined, CHALLENGE);
    }
    if (principal.kind !== kind) {
      const message = `A ${principal.kind} token cannot call ${API_NAMES[kind]}`;
      if (kind !== 'scim') throw new AdminError(403, 'forbidden', message);
      throw new ScimError(403, message);
    }
    ctx.state.principal = principal;
    return next();
  };
}
