/**
 * Directories (many isolated organizations in one Roster) over real HTTP: the operators' API, who
 * may call what, a directory's own tokens and settings (their effect on states and emails, without
 * a restart), soft delete and purge, and a suspended directory's emails.
 */
import { describe, expect, it } from 'vitest';
import type supertest from 'supertest';
import { createTestDirectory, type TestDirectory } from '../helpers/directories.js';
import { startTestRoster, TOKENS, useMailRoster, type TestRoster } from '../helpers/roster.js';
import { GROUP, LIFECYCLE, USER } from '../helpers/scim.js';
import { expectError } from '../helpers/scimResponses.js';
import type { ReceivedMail, SmtpSink } from '../helpers/smtpSink.js';

const FILE_FROM = 'roster@file.example';
const FILE_ORG = 'File Org';

const { t, sink } = useMailRoster({
  mail: { from: FILE_FROM, orgName: FILE_ORG },
  users: { defaultState: { manual: 'STAGED', bulk: 'ACTIVE', integration: 'ACTIVE' } },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Several job cycles (jobs.processEvery is 200 ms here). */
const SETTLE_MS = 800;

let seq = 0;
/** A slug or name no other test of this file uses. */
function unique(prefix: string): string {
  seq += 1;
  return `${prefix}${seq}-${Math.random().toString(36).slice(2, 7)}`;
}

const bearer = (token: string) => `Bearer ${token}`;

/** The operators' API with the configuration's admin token (or another). */
function operator(r: TestRoster, token: string = TOKENS.admin) {
  const send = (test: supertest.Test, body: unknown) => (body === undefined ? test : test.send(body as object));
  return {
    get: (p: string) => r.request.get(`/admin/v1${p}`).set('Authorization', bearer(token)),
    post: (p: string, body?: unknown) =>
      send(r.request.post(`/admin/v1${p}`).set('Authorization', bearer(token)), body),
    patch: (p: string, body?: unknown) =>
      send(r.request.patch(`/admin/v1${p}`).set('Authorization', bearer(token)), body),
    delete: (p: string) => r.request.delete(`/admin/v1${p}`).set('Authorization', bearer(token)),
  };
}

function userBody(userName: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER],
    userName,
    name: { givenName: 'Ann', familyName: 'Lee' },
    emails: [{ value: `${userName}@corp.example`, type: 'work', primary: true }],
    ...extra,
  };
}

async function createUserIn(agent: { post(p: string, body?: unknown): supertest.Test }, userName = unique('user')) {
  const res = await agent.post('/Users', userBody(userName));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; userName: string; [LIFECYCLE]: { state: string } };
}

interface EventJson {
  type: string;
  resource?: { type: string; id: string; username?: string };
  initiatedBy: { type: string; name: string; id?: string };
  changes?: { field: string; from: unknown; to: unknown }[];
  details?: Record<string, unknown>;
  success?: boolean;
}

async function eventsIn(dir: TestDirectory, type: string): Promise<EventJson[]> {
  const res = await dir.admin().get(`/events?type=${type}&limit=200`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.events as EventJson[];
}

/** Waits until the directory's log has `count` events of `type` (recording can trail an email). */
async function waitForEventsIn(dir: TestDirectory, type: string, count = 1, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await eventsIn(dir, type);
    if (events.length >= count || Date.now() > deadline) return events;
    await sleep(100);
  }
}

const mailsTo = (s: SmtpSink, address: string) =>
  s.messages.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));

async function waitForMailTo(s: SmtpSink, address: string, timeoutMs = 15_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  while (mailsTo(s, address).length === 0) {
    if (Date.now() > deadline) throw new Error(`no email to ${address}`);
    await sleep(50);
  }
  return mailsTo(s, address)[0];
}

