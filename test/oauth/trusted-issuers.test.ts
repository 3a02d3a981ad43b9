import { createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, testConfig, type TestRoster } from '../helpers/roster.js';
import { tamper, unsignedJwt } from './oauthHelpers.js';

const ENTRA = 'https://login.example.com/tenant-1/v2.0';
const INLINE = 'https://inline.example.com';
const DOWN = 'https://down.example.com';
const AUDIENCE = 'api://roster-scim';
const APP_ID = '8f2b6a2e-entra-app';

let clock = new Date('2026-05-01T12:00:00Z');
let t: TestRoster;
let server: Server;
let jwksRequests = 0;
/** What the local JWKS endpoint serves right now. */
let served: JWK[] = [];
/** When true the JWKS endpoint answers 503. */
let failing = false;
const keys: Record<string, { privateKey: CryptoKey; jwk: JWK }> = {};

async function makeKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  keys[kid] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function sign(kid: string, claims: Record<string, unknown> = {}, iss = ENTRA): Promise<string> {
  const iat = Math.floor(clock.getTime() / 1000);
  return new SignJWT({ iss, aud: AUDIENCE, sub: 'provisioning-service', iat, nbf: iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .sign(keys[kid].privateKey);
}

const status = async (token: string) => (await t.scim(token).get('/Users')).status;
const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));

