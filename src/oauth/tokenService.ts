import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Config } from '../config/index.js';
import type { NewEvent } from '../events/types.js';
import { createBuckets } from '../buckets.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { AssertionLog, OAuthClientDoc } from './clientRepository.js';
import { ASSERTION_ALGS, readClientCredentials, type ClientCredentials } from './clientAuth.js';
import type { ClientService } from './clients.js';
import { invalidClient, invalidRequest, OAuthError } from './errors.js';
import { ACCESS_TOKEN_TYP, accessTokenClaims, grantedScopes, rosterIssuer, tokenEndpoint } from './tokens.js';

export interface TokenServiceDeps {
  config: Config;
  clients: ClientService;
  assertions: AssertionLog;
  signingKeys: SigningKeys;
  recordEvent: (event: NewEvent) => Promise<void>;
  now?: () => Date;
}

/** The client id a request claims (unverified): for the failure limit and the event. */
function claimedClientId(credentials: ClientCredentials): string {
  if (credentials.clientId !== undefined || credentials.method !== 'private_key_jwt') return credentials.clientId ?? '';
  try {
    return String(decodeJwt(credentials.assertion).iss ?? '');
  } catch {
    return '';
  }
}

/** Why a client's authentication failed: for the event and the log, never containing the secret. */
class AuthFailure extends Error {}

/** The client credentials grant (RFC 6749 §4.4): authenticates the client and issues an access token. */
export function createTokenService(deps: TokenServiceDeps) {
  const { config, clients } = deps;
  const now = deps.now ?? (() => new Date());
  const failures = createBuckets(() => now().getTime());

  async function verifyAssertion(credentials: Extract<ClientCredentials, { method: 'private_key_jwt' }>) {
    let clientId: string | undefined;
    try {
      clientId = decodeJwt(credentials.assertion).iss;
    } catch {
      throw new AuthFailure('the client assertion is not a JWT');
    }
    if (!clientId || (credentials.clientId !== undefined && credentials.clientId !== clientId)) {
      throw new AuthFailure('the assertion issuer does not name the client');
    }
    const client = await clients.active(clientId);
    if (!client?.publicJwk) throw new AuthFailure('no active private_key_jwt client with this id');
    const skew = config.oauth.clockSkewSeconds;
    const { payload } = await jwtVerify(credentials.assertion, createLocalJWKSet({ keys: [client.publicJwk] }), {
      issuer: clientId,
      subject: clientId,
      audience: [tokenEndpoint(config), rosterIssuer(config)],
      algorithms: ASSERTION_ALGS,
      requiredClaims: ['exp', 'jti'],
      currentDate: now(),
      clockTolerance: skew,
    }).catch((err: Error) => {
      throw new AuthFailure(`the client assertion is invalid: ${err.message}`);
    });
    const expiresAt = new Date(payload.exp! * 1000);
    if (expiresAt.getTime() - now().getTime() > (config.oauth.assertionMaxLifetimeSeconds + skew) * 1000) {
      throw new AuthFailure('the client assertion expires too far in the future');
    }
    if (!(await deps.assertions.firstUse(clientId, payload.jti!, expiresAt, now()))) {
      throw new AuthFailure('the client assertion was used before (replay)');
    }
    return client;
  }

  async function authenticate(credentials: ClientCredentials): Promise<OAuthClientDoc> {
    if (credentials.method === 'private_key_jwt') return verifyAssertion(credentials);
    const client = await clients.active(credentials.clientId);
    if (!client) throw new AuthFailure('no active client with this id');
    if (client.publicJwk) throw new AuthFailure('this client authenticates with private_key_jwt');
    if (!(await clients.secretMatches(client, credentials.secret))) throw new AuthFailure('wrong client secret');
    return client;
  }

  /** Failed authentications are limited per client id and per address; over it 429 until the bucket refills. */
  function throttle(keys: string[]) {
    const perMinute = config.oauth.failedAuthPerMinute;
    const wait = Math.max(0, ...keys.map((k) => failures.peek(k, perMinute) ?? 0));
    if (wait > 0) {
      throw new OAuthError(
        429,
        'temporarily_unavailable',
        `Too many failed client authentications; retry after ${wait} s`,
        {
          'Retry-After': String(wait),
        },
      );
    }
  }

  return {
    async grant(params: Record<string, string>, authorization: string, address: string) {
      if (!params.grant_type) throw invalidRequest('grant_type is required');
      const credentials = readClientCredentials(authorization, params);
      if (params.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Only the client_credentials grant is supported');
      }
      const claimed = claimedClientId(credentials);
      const keys = [`client:${claimed}`, `address:${address}`];
      throttle(keys);
      let client: OAuthClientDoc;
      try {
        client = await authenticate(credentials);
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        for (const key of keys) failures.take(key, config.oauth.failedAuthPerMinute);
        await deps.recordEvent({
          type: 'oauth_client_auth_failed',
          initiatedBy: { type: 'client', name: claimed.slice(0, 100) },
          success: false,
          details: { method: credentials.method, reason: err.message.slice(0, 300) },
        });
        throw invalidClient('Client authentication failed', credentials.method === 'client_secret_basic');
      }
      const scopes = grantedScopes(params.scope, client.scopes);
      const ttlSeconds = config.oauth.accessTokenTtlSeconds;
      const claims = accessTokenClaims({
        issuer: rosterIssuer(config),
        clientId: client._id,
        scopes,
        now: now(),
        ttlSeconds,
        jti: randomUUID(),
      });
      const accessToken = await deps.signingKeys.sign(claims, ACCESS_TOKEN_TYP);
      await deps.recordEvent({
        type: 'oauth_token_issued',
        initiatedBy: { type: 'client', name: client.name },
        resource: { type: 'OAuthClient', id: client._id },
        details: { scopes, method: credentials.method, jti: claims.jti },
      });
      return { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, scope: scopes.join(' ') };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
