import { requireDirectory } from '../directory.js';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Env } from '../events/env.js';
import { createBuckets } from '../buckets.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { AssertionLog, OAuthClientDoc } from './clientRepository.js';
import { ASSERTION_ALGS, readClientCredentials, type ClientCredentials } from './clientAuth.js';
import { SlotsBusy } from '../slots.js';
import { isIssuedClientId, type ClientService } from './clients.js';
import { invalidClient, invalidRequest, OAuthError } from './errors.js';
import { ACCESS_TOKEN_TYP, accessTokenClaims, grantedScopes, rosterIssuer, tokenEndpoint } from './tokens.js';

export interface TokenServiceDeps {
  /** Clock, event recorder, configuration (src/events/env.ts). */
  env: Pick<Env, 'now' | 'recordEvent' | 'config'>;
  clients: ClientService;
  assertions: AssertionLog;
  signingKeys: SigningKeys;
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

/** A private_key_jwt assertion (RFC 7523): signed by the client's key, for Roster, unexpired, used once. */
async function verifyAssertion(
  deps: TokenServiceDeps,
  now: () => Date,
  credentials: Extract<ClientCredentials, { method: 'private_key_jwt' }>,
): Promise<OAuthClientDoc> {
  const { clients } = deps;
  const { config } = deps.env;
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

/** The client credentials grant (RFC 6749 §4.4): authenticates the client and issues an access token. */
export function createTokenService(deps: TokenServiceDeps) {
  const { clients } = deps;
  const { config, now, recordEvent } = deps.env;
  const failures = createBuckets(() => now().getTime());

  async function authenticate(credentials: ClientCredentials): Promise<OAuthClientDoc> {
    if (credentials.method === 'private_key_jwt') return verifyAssertion(deps, now, credentials);
    // The secret is checked whether or not the client exists (a dummy hash then): same time either way.
    const client = await clients.active(credentials.clientId);
    const matches = await clients.secretMatches(client, credentials.secret);
    if (!client) throw new AuthFailure('no active client with this id');
    if (client.publicJwk) throw new AuthFailure('this client authenticates with private_key_jwt');
    if (!matches) throw new AuthFailure('wrong client secret');
    return client;
  }

  const unavailable = (message: string, wait: number) =>
    new OAuthError(429, 'temporarily_unavailable', message, { 'Retry-After': String(wait) });

  /**
   * Failed authentications are limited per (client id, address) and per address, so an outsider's
   * failures never lock a client out from its own address. The attempt is counted before it is
   * checked (synchronously, so parallel attempts cannot all pass the check) and refunded when it
   * succeeds; over a limit 429 until the bucket refills.
   */
  function reserveAttempt(keys: string[]): () => void {
    const perMinute = config.oauth.failedAuthPerMinute;
    const wait = Math.max(0, ...keys.map((k) => failures.peek(k, perMinute) ?? 0));
    if (wait > 0) throw unavailable(`Too many failed client authentications; retry after ${wait} s`, wait);
    for (const key of keys) failures.take(key, perMinute);
    return () => keys.forEach((key) => failures.refund(key, perMinute));
  }

  async function failed(credentials: ClientCredentials, claimed: string, reason: string): Promise<never> {
    await recordEvent({
      type: 'oauth_client_auth_failed',
      initiatedBy: { type: 'client', name: claimed, ...(isIssuedClientId(claimed) && { id: `oauth:${claimed}` }) },
      success: false,
      details: { method: credentials.method, reason: reason.slice(0, 300) },
    });
    throw invalidClient('Client authentication failed', credentials.method === 'client_secret_basic');
  }

  return {
    async grant(params: Record<string, string>, authorization: string, address: string) {
      if (!params.grant_type) throw invalidRequest('grant_type is required');
      const credentials = readClientCredentials(authorization, params);
      if (params.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Only the client_credentials grant is supported');
      }
      const claimed = claimedClientId(credentials);
      const addressKey = `address:${address}`;
      if (!isIssuedClientId(claimed)) {
        // Not an id Roster issued: refused before any look-up; only the address's bucket counts it.
        reserveAttempt([addressKey]);
        return failed(credentials, '(not a client id)', 'the client id is not of the form Roster issues');
      }
      const refund = reserveAttempt([`client:${claimed} ${addressKey}`, addressKey]);
      let client: OAuthClientDoc;
      try {
        client = await authenticate(credentials);
      } catch (err) {
        if (err instanceof SlotsBusy) {
          refund();
          throw unavailable('Too many client authentications at once; retry after 1 s', 1);
        }
        if (!(err instanceof AuthFailure)) throw err;
        return failed(credentials, claimed, err.message);
      }
      refund();
      const scopes = grantedScopes(params.scope, client.scopes);
      const ttlSeconds = config.oauth.accessTokenTtlSeconds;
      const claims = accessTokenClaims({
        issuer: rosterIssuer(config),
        directory: requireDirectory('an access token'),
        clientId: client._id,
        scopes,
        now: now(),
        ttlSeconds,
        jti: randomUUID(),
      });
      const accessToken = await deps.signingKeys.sign(claims, ACCESS_TOKEN_TYP);
      await recordEvent({
        type: 'oauth_token_issued',
        initiatedBy: { type: 'client', name: client.name, id: `oauth:${client._id}` },
        resource: { type: 'OAuthClient', id: client._id },
        details: { scopes, method: credentials.method, jti: claims.jti },
      });
      return { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, scope: scopes.join(' ') };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