beforeAll(async () => {
  for (const kid of ['k1', 'k2', 'k3', 'inline']) await makeKey(kid);
  served = [keys.k1.jwk];
  server = createServer((req, res) => {
    jwksRequests++;
    if (failing) {
      res.statusCode = 503;
      return res.end();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/discovery/keys`;
  t = await startTestRoster(
    {
      oauth: {
        jwksCacheSeconds: 600,
        jwksRefreshCooldownSeconds: 30,
        trustedIssuers: [
          {
            name: 'entra-workload',
            issuer: ENTRA,
            jwksUri,
            audience: AUDIENCE,
            allowedSubjects: ['provisioning-service'],
            allowedAppIds: [APP_ID],
            source: 'integration',
          },
          {
            name: 'unreachable',
            issuer: DOWN,
            jwksUri: 'http://127.0.0.1:1/keys',
            audience: AUDIENCE,
            allowedSubjects: ['provisioning-service'],
          },
          {
            name: 'inline-issuer',
            issuer: INLINE,
            jwks: { keys: [keys.inline.jwk] },
            audience: [AUDIENCE, 'other'],
            allowedSubjects: ['inline-sub'],
            scopes: ['scim:read'],
          },
        ],
      },
    },
    { now: () => clock },
  );
});
afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('JWTs of trusted external issuers', () => {
  it('are accepted as SCIM client tokens with the issuer name and source; the JWKS is read once and cached', async () => {
    const token = await sign('k1');
    const created = await t.scim(token).post('/Users', { userName: 'federated@example.com' });
    expect(created.status, created.text).toBe(201);
    expect(created.body['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User'].state).toBe('ACTIVE');
    const events = await t.admin().get(`/events?type=user_create&userId=${created.body.id}`).expect(200);
    expect(events.body.events[0].initiatedBy).toEqual({
      type: 'scim',
      name: 'entra-workload',
      id: `issuer:${ENTRA}#provisioning-service`,
    });
    expect(await status(await sign('k1'))).toBe(200);
    expect(jwksRequests).toBe(1);
  });

  it('accept an allowed appid (Entra v1) or azp (v2) in place of an allowed sub, and nothing else', async () => {
    expect(await status(await sign('k1', { sub: 'someone-else', appid: APP_ID }))).toBe(200);
    expect(await status(await sign('k1', { sub: 'someone-else', azp: APP_ID }))).toBe(200);
    expect(await status(await sign('k1', { sub: 'someone-else', appid: 'another-app' }))).toBe(401);
    expect(await status(await sign('k1', { sub: undefined }))).toBe(401);
  });

  it('refuse a wrong audience, a wrong issuer, expired or not-yet-valid tokens (60 s skew)', async () => {
    expect(await status(await sign('k1', { aud: 'api://someone-else' }))).toBe(401);
    expect(await status(await sign('k1', {}, 'https://login.example.com/tenant-2/v2.0'))).toBe(401);
    const iat = Math.floor(clock.getTime() / 1000);
    expect(await status(await sign('k1', { exp: iat - 30 }))).toBe(200);
    expect(await status(await sign('k1', { exp: iat - 90 }))).toBe(401);
    expect(await status(await sign('k1', { nbf: iat + 30 }))).toBe(200);
    expect(await status(await sign('k1', { nbf: iat + 90 }))).toBe(401);
    expect(await status(await sign('k1', { exp: undefined }))).toBe(401);
  });

  it('refuse a tampered signature, alg none and HS256 signed with the public key', async () => {
    expect(await status(tamper(await sign('k1')))).toBe(401);
    const iat = Math.floor(clock.getTime() / 1000);
    const claims = { iss: ENTRA, aud: AUDIENCE, sub: 'provisioning-service', iat, exp: iat + 600 };
    expect(await status(unsignedJwt(claims, 'JWT'))).toBe(401);
    const pem = createPublicKey({ key: keys.k1.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [String(pem), JSON.stringify(keys.k1.jwk)]) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .sign(new TextEncoder().encode(secret));
      expect(await status(forged)).toBe(401);
    }
  });

  it('an unknown kid re-reads the JWKS exactly once per cooldown, however many arrive', async () => {
    const before = jwksRequests;
    served = [keys.k1.jwk, keys.k2.jwk]; // the issuer rotates
    advance(31); // past the cooldown since the last read
    expect(await status(await sign('k2'))).toBe(200);
    expect(jwksRequests).toBe(before + 1);
    // A kid the issuer does not publish: refused, and no further read within the cooldown.
    for (let i = 0; i < 5; i++) expect(await status(await sign('k3'))).toBe(401);
    expect(jwksRequests).toBe(before + 1);
    advance(31);
    expect(await status(await sign('k3'))).toBe(401);
    expect(jwksRequests).toBe(before + 2);
    // Keys already known verify without a read.
    expect(await status(await sign('k1'))).toBe(200);
    expect(jwksRequests).toBe(before + 2);
  });

  it('re-reads the JWKS once it is jwksCacheSeconds old', async () => {
    const before = jwksRequests;
    advance(601);
    expect(await status(await sign('k1'))).toBe(200);
    expect(jwksRequests).toBe(before + 1);
  });

  it('keeps verifying with the keys read before while the issuer answers errors', async () => {
    const before = jwksRequests;
    failing = true;
    try {
      advance(601);
      expect(await status(await sign('k1'))).toBe(200);
      expect(await status(await sign('k1'))).toBe(200);
      expect(jwksRequests).toBe(before + 1);
    } finally {
      failing = false;
    }
  });

  it('an inline JWKS needs no HTTP; the issuer scopes apply (read-only here)', async () => {
    const before = jwksRequests;
    const token = await sign('inline', { sub: 'inline-sub', aud: 'other' }, INLINE);
    expect(await status(token)).toBe(200);
    const write = await t.scim(token).post('/Users', { userName: 'nope@example.com' });
    expect(write.status).toBe(403);
    expect(write.headers['www-authenticate']).toMatch(/insufficient_scope/);
    // A key of the other issuer does not verify this one's tokens.
    expect(await status(await sign('k1', { sub: 'inline-sub' }, INLINE))).toBe(401);
    expect(jwksRequests).toBe(before);
  });

  it('a JWKS that cannot be read refuses the token (401), not a server error', async () => {
    expect(await status(await sign('k1', {}, DOWN))).toBe(401);
  });

  it('are listed in ServiceProviderConfig', async () => {
    const res = await t.scim().get('/ServiceProviderConfig').expect(200);
    expect(res.body.authenticationSchemes.map((s: { type: string }) => s.type)).toEqual([
      'oauthbearertoken',
      'oauth2',
      'oauthbearertoken',
    ]);
    expect(res.body.authenticationSchemes[2].specUri).toBe('https://www.rfc-editor.org/rfc/rfc9068');
  });
});

describe('trusted issuer configuration', () => {
  const issuer = {
    name: 'x',
    issuer: 'https://x.example',
    jwksUri: 'https://x.example/keys',
    audience: 'a',
    allowedSubjects: ['s'],
  };
  it('refuses alg none, HMAC, no allowed caller, and both or neither of jwksUri and jwks', () => {
    const load = (extra: Record<string, unknown>) => () =>
      testConfig({ oauth: { trustedIssuers: [{ ...issuer, ...extra }] } });
    expect(load({})).not.toThrow();
    expect(load({ algorithms: ['none'] })).toThrow(/oauth\.trustedIssuers\.0\.algorithms/);
    expect(load({ algorithms: ['HS256'] })).toThrow(/algorithms/);
    expect(load({ allowedSubjects: [] })).toThrow(/allowedSubjects/);
    expect(load({ jwks: { keys: [{ kty: 'RSA' }] } })).toThrow(/jwksUri/);
    expect(load({ jwksUri: undefined })).toThrow(/jwksUri/);
  });
});
