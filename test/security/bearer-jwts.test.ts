import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import { startTestRoster, type TestRoster } from '../helpers/roster.js';
import { accessToken, registerClient } from '../oauth/oauthHelpers.js';

/**
 * Bearer JWTs that verify but are not access tokens: a trusted issuer's SET, logout token or ID
 * token is refused on the SCIM API; Roster's own token issued in the future is refused; and a flood
 * of JWTs naming Roster's issuer does not read the signing keys from the database each time.
 */

const IDP = 'https://idp.example.com';
const AUDIENCE = 'api://roster';
let t: TestRoster;
let key: CryptoKey;
let jwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  key = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256' };
  t = await startTestRoster({
    oauth: {
      trustedIssuers: [
        {
          name: 'idp',
          issuer: IDP,
          jwks: { keys: [jwk] },
          audience: AUDIENCE,
          allowedSubjects: ['provisioner'],
          algorithms: ['ES256'],
        },
      ],
    },
  });
});
afterAll(() => t.close());

function idpToken(claims: Record<string, unknown>, typ?: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: IDP, aud: AUDIENCE, sub: 'provisioner', iat, exp: iat + 600, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1', ...(typ !== undefined && { typ }) })
    .sign(key);
}

const status = async (token: string) => (await t.scim(token).get('/Users?count=1')).status;

describe("a trusted issuer's tokens", () => {
  it('are accepted without typ, as JWT or as at+jwt', async () => {
    expect(await status(await idpToken({}))).toBe(200);
    expect(await status(await idpToken({}, 'JWT'))).toBe(200);
    expect(await status(await idpToken({}, 'at+jwt'))).toBe(200);
    expect(await status(await idpToken({}, 'application/at+JWT'))).toBe(200);
  });

  it('are refused when they are a security event token, a logout token or an ID token', async () => {
    const events = { 'https://schemas.openid.net/secevent/risc/event-type/account-disabled': {} };
    expect(await status(await idpToken({ events }, 'secevent+jwt'))).toBe(401);
    expect(await status(await idpToken({ events }))).toBe(401);
    expect(
      await status(
        await idpToken({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, 'logout+jwt'),
      ),
    ).toBe(401);
    expect(await status(await idpToken({ nonce: 'n-0S6_WzA2Mj', auth_time: 1_700_000_000 }))).toBe(401);
    expect(await status(await idpToken({}, 'id_token+jwt'))).toBe(401);
  });

  it('are refused when issued in the future beyond the clock skew', async () => {
    const iat = Math.floor(Date.now() / 1000) + 600;
    expect(await status(await idpToken({ iat, exp: iat + 600 }))).toBe(401);
    expect(await status(await idpToken({ iat: iat - 570, exp: iat + 600 }))).toBe(200); // 30 s ahead: skew
  });
});

describe("Roster's own access tokens", () => {
  it('are refused when their iat is in the future (no nbf), even with a valid signature', async () => {
    const client = await registerClient(t, { name: 'okta', source: 'manual' });
    const token = await accessToken(t, client);
    expect(await status(token)).toBe(200);
    // Re-signed with Roster's own current key, iat an hour ahead: only the database holder could.
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    const later = { ...payload, iat: payload.iat + 3600, exp: payload.exp + 3600, jti: `${payload.jti}-future` };
    delete later.nbf;
    const forged = await t.roster.signingKeys.sign(later, header.typ);
    expect(await status(forged)).toBe(401);
  });

  it('a flood of JWTs naming Roster as issuer reads the signing keys at most once', async () => {
    const client = await registerClient(t, { name: 'okta-2', source: 'manual' });
    const token = await accessToken(t, client);
    expect(await status(token)).toBe(200);
    const reads: CommandStartedEvent[] = [];
    const listener = (e: CommandStartedEvent) => {
      if (e.commandName === 'find' && e.command.find === 'signing_keys') reads.push(e);
    };
    t.client.on('commandStarted', listener);
    try {
      const [h, p] = token.split('.');
      const bogus = `${h}.${p}.${Buffer.alloc(64, 7).toString('base64url')}`;
      const statuses = await Promise.all(Array.from({ length: 50 }, () => status(bogus)));
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect(reads.length).toBeLessThanOrEqual(1);
    } finally {
      t.client.off('commandStarted', listener);
    }
  });
});
