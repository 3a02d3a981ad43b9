import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, type TestRoster } from '../helpers/roster.js';
import { tokenRequest } from '../oauth/oauthHelpers.js';

/** The smaller items of the third security review, each over real HTTP. */

let t: TestRoster;
beforeAll(async () => {
  t = await startTestRoster();
});
afterAll(() => t.close());

describe('API answers are never cached or sniffed', () => {
  it('SCIM and admin answers, errors included, carry Cache-Control: no-store and nosniff', async () => {
    const answers = [
      await t.scim().get('/Users?count=1'),
      await t.scim().get('/Users/no-such-user'),
      await t.request.get('/scim/v2/Users'),
      await t.admin().get('/settings'),
      await t.admin().get('/users/no-such-user'),
      await t.request.get('/admin/v1/settings'),
    ];
    for (const [i, res] of answers.entries()) {
      expect(res.headers['cache-control'], `answer ${i}`).toBe('no-store');
      expect(res.headers['x-content-type-options'], `answer ${i}`).toBe('nosniff');
    }
  });
});

describe('token request form fields named like object properties', () => {
  it('__proto__ and constructor are ordinary (unknown) fields, not "repeated"', async () => {
    for (const field of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await t.request
        .post('/oauth/token')
        .type('form')
        .send(`${field}=x&grant_type=client_credentials&client_id=c&client_secret=s`);
      expect(res.status, field).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.body.error_description).not.toMatch(/repeated/);
    }
  });

  it('a field really given twice is still refused as repeated', async () => {
    const res = await tokenRequest(t, { grant_type: 'client_credentials' }).send('grant_type=client_credentials');
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(/grant_type is repeated/);
  });
});

describe('client registration', () => {
  it('refuses an RSA key under 2048 bits, which could never authenticate', async () => {
    // jose will not make one; node:crypto will.
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const res = await t.admin().post('/oauth/clients', {
      name: 'weak',
      source: 'manual',
      jwk: publicKey.export({ format: 'jwk' }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/at least 2048 bits/);
  });

  it('accepts a 2048-bit RSA key', async () => {
    const { publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const res = await t
      .admin()
      .post('/oauth/clients', { name: 'ok', source: 'manual', jwk: await exportJWK(publicKey) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});
