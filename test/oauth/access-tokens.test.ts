import { randomUUID } from 'node:crypto';
import type { Layer } from '@koa/router';
import { createPublicKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';
import { accessToken, ISSUER, registerClient, tamper, unsignedJwt, type RegisteredClient } from './oauthHelpers.js';

let clock = new Date('2026-04-01T08:00:00Z');
const t = useTestRoster({}, { now: () => clock });
let full: RegisteredClient;
let readOnly: string;
let writeOnly: string;
let userId: string;
let groupId: string;

beforeAll(async () => {
  full = await registerClient(t, { name: 'hr-sync', source: 'integration' });
  readOnly = await accessToken(t, full, 'scim:read');
  writeOnly = await accessToken(t, full, 'scim:write');
  userId = (await t.scim().post('/Users', { userName: 'scoped@example.com' }).expect(201)).body.id;
  groupId = (await t.scim().post('/Groups', { displayName: 'Scoped' }).expect(201)).body.id;
});

const expectInvalidToken = async (token: string) => {
  const res = await t.scim(token).get('/Users');
  expect(res.status, res.text).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Bearer realm="roster", error="invalid_token"');
};

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Every SCIM route with every method of METHODS it answers, read from the app's own routers. */
function scimRoutes(): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  for (const middleware of t.roster.app.middleware as { router?: { stack: Layer[] } }[]) {
    for (const layer of middleware.router?.stack ?? []) {
      if (typeof layer.path !== 'string' || !layer.path.startsWith('/scim/v2') || layer.methods.length === 0) continue;
      const path = layer.path.replace(/:\w+/g, layer.path.includes('/Groups/') ? groupId : userId);
      for (const method of layer.methods.filter((m) => METHODS.includes(m))) routes.push({ method, path });
    }
  }
  return routes;
}

const isRead = (method: string, path: string) => method === 'GET' || (method === 'POST' && path.endsWith('/.search'));

function send(method: string, path: string, token: string) {
  let test = t.request[method.toLowerCase() as 'get'](path).set('Authorization', `Bearer ${token}`);
  if (['POST', 'PUT', 'PATCH'].includes(method)) {
    test = test.set('Content-Type', 'application/scim+json').send('{"userName":"x@example.com"}');
  }
  return test;
}

