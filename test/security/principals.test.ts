import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoster } from '../../src/compose.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { startTestRoster, testConfig, TOKENS, type TestRoster } from '../helpers/roster.js';
import { accessToken, registerClient } from '../oauth/oauthHelpers.js';
import { FAST, USER } from '../securityEvents/receiver.js';

/**
 * Principals are identified, not named: a static token, an OAuth client, a console admin and a
 * trusted issuer's caller each have a typed id (`token:`, `oauth:`, `console:`, `issuer:`), which
 * receiver bindings and the event log use; names that could pass for another kind are refused.
 */

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
let t: TestRoster;
beforeAll(async () => {
  t = await startTestRoster(FAST, { start: true });
});
afterAll(() => t.close());

const asyncBulk = (token: string, name: string) =>
  t.request
    .post('/scim/v2/Bulk')
    .set('Authorization', `Bearer ${token}`)
    .set('Prefer', 'respond-async')
    .set('Content-Type', 'application/scim+json')
    .send(
      JSON.stringify({
        schemas: [BULK_REQUEST],
        Operations: [{ method: 'POST', path: '/Users', bulkId: 'a', data: USER(name) }],
      }),
    );

describe('names that could pass for another kind of principal', () => {
  it('are refused for OAuth clients', async () => {
    for (const name of ['console:admin', 'token:okta', 'oauth:x', 'issuer:https://idp#sub']) {
      const res = await t.admin().post('/oauth/clients', { name, source: 'manual', scopes: ['admin'] });
      expect(res.status, name).toBe(400);
      expect(res.body.error.message).toMatch(/must not start with token:, oauth:, console: or issuer:/);
    }
  });

  it('are refused for static tokens, as are two tokens of one kind with the same name', () => {
    const token = (name: string) => ({ name, token: `${name.replace(/\W/g, '')}-0123456789abcdef` });
    expect(() => testConfig({ auth: { adminTokens: [token('console:admin')] } })).toThrow(
      /auth\.adminTokens\.0\.name: must not start with/,
    );
    expect(() => loadConfig({ env: {}, overrides: { auth: { scimTokens: [token('okta'), token('okta')] } } })).toThrow(
      /auth\.scimTokens: two tokens have the same name/,
    );
  });
});

describe('a receiver bound to a static token', () => {
  it("answers that token's asynchronous requests, not those of an OAuth client with the same name", async () => {
    await t
      .admin()
      .post('/event-receivers', { name: 'okta-async', delivery: 'poll', audience: 'okta', client: 'token:okta' })
      .expect(201);
    const namesake = await registerClient(t, { name: 'okta', source: 'manual' });
    const oauthToken = await accessToken(t, namesake);
    expect((await asyncBulk(TOKENS.scim, 'static-okta')).status).toBe(202);
    // The OAuth client named "okta" has no receiver of its own: answered synchronously.
    const theirs = await asyncBulk(oauthToken, 'oauth-okta');
    expect(theirs.status).toBe(200);
    expect(theirs.body.Operations[0].status).toBe('201');
  });

  it('refuses a bare name as the binding', async () => {
    const res = await t
      .admin()
      .post('/event-receivers', { name: 'bare', delivery: 'poll', audience: 'x', client: 'okta' })
      .expect(400);
    expect(res.body.error.message).toMatch(/principal id/);
  });
});

describe('the event log', () => {
  it('records the id of each kind of principal; an OAuth admin client and a console admin never share one', async () => {
    const automation = await registerClient(t, { name: 'console-admin', source: 'manual', scopes: ['admin'] });
    const adminOAuth = await accessToken(t, automation);
    await t.admin(adminOAuth).post('/oauth/clients', { name: 'by-oauth', source: 'manual' }).expect(201);
    await t.admin().post('/oauth/clients', { name: 'by-static', source: 'manual' }).expect(201);
    const signIn = await t.request
      .post('/console/session')
      .set('Content-Type', 'application/json')
      .send({ token: TOKENS.admin })
      .expect(201);
    await t.request
      .post('/admin/v1/oauth/clients')
      .set('Cookie', String(signIn.headers['set-cookie']).split(';')[0])
      .set('X-CSRF-Token', signIn.body.csrfToken)
      .send({ name: 'by-console', source: 'manual' })
      .expect(201);
    const events = (await t.admin().get('/events?type=oauth_client_created&limit=10').expect(200)).body.events as {
      details: { name: string };
      initiatedBy: { type: string; name: string; id: string };
    }[];
    const by = (name: string) => events.find((e) => e.details.name === name)!.initiatedBy;
    expect(by('by-oauth')).toEqual({ type: 'admin', name: 'console-admin', id: `oauth:${automation.client_id}` });
    expect(by('by-static')).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });
    expect(by('by-console')).toEqual({ type: 'admin', name: 'console:admin', id: 'console:admin' });
  });
});

describe('receivers bound by name before this version', () => {
  it('are bound to the principal id at start-up: the static token first, else the one OAuth client', async () => {
    const client = await registerClient(t, { name: 'workday', source: 'bulk' });
    const receivers = t.db.collection('event_receivers');
    const legacy = (id: string, client: string) => ({
      _id: id as never,
      name: id,
      delivery: 'poll',
      audience: id,
      events: [],
      level: 'notice',
      attributes: [],
      enabled: true,
      client,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await receivers.insertMany([
      legacy('legacy-static', 'hr-integration'),
      legacy('legacy-oauth', 'workday'),
      legacy('legacy-unknown', 'nobody'),
    ]);
    const again = await createRoster({ config: t.config, db: t.db, logger: createLogger('silent') });
    await again.stop();
    const bound = Object.fromEntries(
      (
        await receivers.find({ _id: { $in: ['legacy-static', 'legacy-oauth', 'legacy-unknown'] as never[] } }).toArray()
      ).map((r) => [String(r._id), r.client]),
    );
    expect(bound).toEqual({
      'legacy-static': 'token:hr-integration',
      'legacy-oauth': `oauth:${client.client_id}`,
      'legacy-unknown': 'nobody',
    });
  });
});
