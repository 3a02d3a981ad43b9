import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';
import {
  accessToken,
  ASSERTION_TYPE,
  clientAssertion,
  ISSUER,
  registerClient,
  TOKEN_ENDPOINT,
  tokenRequest,
  type RegisteredClient,
} from './oauthHelpers.js';

const HOUR = 3_600_000;
let clock = new Date('2026-03-01T09:00:00Z');
const t = useTestRoster(
  { oauth: { failedAuthPerMinute: 10_000, secretOverlapHours: 2, clientCacheSeconds: 0 } },
  { now: () => clock },
);
let client: RegisteredClient;

beforeAll(async () => {
  client = await registerClient(t, { name: 'entra-prod', source: 'integration' });
});

const expectOAuthError = (
  res: { status: number; body: Record<string, unknown>; headers: Record<string, string> },
  status: number,
  error: string,
) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error).toBe(error);
  expect(typeof res.body.error_description).toBe('string');
  expect(res.headers['cache-control']).toBe('no-store');
};

describe('client registration (admin API)', () => {
  it('returns the secret once and never shows it or its hash again', async () => {
    expect(client.client_secret).toMatch(/^rcs_[\w-]{43}$/);
    expect(client).toMatchObject({ name: 'entra-prod', scopes: ['scim:read', 'scim:write'] });
    const list = await t.admin().get('/oauth/clients').expect(200);
    const text = JSON.stringify(list.body);
    expect(text).toContain(client.client_id);
    expect(text).not.toContain(client.client_secret);
    expect(text).not.toMatch(/scrypt|hash/);
    const stored = await t.db.collection('oauth_clients').findOne({ _id: client.client_id as never });
    expect(JSON.stringify(stored)).not.toContain(client.client_secret);
    expect(stored?.secrets[0].hash).toMatch(/^scrypt\$/);
  });

  it('refuses bad registrations with the admin error shape', async () => {
    for (const body of [
      {},
      { name: 'x', source: 'elsewhere' },
      { name: 'x', source: 'manual', scopes: ['scim:delete'] },
      { name: 'x', source: 'manual', scopes: [] },
      { name: 'x', source: 'manual', jwk: { kty: 'oct', k: 'c2VjcmV0' } },
      { name: 'x', source: 'manual', jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } },
    ]) {
      const res = await t.admin().post('/oauth/clients', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const res = await t
      .admin()
      .post('/oauth/clients', { name: 'x', source: 'manual', jwk: await exportJWK(privateKey) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/public key only/);
    await t.admin().get('/oauth/clients/no-such-client').expect(404);
    await t.admin(TOKENS.scim).get('/oauth/clients').expect(403);
  });
});

describe('POST /oauth/token', () => {
  it('client_secret_basic issues an RFC 9068 access token', async () => {
    const res = await tokenRequest(
      t,
      { grant_type: 'client_credentials' },
      { id: client.client_id, secret: client.client_secret! },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'scim:read scim:write' });
    const claims = decodeJwt(res.body.access_token);
    const iat = Math.floor(clock.getTime() / 1000);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: ISSUER,
      sub: client.client_id,
      client_id: client.client_id,
      scope: 'scim:read scim:write',
      iat,
      nbf: iat,
      exp: iat + 3600,
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeProtectedHeader(res.body.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = await t.request.get('/.well-known/jwks.json').expect(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(
      decodeProtectedHeader(res.body.access_token).kid,
    );
  });

  it('client_secret_post works and a narrower scope can be asked for', async () => {
    const res = await tokenRequest(t, {
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret!,
      scope: 'scim:read',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe('scim:read');
    expect(decodeJwt(res.body.access_token).scope).toBe('scim:read');
  });

  it('private_key_jwt: a signed assertion authenticates; a replay, a wrong audience or an expired one does not', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwtClient = await registerClient(t, { name: 'okta-jwt', source: 'manual', jwk: await exportJWK(publicKey) });
    expect(jwtClient.client_secret).toBeUndefined();
    const form = (assertion: string) => ({
      grant_type: 'client_credentials',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
    });
    const assertion = await clientAssertion(privateKey, jwtClient.client_id, clock);
    const ok = await tokenRequest(t, form(assertion));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(decodeJwt(ok.body.access_token).client_id).toBe(jwtClient.client_id);
    // The same assertion again (its jti is remembered until it expires).
    expectOAuthError(await tokenRequest(t, form(assertion)), 401, 'invalid_client');
    // aud may be the issuer as well as the token endpoint.
    const toIssuer = await clientAssertion(privateKey, jwtClient.client_id, clock, { aud: ISSUER });
    expect((await tokenRequest(t, form(toIssuer))).status).toBe(200);
    const wrongAud = await clientAssertion(privateKey, jwtClient.client_id, clock, {
      aud: 'https://elsewhere.example/token',
    });
    expectOAuthError(await tokenRequest(t, form(wrongAud)), 401, 'invalid_client');
    const iat = Math.floor(clock.getTime() / 1000) - 3600;
    const expired = await clientAssertion(privateKey, jwtClient.client_id, clock, { iat, exp: iat + 60 });
    expectOAuthError(await tokenRequest(t, form(expired)), 401, 'invalid_client');
    const tooLong = await clientAssertion(privateKey, jwtClient.client_id, clock, { exp: iat + 3600 * 24 });
    expectOAuthError(await tokenRequest(t, form(tooLong)), 401, 'invalid_client');
    const otherSub = await clientAssertion(privateKey, jwtClient.client_id, clock, { sub: client.client_id });
    expectOAuthError(await tokenRequest(t, form(otherSub)), 401, 'invalid_client');
    const noJti = await clientAssertion(privateKey, jwtClient.client_id, clock, { jti: undefined });
    expectOAuthError(await tokenRequest(t, form(noJti)), 401, 'invalid_client');
    // Signed by another key (claims to be this client).
    const stranger = await generateKeyPair('ES256');
    const forged = await clientAssertion(stranger.privateKey, jwtClient.client_id, clock);
    expectOAuthError(await tokenRequest(t, form(forged)), 401, 'invalid_client');
    // A secret cannot stand in for the key.
    expectOAuthError(
      await tokenRequest(t, { grant_type: 'client_credentials' }, { id: jwtClient.client_id, secret: 'guess' }),
      401,
      'invalid_client',
    );
  });

  it.each(['RS256', 'PS256', 'ES384', 'EdDSA'])('private_key_jwt with a %s key registered without alg', async (alg) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwtClient = await registerClient(t, {
      name: `jwt-${alg}`,
      source: 'manual',
      jwk: await exportJWK(publicKey),
    });
    const assertion = await clientAssertion(privateKey, jwtClient.client_id, clock, {}, alg);
    const res = await tokenRequest(t, {
      grant_type: 'client_credentials',
      client_id: jwtClient.client_id,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('a wrong secret or an unknown client is invalid_client; with Basic a 401 challenge', async () => {
    const basic = await tokenRequest(
      t,
      { grant_type: 'client_credentials' },
      { id: client.client_id, secret: 'wrong-secret' },
    );
    expectOAuthError(basic, 401, 'invalid_client');
    expect(basic.headers['www-authenticate']).toBe('Basic realm="roster"');
    const post = await tokenRequest(t, { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' });
    expectOAuthError(post, 401, 'invalid_client');
    expectOAuthError(await tokenRequest(t, { grant_type: 'client_credentials' }), 401, 'invalid_client');
    const events = await t.admin().get('/events?type=oauth_client_auth_failed').expect(200);
    expect(events.body.events.length).toBeGreaterThanOrEqual(2);
    expect(events.body.events[0]).toMatchObject({ success: false, initiatedBy: { type: 'client' } });
  });

  it('answers each malformed request as RFC 6749 §5.2 says', async () => {
    const auth = { id: client.client_id, secret: client.client_secret! };
    expectOAuthError(
      await tokenRequest(t, { grant_type: 'password', username: 'a', password: 'b' }, auth),
      400,
      'unsupported_grant_type',
    );
    expectOAuthError(await tokenRequest(t, {}, auth), 400, 'invalid_request');
    expectOAuthError(
      await tokenRequest(t, { grant_type: 'client_credentials', scope: 'admin' }, auth),
      400,
      'invalid_scope',
    );
    expectOAuthError(
      await tokenRequest(t, { grant_type: 'client_credentials', scope: 'scim:read root' }, auth),
      400,
      'invalid_scope',
    );
    const both = await tokenRequest(t, { grant_type: 'client_credentials', client_secret: 'x' }, auth);
    expectOAuthError(both, 400, 'invalid_request');
    const badType = await tokenRequest(t, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:other',
      client_assertion: 'a.b.c',
    });
    expectOAuthError(badType, 400, 'invalid_request');
    const json = await t.request.post('/oauth/token').send({ grant_type: 'client_credentials' });
    expectOAuthError(json, 400, 'invalid_request');
    const repeated = await t.request
      .post('/oauth/token')
      .type('form')
      .send('grant_type=client_credentials&grant_type=client_credentials');
    expectOAuthError(repeated, 400, 'invalid_request');
    const get = await t.request.get('/oauth/token');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it('publishes RFC 8414 metadata pointing at the JWKS', async () => {
    const res = await t.request.get('/.well-known/oauth-authorization-server').expect(200);
    expect(res.body).toMatchObject({
      issuer: ISSUER,
      token_endpoint: TOKEN_ENDPOINT,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      scopes_supported: ['scim:read', 'scim:write', 'admin'],
    });
  });
});

describe('secret rotation and revocation', () => {
  it('the previous secret works until the overlap ends (on the clock), the new one after', async () => {
    const c = await registerClient(t, { name: 'rotating', source: 'manual' });
    const rotated = await t.admin().post(`/oauth/clients/${c.client_id}/rotate-secret`).expect(200);
    const fresh = rotated.body.client_secret as string;
    expect(fresh).not.toBe(c.client_secret);
    expect(rotated.body.secrets).toHaveLength(2);
    const grant = (secret: string) =>
      tokenRequest(t, { grant_type: 'client_credentials' }, { id: c.client_id, secret });
    expect((await grant(c.client_secret!)).status).toBe(200);
    expect((await grant(fresh)).status).toBe(200);
    clock = new Date(clock.getTime() + 2 * HOUR - 1000);
    expect((await grant(c.client_secret!)).status).toBe(200);
    clock = new Date(clock.getTime() + 2000);
    expect((await grant(c.client_secret!)).status).toBe(401);
    expect((await grant(fresh)).status).toBe(200);
    const events = await t.admin().get(`/events?type=oauth_client_secret_rotated&userId=${c.client_id}`).expect(200);
    expect(events.body.events).toHaveLength(1);
  });

  it('a revoked client gets no token and the tokens it holds are refused at once', async () => {
    const c = await registerClient(t, { name: 'leaving', source: 'manual' });
    const token = await accessToken(t, c);
    await t.scim(token).get('/Users').expect(200);
    const revoked = await t.admin().post(`/oauth/clients/${c.client_id}/revoke`).expect(200);
    expect(revoked.body.revoked_at).toBeDefined();
    const refused = await t.scim(token).get('/Users');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="roster", error="invalid_token"');
    const grant = await tokenRequest(
      t,
      { grant_type: 'client_credentials' },
      { id: c.client_id, secret: c.client_secret! },
    );
    expectOAuthError(grant, 401, 'invalid_client');
    await t.admin().post(`/oauth/clients/${c.client_id}/rotate-secret`).expect(409);
    const events = await t.admin().get(`/events?userId=${c.client_id}`).expect(200);
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['oauth_client_created', 'oauth_token_issued', 'oauth_client_revoked']),
    );
    const issued = events.body.events.find((e: { type: string }) => e.type === 'oauth_token_issued');
    expect(issued).toMatchObject({
      initiatedBy: { type: 'client', name: 'leaving' },
      details: { scopes: ['scim:read', 'scim:write'] },
    });
  });
});

describe('failed client authentications are rate-limited', () => {
  it('429 with Retry-After after failedAuthPerMinute failures, even with the right secret, until refilled', async () => {
    const limited = await startTestRoster({ oauth: { failedAuthPerMinute: 3 } }, { now: () => clock });
    try {
      const c = await registerClient(limited, { name: 'target', source: 'manual' });
      const grant = (secret: string) =>
        tokenRequest(limited, { grant_type: 'client_credentials' }, { id: c.client_id, secret });
      for (let i = 0; i < 3; i++) expect((await grant(`wrong-${i}`)).status).toBe(401);
      const blocked = await grant(c.client_secret!);
      expectOAuthError(blocked, 429, 'temporarily_unavailable');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      clock = new Date(clock.getTime() + 60_000);
      expect((await grant(c.client_secret!)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('oauth.enabled false', () => {
  it('takes the token endpoint and the metadata away', async () => {
    const off = await startTestRoster({ oauth: { enabled: false } });
    try {
      await off.request.get('/.well-known/oauth-authorization-server').expect(404);
      const res = await off.request.post('/oauth/token').type('form').send('grant_type=client_credentials');
      expect(res.status).toBe(404);
      const spc = await off.scim().get('/ServiceProviderConfig').expect(200);
      expect(spc.body.authenticationSchemes.map((s: { type: string }) => s.type)).toEqual(['oauthbearertoken']);
    } finally {
      await off.close();
    }
  });
});