describe('scopes on every SCIM route', () => {
  it('finds the SCIM routes, reads and writes', () => {
    const routes = scimRoutes();
    expect(routes.filter((r) => isRead(r.method, r.path)).length).toBeGreaterThan(10);
    expect(routes.filter((r) => !isRead(r.method, r.path)).length).toBeGreaterThan(8);
    expect(routes).toContainEqual({ method: 'POST', path: '/scim/v2/Bulk' });
    expect(routes).toContainEqual({ method: 'POST', path: '/scim/v2/.search' });
  });

  it('a scim:read token reads, and gets 403 insufficient_scope on every write', async () => {
    for (const { method, path } of scimRoutes()) {
      const res = await send(method, path, readOnly);
      if (isRead(method, path)) {
        expect([401, 403], `${method} ${path} answered ${res.status}`).not.toContain(res.status);
      } else {
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="roster", error="insufficient_scope", scope="scim:write"',
        );
        expect(res.body.status).toBe('403');
      }
    }
    // Nothing was written.
    await t.scim().get(`/Users/${userId}`).expect(200);
  });

  it('a scim:write token writes, and gets 403 insufficient_scope on every read', async () => {
    for (const { method, path } of scimRoutes()) {
      if (isRead(method, path)) {
        const res = await send(method, path, writeOnly);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="roster", error="insufficient_scope", scope="scim:read"',
        );
      } else {
        // Writes aimed at ids that do not exist: past the scope check, refused by the route itself.
        const res = await send(method, path.replace(userId, randomUUID()).replace(groupId, randomUUID()), writeOnly);
        expect([401, 403], `${method} ${path} answered ${res.status}`).not.toContain(res.status);
      }
    }
    const created = await t.scim(writeOnly).post('/Users', { userName: 'written@example.com' });
    expect(created.status).toBe(201);
    // The client's source (integration) picks the default state, its name is the actor.
    expect(created.body['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User'].state).toBe('ACTIVE');
    const events = await t.admin().get(`/events?type=user_create&userId=${created.body.id}`).expect(200);
    expect(events.body.events[0].initiatedBy).toEqual({ type: 'scim', name: 'hr-sync', id: `oauth:${full.client_id}` });
    await t.scim(writeOnly).delete(`/Users/${created.body.id}`).expect(204);
  });

  it('static SCIM tokens keep both scopes', async () => {
    await t.scim(TOKENS.scim).get('/Users').expect(200);
    await t
      .scim(TOKENS.scim)
      .patch(`/Users/${userId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'Still static' }],
      })
      .expect(200);
  });
});

describe('Roster access tokens that must be refused', () => {
  const claims = () => {
    const iat = Math.floor(clock.getTime() / 1000);
    return {
      iss: ISSUER,
      aud: ISSUER,
      sub: full.client_id,
      client_id: full.client_id,
      directory: 'default',
      scope: 'scim:read',
      iat,
      exp: iat + 600,
      jti: randomUUID(),
    };
  };

  it('an expired token, and one not yet valid (on the clock, past the 60 s skew)', async () => {
    const token = await accessToken(t, full);
    await t.scim(token).get('/Users').expect(200);
    const start = clock;
    clock = new Date(start.getTime() + 3600_000 + 59_000);
    await t.scim(token).get('/Users').expect(200);
    clock = new Date(start.getTime() + 3600_000 + 61_000);
    await expectInvalidToken(token);
    clock = new Date(start.getTime() - 61_000);
    await expectInvalidToken(token);
    clock = start;
  });

  it('a tampered signature or payload', async () => {
    const token = await accessToken(t, full, 'scim:read');
    await expectInvalidToken(tamper(token));
    const [h, , s] = token.split('.');
    const widened = Buffer.from(JSON.stringify({ ...decodeJwt(token), scope: 'scim:read scim:write admin' })).toString(
      'base64url',
    );
    await expectInvalidToken(`${h}.${widened}.${s}`);
  });

  it('a wrong audience, a wrong issuer, a wrong typ, or no client_id, even when signed with Roster key', async () => {
    const keys = t.roster.signingKeys;
    await t
      .scim(await keys.sign(claims(), 'at+jwt'))
      .get('/Users')
      .expect(200);
    await expectInvalidToken(await keys.sign({ ...claims(), aud: 'https://other.example' }, 'at+jwt'));
    await expectInvalidToken(await keys.sign({ ...claims(), iss: 'https://other.example' }, 'at+jwt'));
    await expectInvalidToken(await keys.sign(claims(), 'secevent+jwt'));
    await expectInvalidToken(await keys.sign({ ...claims(), client_id: undefined }, 'at+jwt'));
    await expectInvalidToken(await keys.sign({ ...claims(), client_id: 'unknown-client' }, 'at+jwt'));
    // The directory claim is required and must name the directory the request is for.
    await expectInvalidToken(await keys.sign({ ...claims(), directory: undefined }, 'at+jwt'));
    await expectInvalidToken(await keys.sign({ ...claims(), directory: 'another-directory' }, 'at+jwt'));
  });

  it('alg none, and HS256 "signed" with the public key', async () => {
    await expectInvalidToken(unsignedJwt(claims()));
    const jwks = await t.request.get('/.well-known/jwks.json').expect(200);
    const jwk = jwks.body.keys[0];
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    for (const secret of [pem, JSON.stringify(jwk)]) {
      const forged = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })
        .sign(new TextEncoder().encode(secret));
      expect(decodeProtectedHeader(forged).alg).toBe('HS256');
      await expectInvalidToken(forged);
    }
  });

  it('a scope the client was never given does not count', async () => {
    const token = await t.roster.signingKeys.sign({ ...claims(), scope: 'admin' }, 'at+jwt');
    const res = await t.admin(token).get('/settings');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('insufficient_scope');
  });
});

describe('the admin API and the credential check', () => {
  it('an admin-scoped client opens the admin API (not SCIM); a SCIM client does not', async () => {
    const admin = await registerClient(t, { name: 'ops-automation', source: 'manual', scopes: ['admin'] });
    const token = await accessToken(t, admin);
    await t.admin(token).get('/settings').expect(200);
    const created = await t.admin(token).post('/oauth/clients', { name: 'made-by-automation', source: 'manual' });
    expect(created.status).toBe(201);
    const events = await t.admin().get(`/events?type=oauth_client_created&userId=${created.body.client_id}`);
    expect(events.body.events[0].initiatedBy).toEqual({
      type: 'admin',
      name: 'ops-automation',
      id: `oauth:${admin.client_id}`,
    });
    const scim = await t.scim(token).get('/Users');
    expect(scim.status).toBe(403);
    expect(scim.headers['www-authenticate']).toMatch(/error="insufficient_scope", scope="scim:read scim:write"/);
    const refused = await t.admin(await accessToken(t, full)).get('/settings');
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('insufficient_scope');
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="roster", error="insufficient_scope", scope="admin"',
    );
  });

  it('no OAuth token opens POST /auth/verify', async () => {
    const res = await t.request
      .post('/auth/verify')
      .set('Authorization', `Bearer ${await accessToken(t, full)}`)
      .send({ username: 'scoped@example.com', password: 'x' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });
});

describe('ServiceProviderConfig.authenticationSchemes', () => {
  it('lists the static tokens (primary) and OAuth client credentials, with spec and documentation links', async () => {
    const res = await t.scim().get('/ServiceProviderConfig').expect(200);
    const schemes = res.body.authenticationSchemes as Record<string, unknown>[];
    expect(schemes.map((s) => [s.type, s.primary])).toEqual([
      ['oauthbearertoken', true],
      ['oauth2', false],
    ]);
    for (const scheme of schemes) {
      expect(scheme.specUri).toMatch(/^https:\/\/www\.rfc-editor\.org\/rfc\/rfc\d+$/);
      expect(scheme.documentationUri).toMatch(/^http:\/\/roster\.test\//);
    }
  });

  it('without static SCIM tokens lists OAuth client credentials alone, as primary', async () => {
    const oauthOnly = await startTestRoster({
      auth: { ...t.config.auth, scimTokens: [] },
    });
    try {
      const c = await registerClient(oauthOnly, { name: 'only-oauth', source: 'manual', scopes: ['scim:read'] });
      const res = await oauthOnly
        .scim(await accessToken(oauthOnly, c))
        .get('/ServiceProviderConfig')
        .expect(200);
      expect(
        res.body.authenticationSchemes.map((s: { type: string; primary: boolean }) => [s.type, s.primary]),
      ).toEqual([['oauth2', true]]);
    } finally {
      await oauthOnly.close();
    }
  });
});
