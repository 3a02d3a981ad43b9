import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { currentDirectory, DEFAULT_DIRECTORY } from '../directory.js';
import type { TrustedIssuer } from '../config/index.js';
import type { Env } from '../events/env.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import { SIGNING_ALG } from '../keys/signingKeys.js';
import type { Grant } from '../principals.js';
import type { ClientService } from './clients.js';
import type { JwksCache } from './jwksCache.js';
import { parseScope } from '../scopes.js';
import { ACCESS_TOKEN_TYP, rosterIssuer } from './tokens.js';

export interface BearerVerifierDeps {
  /** Clock, configuration, logger (src/events/env.ts). */
  env: Pick<Env, 'now' | 'config' | 'logger'>;
  signingKeys: SigningKeys;
  clients: ClientService;
  jwks: JwksCache;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** How long the signing keys read for verification are trusted; an unknown kid re-reads them sooner. */
const OWN_KEYS_MS = 30_000;
const OWN_KEYS_REREAD_MS = 5_000;
/** Longest lifetime Roster gives an access token (oauth.accessTokenTtlSeconds' maximum). */
const MAX_OWN_TOKEN_AGE_SECONDS = 86_400;
/**
 * What a trusted issuer's bearer token may say it is (RFC 7515 `typ`, media types compared without
 * case and `application/`): an access token or a plain JWT, never a SET, a logout or an ID token.
 */
const BEARER_TYPES = new Set(['jwt', 'at+jwt']);
const NOT_ACCESS_TOKEN_CLAIMS = ['events', 'nonce'];

/** Why a JWT is not a bearer token even though it verifies. */
class NotAnAccessToken extends Error {}

function checkAccessTokenShape(typ: string | undefined, payload: JWTPayload, now: Date, skewSeconds: number) {
  if (typ !== undefined && !BEARER_TYPES.has(typ.toLowerCase().replace(/^application\//, ''))) {
    throw new NotAnAccessToken(`a JWT of type ${typ} is not an access token`);
  }
  const claim = NOT_ACCESS_TOKEN_CLAIMS.find((c) => c in payload);
  if (claim) throw new NotAnAccessToken(`a JWT with a "${claim}" claim is not an access token`);
  if (typeof payload.iat === 'number' && payload.iat > now.getTime() / 1000 + skewSeconds) {
    throw new NotAnAccessToken('the JWT was issued in the future');
  }
}

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** The allowed caller an external token names: its sub, or its appid (Entra v1) / azp (v2); else undefined. */
function allowedCaller(issuer: TrustedIssuer, payload: JWTPayload): string | undefined {
  const appId = payload.appid ?? payload.azp;
  if (typeof payload.sub === 'string' && issuer.allowedSubjects.includes(payload.sub)) return payload.sub;
  if (typeof appId === 'string' && issuer.allowedAppIds.includes(appId)) return appId;
  return undefined;
}

/**
 * Verifies a JWT bearer token: Roster's own access tokens (its signing keys, typ at+jwt, a client
 * still active) and tokens of the trusted issuers in config. Undefined for anything not valid.
 */
export function createBearerVerifier(deps: BearerVerifierDeps) {
  const { clients } = deps;
  const { config, now, logger } = deps.env;
  let ownKeys: { at: number; kids: Set<string>; getKey: JWTVerifyGetKey } | undefined;

  /**
   * Roster's own published keys, read at most every OWN_KEYS_MS (a token's kid unknown to them
   * re-reads them, at most every OWN_KEYS_REREAD_MS: a key another instance just made), so a flood of
   * JWTs costs no database reads.
   */
  async function ownKeySet(kid: string | undefined): Promise<JWTVerifyGetKey> {
    const age = Date.now() - (ownKeys?.at ?? 0);
    const unknownKid = kid !== undefined && !ownKeys?.kids.has(kid);
    if (!ownKeys || age >= OWN_KEYS_MS || (unknownKid && age >= OWN_KEYS_REREAD_MS)) {
      const jwks = await deps.signingKeys.jwks();
      const kids = new Set(jwks.keys.map((k) => String(k.kid)));
      ownKeys = { at: Date.now(), kids, getKey: createLocalJWKSet(jwks) };
    }
    return ownKeys.getKey;
  }

  const options = () => ({ currentDate: now(), clockTolerance: config.oauth.clockSkewSeconds });

  async function verifyOwn(token: string): Promise<Grant | undefined> {
    const issuer = rosterIssuer(config);
    const { payload } = await jwtVerify(token, await ownKeySet(decodeProtectedHeader(token).kid), {
      ...options(),
      issuer,
      audience: issuer,
      typ: ACCESS_TOKEN_TYP,
      algorithms: [SIGNING_ALG],
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id', 'directory'],
      // Also refuses an iat in the future (beyond the clock skew).
      maxTokenAge: MAX_OWN_TOKEN_AGE_SECONDS,
    });
    // The issuer is already the directory's own; the claim says so once more, for any reader of the token.
    if (payload.directory !== currentDirectory()) return undefined;
    const client = typeof payload.client_id === 'string' ? await clients.active(payload.client_id) : undefined;
    if (!client) return undefined;
    // A scope the client has lost since the token was issued no longer counts.
    const scopes = parseScope(String(payload.scope ?? '')).filter((s) => (client.scopes as string[]).includes(s));
    return { id: `oauth:${client._id}`, name: client.name, source: client.source, scopes, directory: client.directory };
  }

  async function verifyExternal(token: string, issuer: TrustedIssuer): Promise<Grant | undefined> {
    const keys = issuer.jwks ? createLocalJWKSet(issuer.jwks as never) : deps.jwks.keySource(issuer.jwksUri!);
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      ...options(),
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      requiredClaims: ['exp'],
    });
    checkAccessTokenShape(protectedHeader.typ, payload, now(), config.oauth.clockSkewSeconds);
    const caller = allowedCaller(issuer, payload);
    if (caller === undefined) {
      // Names the caller (never the token) so an admin can add it to the allow-list.
      const { sub, appid, azp } = payload;
      logger.warn({ issuer: issuer.name, sub, appid, azp }, 'trusted issuer token from a caller not allowed');
      return undefined;
    }
    return {
      id: `issuer:${issuer.issuer}#${caller}`,
      name: issuer.name,
      source: issuer.source,
      scopes: [...issuer.scopes],
      // Trusted issuers of the configuration file belong to the default directory (their only home).
      directory: DEFAULT_DIRECTORY,
    };
  }

  return async function verifyBearer(token: string): Promise<Grant | undefined> {
    if (!looksLikeJwt(token)) return undefined;
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    try {
      if (config.oauth.enabled && iss === rosterIssuer(config)) return await verifyOwn(token);
      const trusted = config.oauth.trustedIssuers.find((t) => t.issuer === iss);
      return trusted ? await verifyExternal(token, trusted) : undefined;
    } catch (err) {
      // A bad token is the caller's problem; a JWKS that cannot be read is the operator's.
      if (err instanceof NotAnAccessToken) {
        logger.warn({ iss, reason: err.message }, 'bearer JWT refused: not an access token');
        return undefined;
      }
      if (!(err instanceof errors.JOSEError))
        logger.warn({ err: (err as Error).message, iss }, 'bearer JWT not verifiable');
      return undefined;
    }
  };
}

export type BearerVerifier = ReturnType<typeof createBearerVerifier>;
