import { createLocalJWKSet, decodeJwt, jwtVerify, errors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config, TokenSource, TrustedIssuer } from '../config/index.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import { SIGNING_ALG } from '../keys/signingKeys.js';
import type { Logger } from '../logger.js';
import type { ClientService } from './clients.js';
import type { JwksCache } from './jwksCache.js';
import { parseScope } from './scopes.js';
import { ACCESS_TOKEN_TYP, rosterIssuer } from './tokens.js';

/** What a valid JWT bearer token grants: the caller's name and source (as a static token has) and scopes. */
export interface Grant {
  name: string;
  source: TokenSource;
  scopes: string[];
}

export interface BearerVerifierDeps {
  config: Config;
  signingKeys: SigningKeys;
  clients: ClientService;
  jwks: JwksCache;
  logger: Logger;
  now?: () => Date;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** The caller an external token names: its sub, or its appid (Entra v1) / azp (v2). */
function callerAllowed(issuer: TrustedIssuer, payload: JWTPayload): boolean {
  const appId = payload.appid ?? payload.azp;
  return (
    (typeof payload.sub === 'string' && issuer.allowedSubjects.includes(payload.sub)) ||
    (typeof appId === 'string' && issuer.allowedAppIds.includes(appId))
  );
}

/**
 * Verifies a JWT bearer token: Roster's own access tokens (its signing keys, typ at+jwt, a client
 * still active) and tokens of the trusted issuers in config. Undefined for anything not valid.
 */
export function createBearerVerifier(deps: BearerVerifierDeps) {
  const { config, clients } = deps;
  const now = deps.now ?? (() => new Date());
  let ownKeys: { kids: string; getKey: JWTVerifyGetKey } | undefined;

  async function ownKeySet(): Promise<JWTVerifyGetKey> {
    const jwks = await deps.signingKeys.jwks();
    const kids = jwks.keys.map((k) => k.kid).join(',');
    if (ownKeys?.kids !== kids) ownKeys = { kids, getKey: createLocalJWKSet(jwks) };
    return ownKeys.getKey;
  }

  const options = () => ({ currentDate: now(), clockTolerance: config.oauth.clockSkewSeconds });

  async function verifyOwn(token: string): Promise<Grant | undefined> {
    const issuer = rosterIssuer(config);
    const { payload } = await jwtVerify(token, await ownKeySet(), {
      ...options(),
      issuer,
      audience: issuer,
      typ: ACCESS_TOKEN_TYP,
      algorithms: [SIGNING_ALG],
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    const client = typeof payload.client_id === 'string' ? await clients.active(payload.client_id) : undefined;
    if (!client) return undefined;
    // A scope the client has lost since the token was issued no longer counts.
    const scopes = parseScope(String(payload.scope ?? '')).filter((s) => (client.scopes as string[]).includes(s));
    return { name: client.name, source: client.source, scopes };
  }

  async function verifyExternal(token: string, issuer: TrustedIssuer): Promise<Grant | undefined> {
    const keys = issuer.jwks ? createLocalJWKSet(issuer.jwks as never) : deps.jwks.keySource(issuer.jwksUri!);
    const { payload } = await jwtVerify(token, keys, {
      ...options(),
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      requiredClaims: ['exp'],
    });
    if (!callerAllowed(issuer, payload)) {
      // Names the caller (never the token) so an admin can add it to the allow-list.
      const { sub, appid, azp } = payload;
      deps.logger.warn({ issuer: issuer.name, sub, appid, azp }, 'trusted issuer token from a caller not allowed');
      return undefined;
    }
    return { name: issuer.name, source: issuer.source, scopes: [...issuer.scopes] };
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
      if (!(err instanceof errors.JOSEError))
        deps.logger.warn({ err: (err as Error).message, iss }, 'bearer JWT not verifiable');
      return undefined;
    }
  };
}

export type BearerVerifier = ReturnType<typeof createBearerVerifier>;
