import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Config } from '../config/index.js';
import type { Actor, Grant, TokenSource } from '../principals.js';
import { currentDirectory, DEFAULT_DIRECTORY } from '../directory.js';
import { scimScopeFor } from '../scopes.js';
import { ScimError } from '../scim/errors.js';
import { AdminError } from './errors.js';

/** SCIM clients, admins, and applications that call the credential check (POST /auth/verify). */
export type PrincipalKind = 'scim' | 'admin' | 'verify';

/** Who is calling: shown in events as `initiatedBy`; `source` picks the default user state. */
export interface Principal {
  kind: PrincipalKind;
  /** Unique and typed (src/principals.ts): what bindings and the event log use. */
  id: string;
  /** For people to read; not unique across kinds of credential. */
  name: string;
  source: TokenSource;
  /** What the caller may do: OAuth scopes; a static token has every scope of its kind. */
  scopes: readonly string[];
  /**
   * The directory the credential belongs to (src/directory.ts); refused in any other. None: an
   * operator's (the configuration's admin tokens, console sessions), good in every directory.
   */
  directory?: string;
}

/** The scopes a static token of each kind has, and those that let an OAuth token in. */
const KIND_SCOPES: Record<PrincipalKind, readonly string[]> = {
  scim: ['scim:read', 'scim:write'],
  admin: ['admin'],
  verify: [],
};

/** Verifies a JWT bearer token (OAuth access tokens, trusted issuers); undefined when not valid. */
export type JwtVerifier = (token: string) => Promise<Grant | undefined>;

/** A token minted through the admin API, looked up in the current directory (src/directories). */
export type StoredTokenLookup = (token: string) => Promise<Omit<Principal, 'scopes'> | undefined>;

interface TokenEntry extends Principal {
  hash: Buffer;
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface Authenticator {
  /** A static token's principal. */
  identify(authorization: string | undefined): Principal | undefined;
  /** A static token's principal, else what a valid JWT grants. */
  authenticate(authorization: string | undefined): Promise<Principal | Grant | undefined>;
  hasTokens(kind: PrincipalKind): boolean;
}

const bearerToken = (authorization: string | undefined) => /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];

/** Tokens are kept only as SHA-256 digests and compared in constant time, every entry every time. */
export function createAuthenticator(
  config: Config,
  extra: { kind: PrincipalKind; name: string; token: string }[] = [],
  verifyJwt?: JwtVerifier,
  storedToken?: StoredTokenLookup,
): Authenticator {
  const entries: TokenEntry[] = [];
  const digest = (t: { token?: string; hash?: string }) =>
    t.token ? sha256(t.token) : Buffer.from(t.hash!.slice('sha256:'.length), 'hex');
  // The configuration's SCIM and verify tokens are the default directory's; its admin tokens an operator's.
  const add = (kind: PrincipalKind, name: string, source: TokenSource, hash: Buffer) =>
    entries.push({
      kind,
      id: `token:${name}`,
      name,
      source,
      hash,
      scopes: KIND_SCOPES[kind],
      ...(kind === 'admin' ? {} : { directory: DEFAULT_DIRECTORY }),
    });
  for (const t of config.auth.scimTokens) add('scim', t.name, t.source, digest(t));
  // (names are unique per kind and never look like a principal id: checked in src/config)
  for (const t of config.auth.adminTokens) add('admin', t.name, 'manual', digest(t));
  for (const t of config.auth.verifyTokens) add('verify', t.name, 'manual', digest(t));
  for (const t of extra) add(t.kind, t.name, 'manual', sha256(t.token));

  function identify(authorization: string | undefined): Principal | undefined {
    const token = bearerToken(authorization);
    if (!token) return undefined;
    const presented = sha256(token);
    let found: TokenEntry | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(entry.hash, presented) && !found) found = entry;
    }
    if (!found) return undefined;
    const { hash: _hash, ...principal } = found;
    return principal;
  }
  return {
    identify,
    async authenticate(authorization) {
      const principal = identify(authorization);
      if (principal) return principal;
      const token = bearerToken(authorization);
      if (!token) return undefined;
      const stored = storedToken && !token.includes('.') ? await storedToken(token) : undefined;
      if (stored) return { ...stored, scopes: KIND_SCOPES[stored.kind] };
      return verifyJwt ? verifyJwt(token) : undefined;
    },
    hasTokens: (kind) => entries.some((e) => e.kind === kind),
  };
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="roster"' };
/** RFC 6750 §3.1: a JWT that failed verification (expired, wrong audience, revoked client...). */
const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer realm="roster", error="invalid_token"' };