describe('operators manage directories', () => {
  it('creates a directory: 201, its shape and Location', async () => {
    const slug = unique('acme');
    const res = await operator(t).post('/directories', { slug, name: '  Acme Inc  ' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`http://roster.test/admin/v1/directories/${id}`);
    expect(res.body).toEqual({
      id,
      slug,
      name: 'Acme Inc',
      status: 'active',
      scimBaseUrl: `http://roster.test/directories/${slug}/scim/v2`,
      tokenEndpoint: `http://roster.test/directories/${slug}/oauth/token`,
      adminBaseUrl: `http://roster.test/admin/v1/directories/${id}`,
      settings: {},
      activity: { scimRequests: 0, scimErrors: 0 },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const created = await operator(t).get(`/directories/${id}`);
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      id,
      slug,
      name: 'Acme Inc',
      status: 'active',
      counts: { users: 0, groups: 0 },
    });
    const events = await eventsIn(await adminView(id, slug), 'directory_created');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      resource: { type: 'Directory', id, username: slug },
      initiatedBy: { type: 'admin', name: 'admin' },
    });
  });

  it('refuses bad slugs (400 invalid_slug) and taken ones (409)', async () => {
    for (const slug of ['Acme', 'a', '-acme', 'acme-', 'ac_me', 'a'.repeat(41), '', 42, undefined]) {
      const res = await operator(t).post('/directories', { slug, name: 'X' });
      expect(res.status, `slug ${JSON.stringify(slug)}`).toBe(400);
      expect(res.body.error.code, `slug ${JSON.stringify(slug)}`).toBe('invalid_slug');
    }
    const taken = await operator(t).post('/directories', { slug: 'default', name: 'X' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('slug_taken');
    const slug = unique('dup');
    expect((await operator(t).post('/directories', { slug, name: 'First' })).status).toBe(201);
    const dup = await operator(t).post('/directories', { slug, name: 'Second' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('slug_taken');
    const noName = await operator(t).post('/directories', { slug: unique('noname'), name: '  ' });
    expect(noName.status).toBe(400);
    expect(noName.body.error.code).toBe('invalid_name');
    const list = await operator(t).get('/directories');
    expect(list.body.directories.filter((d: { slug: string }) => d.slug === slug)).toHaveLength(1);
    expect(list.body.directories.filter((d: { name: string }) => d.name === 'X')).toHaveLength(0);
  });

  it('lists directories with their counts, the default one first', async () => {
    const a = await createTestDirectory(t, unique('count'));
    const prefix = unique('counted');
    for (let i = 0; i < 3; i++) await createUserIn(a.scim(), `${prefix}-${i}`);
    const group = await a.scim().post('/Groups', { schemas: [GROUP], displayName: unique('team') });
    expect(group.status).toBe(201);
    const list = await operator(t).get('/directories');
    expect(list.status).toBe(200);
    const directories = list.body.directories as { id: string; slug: string; counts: unknown }[];
    expect(directories[0]).toMatchObject({ id: 'default', slug: 'default', status: 'active' });
    expect(directories.find((d) => d.id === a.id)).toMatchObject({
      slug: a.slug,
      status: 'active',
      counts: { users: 3, groups: 1 },
    });
    const one = await operator(t).get(`/directories/${a.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: a.id, slug: a.slug, counts: { users: 3, groups: 1 } });
    // The directory's users are not the default directory's.
    const filter = `/Users?filter=${encodeURIComponent(`userName sw "${prefix}"`)}`;
    expect((await a.scim().get(filter)).body.totalResults).toBe(3);
    const inDefault = await t.scim().get(filter);
    expect(inDefault.status).toBe(200);
    expect(inDefault.body.totalResults).toBe(0);
    expect((await t.admin().get(`/users?q=${prefix}`)).body.totalResults).toBe(0);
    expect((await operator(t).get('/directories/no-such-directory')).status).toBe(404);
  });

  it('renames a directory and records directory_updated in its own event log', async () => {
    const a = await createTestDirectory(t, unique('rename'), { name: 'Old name' });
    const res = await operator(t).patch(`/directories/${a.id}`, { name: 'New name' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: a.id, name: 'New name', status: 'active' });
    expect((await operator(t).get(`/directories/${a.id}`)).body.name).toBe('New name');
    const events = await eventsIn(a, 'directory_updated');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      resource: { type: 'Directory', id: a.id },
      initiatedBy: { type: 'admin', name: 'admin' },
      changes: [{ field: 'name', from: 'Old name', to: 'New name' }],
    });
    // Not in the default directory's log.
    const inDefault = await t.admin().get('/events?type=directory_updated&limit=200');
    expect(inDefault.body.events.filter((e: EventJson) => e.resource?.id === a.id)).toEqual([]);
    const bad = await operator(t).patch(`/directories/${a.id}`, { status: 'paused' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_status');
  });

  it('suspends a directory (its SCIM base answers 403, the default one is unaffected) and resumes it', async () => {
    const a = await createTestDirectory(t, unique('susp'));
    const user = await createUserIn(a.scim());
    expect((await a.scim().get(`/Users/${user.id}`)).status).toBe(200);
    const suspended = await operator(t).patch(`/directories/${a.id}`, { status: 'suspended' });
    expect(suspended.status).toBe(200);
    expect(suspended.body.status).toBe('suspended');
    expectError(await a.scim().get(`/Users/${user.id}`), 403);
    expectError(await a.scim().post('/Users', userBody(unique('late'))), 403);
    // Its token endpoint too (everything under its prefix but the admin API).
    expect((await t.request.post(`/directories/${a.slug}/oauth/token`).type('form').send({})).status).toBe(403);
    expect((await t.scim().get('/Users?count=1')).status).toBe(200);
    const [event] = await eventsIn(a, 'directory_updated');
    expect(event.changes).toEqual([{ field: 'status', from: 'active', to: 'suspended' }]);
    const resumed = await operator(t).patch(`/directories/${a.id}`, { status: 'active' });
    expect(resumed.status).toBe(200);
    expect((await a.scim().get(`/Users/${user.id}`)).status).toBe(200);
  });

  it('never suspends or deletes the default directory (409)', async () => {
    const suspend = await operator(t).patch('/directories/default', { status: 'suspended' });
    expect(suspend.status).toBe(409);
    expect(suspend.body.error.code).toBe('default_directory');
    const remove = await operator(t).delete('/directories/default');
    expect(remove.status).toBe(409);
    expect(remove.body.error.code).toBe('default_directory');
    expect((await operator(t).get('/directories/default')).body.status).toBe('active');
    expect((await t.scim().get('/Users?count=1')).status).toBe(200);
  });
});

/** The directory's admin API as TestDirectory gives it, for a directory made by hand. */
async function adminView(id: string, slug: string): Promise<TestDirectory> {
  const base = `/admin/v1/directories/${id}`;
  const call = (method: 'get' | 'post' | 'put' | 'patch' | 'delete') => (p: string, body?: unknown) => {
    const test = t.request[method](`${base}${p}`).set('Authorization', bearer(TOKENS.admin));
    return body === undefined ? test : test.send(body as object);
  };
  const agent = {
    get: call('get'),
    post: call('post'),
    put: call('put'),
    patch: call('patch'),
    delete: call('delete'),
  };
  return { id, slug, scimBase: '', scimToken: '', scim: () => agent, admin: () => agent };
}

describe('who may call the operators API', () => {
  it('a SCIM token of the configuration is no admin token: 403 on /admin/v1/directories', async () => {
    const res = await operator(t, TOKENS.scim).get('/directories');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', message: 'A scim token cannot call the admin API' });
    expect((await operator(t, TOKENS.scim).post('/directories', { slug: unique('x'), name: 'x' })).status).toBe(403);
    expect((await operator(t, TOKENS.verify).get('/directories')).status).toBe(403);
    expect((await t.request.get('/admin/v1/directories')).status).toBe(401);
    expect((await operator(t, 'not-a-token').get('/directories')).status).toBe(401);
  });

  it("a directory's admin token: its own admin API, not the operators' routes nor another directory", async () => {
    const a = await createTestDirectory(t, unique('adm'));
    const b = await createTestDirectory(t, unique('other'));
    const minted = await a.admin().post('/tokens', { name: 'a-admin', kind: 'admin' });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const token = minted.body.token as string;
    expect(minted.body).toMatchObject({ kind: 'admin', source: 'manual', name: 'a-admin' });

    // Its own admin API.
    expect((await a.admin(token).get('/events')).status).toBe(200);
    expect((await a.admin(token).get('/users')).status).toBe(200);
    expect((await a.admin(token).get('/tokens')).status).toBe(200);
    expect((await a.admin(token).get('/settings')).status).toBe(200);
    // The operators' routes, reached inside its directory: authenticated, but not an operator.
    const inA = `/admin/v1/directories/${a.id}`;
    const operatorCalls: [string, () => supertest.Test][] = [
      ['GET directories', () => t.request.get(`${inA}/directories`)],
      ['POST directories', () => t.request.post(`${inA}/directories`).send({ slug: unique('sneaky'), name: 'x' })],
      ['GET its own', () => t.request.get(`${inA}/directories/${a.id}`)],
      ['PATCH its own', () => t.request.patch(`${inA}/directories/${a.id}`).send({ status: 'suspended' })],
      ['DELETE another', () => t.request.delete(`${inA}/directories/${b.id}`)],
    ];
    for (const [label, call] of operatorCalls) {
      const res = await call().set('Authorization', bearer(token));
      expect(res.status, label).toBe(403);
      expect(res.body.error.code, label).toBe('forbidden');
    }
    // The operators' routes where operators call them (the unprefixed admin API): no credential there.
    expect((await operator(t, token).get('/directories')).status).toBe(401);
    expect((await operator(t, token).get(`/directories/${a.id}`)).status).toBe(401);
    expect((await operator(t, token).patch(`/directories/${a.id}`, { status: 'suspended' })).status).toBe(401);
    expect((await operator(t, token).delete(`/directories/${b.id}`)).status).toBe(401);
    // Another directory's admin API and the default one's.
    expect((await b.admin(token).get('/events')).status).toBe(401);
    expect((await t.admin(token).get('/events')).status).toBe(401);
    expect((await t.admin(token).get('/users')).status).toBe(401);
    // An admin token is no SCIM token, even in its own directory.
    expect((await a.scim(token).get('/Users')).status).toBe(403);
    // Nothing changed.
    expect((await operator(t).get(`/directories/${a.id}`)).body.status).toBe('active');
    expect((await operator(t).get(`/directories/${b.id}`)).body.status).toBe('active');
  });

  it("a default-directory admin token (minted through /admin/v1/tokens) is refused the operators' routes (403)", async () => {
    const minted = await t.admin().post('/tokens', { name: unique('default-admin'), kind: 'admin' });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const token = minted.body.token as string;
    expect((await t.admin(token).get('/events')).status).toBe(200);
    const res = await operator(t, token).get('/directories');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await operator(t, token).post('/directories', { slug: unique('nope'), name: 'x' })).status).toBe(403);
    // Nor is it good in another directory.
    const a = await createTestDirectory(t, unique('not-default'));
    expect((await a.admin(token).get('/events')).status).toBe(401);
    // The configuration's SCIM token is the default directory's only.
    expectError(await a.scim(TOKENS.scim).get('/Users'), 401);
  });
});

describe("a directory's tokens", () => {
  it('shows a minted token once, lists it without token or hash, and revokes it at once', async () => {
    const a = await createTestDirectory(t, unique('tok'));
    const minted = await a.admin().post('/tokens', { name: 'okta-prod', kind: 'scim', source: 'integration' });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    expect(minted.headers['cache-control']).toBe('no-store');
    const token = minted.body.token as string;
    expect(token).toMatch(/^rst_[A-Za-z0-9_-]{43}$/);
    expect(minted.body).toMatchObject({
      id: expect.any(String),
      name: 'okta-prod',
      kind: 'scim',
      source: 'integration',
    });
    expect(minted.body).not.toHaveProperty('hash');

    const list = await a.admin().get('/tokens');
    expect(list.status).toBe(200);
    const listed = (list.body.tokens as Record<string, unknown>[]).find((x) => x.id === minted.body.id);
    expect(listed).toMatchObject({ name: 'okta-prod', kind: 'scim', source: 'integration' });
    expect(listed).not.toHaveProperty('token');
    expect(listed).not.toHaveProperty('hash');
    expect(list.text).not.toContain(token);

    // It works on its own SCIM base (integration: users created ACTIVE), nowhere else.
    const user = await createUserIn(a.scim(token));
    expect(user[LIFECYCLE].state).toBe('ACTIVE');
    expect((await t.scim(token).get('/Users')).status).toBe(401);
    const b = await createTestDirectory(t, unique('tok-other'));
    expect((await b.scim(token).get('/Users')).status).toBe(401);

    // A name taken by an active token of the same kind.
    const again = await a.admin().post('/tokens', { name: 'okta-prod', kind: 'scim' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('name_taken');
    // The same name in another directory is another token.
    expect((await b.admin().post('/tokens', { name: 'okta-prod', kind: 'scim' })).status).toBe(201);

    const revoked = await a.admin().delete(`/tokens/${minted.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: minted.body.id, revokedAt: expect.any(String) });
    expectError(await a.scim(token).get('/Users'), 401);
    expect((await a.admin().delete(`/tokens/${minted.body.id}`)).status).toBe(404);
    // Revoked, its name may be used again.
    expect((await a.admin().post('/tokens', { name: 'okta-prod', kind: 'scim' })).status).toBe(201);

    const created = await eventsIn(a, 'scim_token_created');
    expect(created.filter((e) => e.resource?.id === minted.body.id)).toEqual([
      expect.objectContaining({
        resource: { type: 'Token', id: minted.body.id, username: 'okta-prod' },
        initiatedBy: expect.objectContaining({ type: 'admin', name: 'admin' }),
        details: { kind: 'scim' },
      }),
    ]);
    const revokedEvents = await eventsIn(a, 'scim_token_revoked');
    expect(revokedEvents).toHaveLength(1);
    expect(revokedEvents[0]).toMatchObject({ resource: { type: 'Token', id: minted.body.id } });
    expect(JSON.stringify(await eventsIn(a, 'scim_token_created'))).not.toContain(token);
  });

  it('refuses bad token requests', async () => {
    const a = await createTestDirectory(t, unique('tokbad'));
    for (const body of [{}, { name: ' x' }, { name: 'x', kind: 'root' }, { name: 'x', source: 'hr' }]) {
      const res = await a.admin().post('/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await a.admin().delete('/tokens/no-such-token')).status).toBe(404);
  });
});

describe("a directory's settings", () => {
  it('validates PUT and PATCH: unknown keys, bad values, minLength above maxLength', async () => {
    const a = await createTestDirectory(t, unique('set'));
    const cases: [string, unknown, RegExp][] = [
      ['put', { server: { port: 1 } }, /server/],
      ['patch', { users: { defaultState: { manual: 'ACTIVE', robots: 'ACTIVE' } } }, /robots/],
      ['patch', { mail: { smtpUrl: 'smtp://evil.example' } }, /smtpUrl/],
      ['patch', { auth: { adminTokens: [] } }, /auth/],
      ['put', { users: { defaultState: { manual: 'ON' } } }, /users\.defaultState\.manual/],
      ['patch', { passwords: { minLength: 'twelve' } }, /passwords\.minLength/],
      ['patch', { passwords: { minLength: 500, maxLength: 100 } }, /minLength/],
    ];
    for (const [method, body, message] of cases) {
      const res = await (method === 'put' ? a.admin().put('/settings', body) : a.admin().patch('/settings', body));
      expect(res.status, `${method} ${JSON.stringify(body)}: ${res.text}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_settings');
      expect(res.body.error.message).toMatch(message);
    }
    const notObject = await a.admin().put('/settings', []);
    expect(notObject.status).toBe(400);
    // Nothing was stored.
    expect((await operator(t).get(`/directories/${a.id}`)).body.settings).toEqual({});
    expect(await eventsIn(a, 'directory_settings_changed')).toEqual([]);
  });

  it('PATCH merges, null removes an override; PUT replaces; a change is recorded with who made it', async () => {
    const a = await createTestDirectory(t, unique('merge'));
    const file = (await t.admin().get('/settings')).body;
    let res = await a.admin().patch('/settings', { passwords: { minLength: 14 }, mail: { orgName: 'Merge Org' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.settings).toEqual({ passwords: { minLength: 14 }, mail: { orgName: 'Merge Org' } });
    expect(res.body.effective.passwords.minLength).toBe(14);
    expect(res.body.effective.mail).toMatchObject({ orgName: 'Merge Org', from: FILE_FROM });

    res = await a.admin().patch('/settings', { passwords: { minLength: null }, reminders: { noLoginDays: 30 } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.settings).toEqual({
      passwords: {},
      mail: { orgName: 'Merge Org' },
      reminders: { noLoginDays: 30 },
    });
    expect(res.body.effective.passwords.minLength).toBe(file.passwords.minLength);

    const effective = await a.admin().get('/settings');
    expect(effective.status).toBe(200);
    expect(effective.body.mail.orgName).toBe('Merge Org');
    expect(effective.body.reminders.noLoginDays).toBe(30);
    expect(effective.body.passwords.minLength).toBe(file.passwords.minLength);
    // The default directory keeps the file's values.
    expect((await t.admin().get('/settings')).body.mail.orgName).toBe(FILE_ORG);

    res = await a.admin().put('/settings', { activation: { linkTtlDays: 3 } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.settings).toEqual({ activation: { linkTtlDays: 3 } });
    expect(res.body.effective.mail.orgName).toBe(FILE_ORG);
    expect((await operator(t).get(`/directories/${a.id}`)).body.settings).toEqual({ activation: { linkTtlDays: 3 } });

    // Who changed what, with a directory admin's own token this time.
    const own = await a.admin().post('/tokens', { name: 'settings-admin', kind: 'admin' });
    res = await a.admin(own.body.token).patch('/settings', { mail: { portalUrl: 'https://portal.merge.example' } });
    expect(res.status, res.text).toBe(200);
    const events = (await eventsIn(a, 'directory_settings_changed')).reverse();
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({
      resource: { type: 'Directory', id: a.id },
      initiatedBy: { type: 'admin', name: 'admin' },
      changes: [{ field: 'settings', from: {}, to: { passwords: { minLength: 14 }, mail: { orgName: 'Merge Org' } } }],
    });
    expect(events[2].changes).toEqual([
      {
        field: 'settings',
        from: { passwords: {}, mail: { orgName: 'Merge Org' }, reminders: { noLoginDays: 30 } },
        to: { activation: { linkTtlDays: 3 } },
      },
    ]);
    expect(events[3]).toMatchObject({
      initiatedBy: { type: 'admin', name: 'settings-admin', id: `token:${own.body.id}` },
      changes: [
        {
          field: 'settings',
          from: { activation: { linkTtlDays: 3 } },
          to: { activation: { linkTtlDays: 3 }, mail: { portalUrl: 'https://portal.merge.example' } },
        },
      ],
    });
  });

  it("a directory's default state applies at once, to that directory only", async () => {
    const a = await createTestDirectory(t, unique('state'));
    expect((await createUserIn(a.scim()))[LIFECYCLE].state).toBe('STAGED');
    const res = await a.admin().patch('/settings', { users: { defaultState: { manual: 'ACTIVE' } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.effective.users.defaultState).toMatchObject({ manual: 'ACTIVE', integration: 'ACTIVE' });
    const inA = await createUserIn(a.scim());
    expect(inA[LIFECYCLE].state).toBe('ACTIVE');
    const read = await a.scim().get(`/Users/${inA.id}`);
    expect(read.body[LIFECYCLE].state).toBe('ACTIVE');
    expect(read.body.active).toBe(true);
    const inDefault = await createUserIn(t.scim());
    expect(inDefault[LIFECYCLE].state).toBe('STAGED');
    const other = await createTestDirectory(t, unique('state-other'));
    expect((await createUserIn(other.scim()))[LIFECYCLE].state).toBe('STAGED');
    // Back to the file's value with null.
    expect((await a.admin().patch('/settings', { users: { defaultState: { manual: null } } })).status).toBe(200);
    expect((await createUserIn(a.scim()))[LIFECYCLE].state).toBe('STAGED');
  });

  it("a directory's emails: its sender and orgName, links under its prefix; the default directory's unchanged", async () => {
    const a = await createTestDirectory(t, unique('mail'));
    const res = await a
      .admin()
      .patch('/settings', { mail: { from: 'Acme IT <it@acme.example>', orgName: 'Acme Widgets' } });
    expect(res.status, res.text).toBe(200);

    const user = await createUserIn(a.scim());
    const activated = await a.admin().post(`/users/${user.id}/activate`, {});
    expect(activated.status, activated.text).toBe(200);
    const mail = await waitForMailTo(sink, `${user.userName}@corp.example`);
    expect(mail.from).toBe('it@acme.example');
    expect(mail.raw).toMatch(/^From: .*it@acme\.example/im);
    expect(mail.subject).toBe('Activate your Acme Widgets account');
    expect(mail.text).toContain('Acme Widgets');
    expect(mail.text).not.toContain(FILE_ORG);
    const link = new RegExp(`http://roster\\.test/directories/${a.slug}/activate\\?token=([A-Za-z0-9_-]+)`).exec(
      mail.text,
    );
    expect(link, mail.text).not.toBeNull();
    expect(mail.html).toContain(`http://roster.test/directories/${a.slug}/activate?token=`);

    const page = await t.request.get(`/directories/${a.slug}/activate?token=${link![1]}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Acme Widgets');
    expect(page.text).not.toContain(FILE_ORG);
    // The link is A's: the default directory does not know it.
    const elsewhere = await t.request.get(`/activate?token=${link![1]}`);
    expect(elsewhere.status).toBe(410);
    expect(elsewhere.text).not.toContain('Acme Widgets');

    const [event] = await waitForEventsIn(a, 'user_activation_email');
    expect(event).toMatchObject({ resource: { type: 'User', id: user.id }, success: true });

    // The default directory still sends with the file's sender and orgName, links at the root.
    const plain = await createUserIn(t.scim());
    expect((await t.admin().post(`/users/${plain.id}/activate`, {})).status).toBe(200);
    const fileMail = await waitForMailTo(sink, `${plain.userName}@corp.example`);
    expect(fileMail.from).toBe(FILE_FROM);
    expect(fileMail.subject).toBe(`Activate your ${FILE_ORG} account`);
    expect(fileMail.text).toContain(FILE_ORG);
    expect(fileMail.text).not.toContain('Acme Widgets');
    expect(fileMail.text).toMatch(/http:\/\/roster\.test\/activate\?token=/);
    expect(fileMail.text).not.toContain('/directories/');
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, `${user.userName}@corp.example`)).toHaveLength(1);
  });
});

describe('isolation of credentials', () => {
  it("an OAuth client's access tokens work only in its directory", async () => {
    const a = await createTestDirectory(t, unique('oauth'));
    const b = await createTestDirectory(t, unique('oauth-other'));
    const client = await a.admin().post('/oauth/clients', { name: 'a-client', source: 'integration' });
    expect(client.status, client.text).toBe(201);
    const auth = `Basic ${Buffer.from(`${client.body.client_id}:${client.body.client_secret}`).toString('base64')}`;
    const grant = await t.request
      .post(`/directories/${a.slug}/oauth/token`)
      .set('Authorization', auth)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(grant.status, grant.text).toBe(200);
    const jwt = grant.body.access_token as string;
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
    expect(claims.iss).toBe(`http://roster.test/directories/${a.slug}`);
    expect((await a.scim(jwt).get('/Users')).status).toBe(200);
    expect((await createUserIn(a.scim(jwt)))[LIFECYCLE].state).toBe('ACTIVE');
    expectError(await t.scim(jwt).get('/Users'), 401);
    expectError(await b.scim(jwt).get('/Users'), 401);
    // The client is unknown at the default directory's and another directory's token endpoints.
    for (const path of ['/oauth/token', `/directories/${b.slug}/oauth/token`]) {
      const res = await t.request
        .post(path)
        .set('Authorization', auth)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(res.status, path).toBe(401);
    }
  });

  it('a directory admin reads its settings redacted, and cannot act on what all directories share', async () => {
    const a = await createTestDirectory(t, unique('shared'));
    const own = await a.admin().post('/tokens', { name: 'tenant-admin', kind: 'admin' });
    const token = own.body.token as string;
    const settings = await a.admin(token).get('/settings');
    expect(settings.status).toBe(200);
    for (const secret of Object.values(TOKENS)) expect(settings.text).not.toContain(secret);
    expect(settings.text).not.toContain(token);
    // A directory's admin sees what its settings decide, not the operators' configuration (the
    // configuration's token names, the database, SMTP, keys).
    expect(Object.keys(settings.body).sort()).toEqual(['activation', 'mail', 'passwords', 'reminders', 'users']);
    expect(settings.text).not.toContain('hr-integration');
    expect(settings.body.mail).toEqual({
      from: FILE_FROM,
      orgName: FILE_ORG,
      portalUrl: (await t.admin().get('/settings')).body.mail.portalUrl,
    });
    // An operator sees the directory's whole configuration, redacted: its own public URL, no trusted issuers.
    const asOperator = await a.admin().get('/settings');
    expect(asOperator.status).toBe(200);
    for (const secret of Object.values(TOKENS)) expect(asOperator.text).not.toContain(secret);
    expect(asOperator.body.server.publicUrl).toBe(`http://roster.test/directories/${a.slug}`);
    expect(asOperator.body.oauth.trustedIssuers).toEqual([]);
    // This instance's reload status is the operators'.
    expect((await a.admin(token).get('/settings/reload')).status).toBe(403);
    expect((await a.admin().get('/settings/reload')).status).toBe(200);
    // Signing keys sign every directory's access tokens: rotating them is an operator's act. A
    // directory admin who could rotate them could retire the keys other directories' tokens carry.
    const client = await t.admin().post('/oauth/clients', { name: unique('default-client'), source: 'manual' });
    expect(client.status).toBe(201);
    const grant = await t.request
      .post('/oauth/token')
      .auth(client.body.client_id, client.body.client_secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(grant.status, grant.text).toBe(200);
    const defaultJwt = grant.body.access_token as string;
    expect((await t.scim(defaultJwt).get('/Users?count=1')).status).toBe(200);
    const before = (await t.request.get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    const statuses = new Set<number>();
    for (let i = 0; i < 21; i++) statuses.add((await a.admin(token).post('/signing-keys/rotate')).status);
    const after = (await t.request.get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect({
      rotateStatuses: [...statuses],
      defaultKeysChanged: JSON.stringify(after) !== JSON.stringify(before),
      defaultTokenStatus: (await t.scim(defaultJwt).get('/Users?count=1')).status,
    }).toEqual({ rotateStatuses: [403], defaultKeysChanged: false, defaultTokenStatus: 200 });
  });
});

describe("a directory's other entry points", () => {
  it('a poll receiver polls at its own directory only', async () => {
    const a = await createTestDirectory(t, unique('poll'));
    const receiver = await a
      .admin()
      .post('/event-receivers', { name: 'a-siem', delivery: 'poll', audience: 'a-siem', events: [] });
    expect(receiver.status, receiver.text).toBe(201);
    expect(receiver.body.pollUrl).toBe(`http://roster.test/directories/${a.slug}/security-events/poll`);
    const user = await createUserIn(a.scim());
    const poll = (path: string) =>
      t.request
        .post(path)
        .set('Authorization', bearer(receiver.body.pollToken))
        .send({ returnImmediately: true, maxEvents: 10 });
    const own = await poll(`/directories/${a.slug}/security-events/poll`);
    expect(own.status, own.text).toBe(200);
    expect(Object.keys(own.body.sets ?? {})).not.toHaveLength(0);
    expect(JSON.stringify(own.body)).not.toContain('"err"');
    expect((await poll('/security-events/poll')).status).toBe(401);
    expect(user.id).toEqual(expect.any(String));
  });

  it("a directory's users can be checked through its credential check (POST /directories/{slug}/auth/verify)", async () => {
    const a = await createTestDirectory(t, unique('verify'), { source: 'integration' });
    const userName = unique('signer');
    const created = await a.scim().post('/Users', userBody(userName, { password: 'Correct-Horse-9-Battery' }));
    expect(created.status, created.text).toBe(201);
    expect(created.body[LIFECYCLE]).toMatchObject({ state: 'ACTIVE', passwordStatus: 'ACTIVE' });
    const check = (token: string) =>
      t.request
        .post(`/directories/${a.slug}/auth/verify`)
        .set('Authorization', bearer(token))
        .send({ username: userName, password: 'Correct-Horse-9-Battery' });
    // The configuration's verify tokens are the default directory's: refused here, as designed.
    expect((await check(TOKENS.verify)).status).toBe(401);
    // The directory's own verify credential: the token API must be able to make one.
    const minted = await a.admin().post('/tokens', { name: 'portal', kind: 'verify' });
    expect(minted.status, `POST …/tokens {kind: 'verify'}: ${minted.status} ${minted.text}`).toBe(201);
    const res = await check(minted.body.token);
    expect(res.status, res.text).toBe(200);
  });
});

describe('delete and purge', () => {
  it('soft delete: refused everywhere, listed as deleted, restorable with its data; the purge waits for retention', async () => {
    const a = await createTestDirectory(t, unique('del'));
    const user = await createUserIn(a.scim());
    const removed = await operator(t).delete(`/directories/${a.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body.status).toBe('deleted');
    const deletedAt = Date.parse(removed.body.deletedAt);
    expect(Date.parse(removed.body.purgeAfter) - deletedAt).toBe(30 * 86_400_000);

    expectError(await a.scim().get('/Users'), 404);
    expect((await a.admin().get('/events')).status).toBe(404);
    expect((await a.admin().get('/tokens')).status).toBe(404);
    expect((await operator(t).get(`/directories/${a.id}`)).body.status).toBe('deleted');
    const listed = (await operator(t).get('/directories')).body.directories.find((d: { id: string }) => d.id === a.id);
    expect(listed).toMatchObject({ status: 'deleted', purgeAfter: removed.body.purgeAfter });
    // Renaming a deleted directory needs a status first.
    expect((await operator(t).patch(`/directories/${a.id}`, { name: 'x' })).status).toBe(409);
    // Within retention the purge leaves it.
    expect(await t.roster.directories.purgeDue()).not.toContain(a.id);
    expect(await t.db.collection('users').countDocuments({ directory: a.id })).toBe(1);

    const restored = await operator(t).patch(`/directories/${a.id}`, { status: 'active' });
    expect(restored.status, restored.text).toBe(200);
    expect(restored.body.status).toBe('active');
    expect(restored.body).not.toHaveProperty('purgeAfter');
    expect((await a.scim().get(`/Users/${user.id}`)).status).toBe(200);
    const [event] = await eventsIn(a, 'directory_restored');
    expect(event.changes).toEqual([{ field: 'status', from: 'deleted', to: 'active' }]);
    expect(await eventsIn(a, 'directory_deleted')).toHaveLength(1);
  });

  it('with retentionDays 0 the purge removes every document and job of the directory, and nothing else', async () => {
    const r = await startTestRoster({ directories: { retentionDays: 0 } });
    try {
      const a = await createTestDirectory(r, unique('purge'));
      // Data in the default directory too, which must survive.
      const keep = await r.scim().post('/Users', userBody(unique('keep')));
      expect(keep.status).toBe(201);
      expect((await r.admin().post('/oauth/clients', { name: 'keep-client', source: 'manual' })).status).toBe(201);

      const users: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await a.scim().post('/Users', userBody(unique('doomed'), { active: true }));
        expect(res.status, res.text).toBe(201);
        users.push(res.body.id);
      }
      const group = await a
        .scim()
        .post('/Groups', { schemas: [GROUP], displayName: 'doomed', members: users.map((value) => ({ value })) });
      expect(group.status, group.text).toBe(201);
      expect((await a.admin().post('/oauth/clients', { name: 'doomed-client', source: 'manual' })).status).toBe(201);
      const receiver = await a
        .admin()
        .post('/event-receivers', { name: 'doomed-poll', delivery: 'poll', audience: 'doomed', events: [] });
      expect(receiver.status, receiver.text).toBe(201);
      const at = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const schedule = await a.admin().post(`/users/${users[0]}/schedules`, { state: 'SUSPENDED', at });
      expect(schedule.status, schedule.text).toBe(201);
      expect((await a.admin().post('/tokens', { name: 'doomed-admin', kind: 'admin' })).status).toBe(201);
      // A change after the receiver exists, so it has SETs waiting.
      expect((await a.scim().patch(`/Users/${users[1]}`, patchActive(false))).status).toBe(200);

      const counts = await countsByCollection(r, a.id);
      for (const name of ['users', 'groups', 'memberships', 'events', 'schedules', 'oauth_clients', 'event_receivers'])
        expect(counts[name] ?? 0, name).toBeGreaterThan(0);
      expect(counts.scim_tokens).toBe(2);
      expect(await r.db.collection('agendaJobs').countDocuments({ 'data.directory': a.id })).toBeGreaterThan(0);
      const defaultBefore = await countsByCollection(r, 'default');
      const defaultJobsBefore = await r.db.collection('agendaJobs').countDocuments({ 'data.directory': 'default' });

      const op = operator(r);
      expect((await op.delete(`/directories/${a.id}`)).status).toBe(200);
      expectError(await a.scim().get('/Users'), 404);
      expect((await a.admin().get('/events')).status).toBe(404);
      // Restorable until the purge ran, data intact.
      expect((await op.patch(`/directories/${a.id}`, { status: 'active' })).status).toBe(200);
      expect((await a.scim().get(`/Users/${users[2]}`)).status).toBe(200);
      expect((await op.delete(`/directories/${a.id}`)).status).toBe(200);
      // Its slug stays taken until the purge.
      expect((await op.post('/directories', { slug: a.slug, name: 'Too early' })).status).toBe(409);

      expect(await r.roster.directories.purgeDue()).toEqual([a.id]);

      const left: string[] = [];
      for (const { name } of await r.db.listCollections().toArray()) {
        const n = await r.db.collection(name).countDocuments({ directory: a.id });
        if (n > 0) left.push(`${name}: ${n}`);
      }
      expect(left).toEqual([]);
      expect(await r.db.collection('agendaJobs').countDocuments({ 'data.directory': a.id })).toBe(0);
      expect(await r.db.collection('directories').countDocuments({ _id: a.id } as never)).toBe(0);
      expect(await r.db.collection('directories').countDocuments({ slug: a.slug })).toBe(0);
      // No document of it under any other field either (ids of its users, its receiver).
      for (const { name } of await r.db.listCollections().toArray()) {
        const raw = JSON.stringify(await r.db.collection(name).find({}).toArray());
        for (const id of [a.id, ...users, receiver.body.id as string])
          expect(raw, `${name} mentions ${id}`).not.toContain(id);
      }

      expect(await countsByCollection(r, 'default')).toEqual(defaultBefore);
      expect(await r.db.collection('agendaJobs').countDocuments({ 'data.directory': 'default' })).toBe(
        defaultJobsBefore,
      );
      expect((await r.scim().get(`/Users/${keep.body.id}`)).status).toBe(200);
      expect((await op.get(`/directories/${a.id}`)).status).toBe(404);
      expectError(await a.scim().get('/Users'), 404);
      // The slug is free again.
      expect((await op.post('/directories', { slug: a.slug, name: 'Again' })).status).toBe(201);
    } finally {
      await r.close();
    }
  });
});

function patchActive(active: boolean) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: active }],
  };
}

async function countsByCollection(r: TestRoster, directory: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { name } of await r.db.listCollections().toArray()) {
    const n = await r.db.collection(name).countDocuments({ directory });
    if (n > 0) out[name] = n;
  }
  return out;
}

describe('a suspended directory', () => {
  it('keeps its admin API, sends no email while suspended, and sends it once after it resumes', async () => {
    const a = await createTestDirectory(t, unique('quiet'), { settings: { mail: { orgName: 'Quiet Co' } } });
    const user = await createUserIn(a.scim());
    expect(user[LIFECYCLE].state).toBe('STAGED');
    const address = `${user.userName}@corp.example`;
    const ownAdmin = await a.admin().post('/tokens', { name: 'quiet-admin', kind: 'admin' });
    expect(ownAdmin.status).toBe(201);

    expect((await operator(t).patch(`/directories/${a.id}`, { status: 'suspended' })).status).toBe(200);
    // Its admin API still answers (to operators and to its own admins), and acts.
    expect((await a.admin().get('/events')).status).toBe(200);
    expect((await a.admin(ownAdmin.body.token).get('/users')).status).toBe(200);
    expectError(await a.scim().get('/Users'), 403);
    const activated = await a.admin().post(`/users/${user.id}/activate`, {});
    expect(activated.status, activated.text).toBe(200);
    expect(activated.body[LIFECYCLE].state).toBe('ACTIVE');
    // The email is stored, its job waits.
    const email = await t.db.collection('emails').findOne({ directory: a.id, userId: user.id });
    expect(email).toMatchObject({ status: 'pending', to: address });
    await sleep(SETTLE_MS * 2);
    expect(mailsTo(sink, address)).toHaveLength(0);
    const waiting = await t.db
      .collection('agendaJobs')
      .find({ name: 'send-email', 'data.directory': a.id, 'data.emailId': email!._id })
      .toArray();
    expect(waiting).toHaveLength(1);
    expect(waiting[0].nextRunAt.getTime()).toBeGreaterThan(Date.now() + 60_000);
    expect((await t.db.collection('emails').findOne({ _id: email!._id })) as unknown).toMatchObject({
      status: 'pending',
    });

    expect((await operator(t).patch(`/directories/${a.id}`, { status: 'active' })).status).toBe(200);
    // The 5 minutes the job was put back for pass (moved, not waited for).
    await t.db
      .collection('agendaJobs')
      .updateMany({ name: 'send-email', 'data.directory': a.id }, { $set: { nextRunAt: new Date() } });
    const mail = await waitForMailTo(sink, address);
    expect(mail.subject).toBe('Activate your Quiet Co account');
    await sleep(SETTLE_MS * 2);
    expect(mailsTo(sink, address)).toHaveLength(1);
    expect(await waitForEventsIn(a, 'user_activation_email')).toHaveLength(1);
    await sleep(SETTLE_MS);
    expect(await eventsIn(a, 'user_activation_email')).toHaveLength(1);
  });
});