const API_NAMES: Record<PrincipalKind, string> = {
  scim: 'the SCIM API',
  admin: 'the admin API',
  verify: 'the credential check',
};

/** 403 with the scope that would do (RFC 6750 §3.1). */
function insufficientScope(ctx: Context, kind: PrincipalKind, needed: string): Error {
  const message = `The token lacks the scope ${needed}`;
  const headers = { 'WWW-Authenticate': `Bearer realm="roster", error="insufficient_scope", scope="${needed}"` };
  if (kind === 'scim') return new ScimError(403, message, undefined, headers);
  ctx.set(headers);
  return new AdminError(403, 'insufficient_scope', message);
}

/**
 * Guards a router or route: 401 without a valid token, 403 with a static token of another kind or an
 * OAuth token without a scope for this API (no scope opens the credential check).
 */
export function requireToken(authenticator: Authenticator, kind: PrincipalKind) {
  return async function authenticate(ctx: Context, next: Next) {
    const authorization = ctx.get('authorization') || undefined;
    let found = await authenticator.authenticate(authorization);
    // A credential of another directory is no credential here: the same 401 as a made-up one.
    if (found?.directory !== undefined && found.directory !== currentDirectory()) found = undefined;
    if (!found) {
      const message = authorization ? 'Invalid bearer token' : 'Authorization: Bearer <token> is required';
      const challenge = bearerToken(authorization)?.includes('.') ? INVALID_TOKEN : CHALLENGE;
      if (kind !== 'scim') {
        ctx.set(challenge);
        throw new AdminError(401, 'unauthorized', message);
      }
      throw new ScimError(401, message, undefined, challenge);
    }
    if ('kind' in found && found.kind !== kind) {
      const message = `A ${found.kind} token cannot call ${API_NAMES[kind]}`;
      if (kind !== 'scim') throw new AdminError(403, 'forbidden', message);
      throw new ScimError(403, message);
    }
    if (!('kind' in found)) {
      if (kind === 'verify') throw new AdminError(403, 'forbidden', `An OAuth token cannot call ${API_NAMES[kind]}`);
      if (!found.scopes.some((s) => KIND_SCOPES[kind].includes(s))) {
        throw insufficientScope(ctx, kind, KIND_SCOPES[kind].join(' '));
      }
    }
    const principal: Principal = { kind, ...found };
    ctx.state.principal = principal;
    return next();
  };
}

/** The event log's `initiatedBy` for a request's principal. */
export function actorOf(ctx: Context): Actor {
  const principal = ctx.state.principal as Principal;
  return { type: principal.kind === 'admin' ? 'admin' : 'scim', name: principal.name, id: principal.id };
}

/** SCIM reads need scim:read, writes scim:write (static SCIM tokens have both). */
export async function requireScimScope(ctx: Context, next: Next) {
  const needed = scimScopeFor(ctx.method, ctx.path);
  if (!(ctx.state.principal as Principal).scopes.includes(needed)) throw insufficientScope(ctx, 'scim', needed);
  return next();
}

/**
 * Operators only (README "Directories"): a credential of no one directory (the configuration's
 * admin tokens, console sessions). For what concerns every directory: the directories themselves,
 * the signing keys, the whole configuration.
 */
export async function requireOperator(ctx: Context, next: Next) {
  if ((ctx.state.principal as Principal).directory !== undefined)
    throw new AdminError(403, 'forbidden', 'Only an operator may do this; it concerns every directory');
  return next();
}
