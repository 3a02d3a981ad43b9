import { randomUUID } from 'node:crypto';
import type { Layer } from '@koa/router';
import { decodeJwt } from 'jose';
import type supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDirectory, type TestDirectory } from '../helpers/directories.js';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import { ENTERPRISE, GROUP, patchOp, URN, USER, type Json } from '../helpers/scim.js';

/**
 * Cross-directory attacks over real HTTP (README "Directories"): two directories A and B besides the
 * default one, holding users of the same userName and email, groups of the same displayName and the
 * same memberships. A's credentials (a static SCIM token, an OAuth access token, a directory-admin
 * token, a poll receiver's token) are turned against B in every way the routers allow, and A's own
 * API is fed B's ids, names and cursors. Each attack must be refused without telling whether B's
 * resource exists, and must leave B as it was.
 */
const t = useTestRoster();

/** Every check made against another directory's data (printed, and held above a floor at the end). */
let attacks = 0;
const attack = () => void attacks++;
afterAll(() => {
  console.log('cross-directory attacks:', attacks);
});

const SHARED_USERS = ['alice@shared.example', 'bob@shared.example', 'carol@shared.example'];
const SHARED_GROUP = 'Shared team';
const ONLY_B_USER = 'only-b@example.com';
const ONLY_B_GROUP = 'Only in B';

interface Seeded {
  users: Record<string, string>;
  groupId: string;
  ids: string[];
}

let A: TestDirectory;
let B: TestDirectory;
let dflt: Seeded;
let a: Seeded;
let b: Seeded;
let bOnlyUser: string;
let bOnlyGroup: string;
let aOAuth: string;
let bOAuth: string;
let aClientId: string;
let aClientSecret: string;
let aAdmin: string;
let aAdminTokenId: string;
/** An OAuth access token of A with the admin scope (a directory admin by OAuth). */
let aOAuthAdmin: string;

const bearer = (token: string) => `Bearer ${token}`;
const slugBase = (dir: TestDirectory) => `/directories/${dir.slug}`;
const membership = (groupId: string, userId: string) => `${groupId}:${userId}`;

/** A SCIM agent on any base path with any token. */
function scimAt(base: string, token: string) {
  const withBody = (test: supertest.Test, body: unknown) =>
    body === undefined ? test : test.set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  return {
    get: (p: string) => t.request.get(`${base}${p}`).set('Authorization', bearer(token)),
    post: (p: string, body?: unknown) =>
      withBody(t.request.post(`${base}${p}`).set('Authorization', bearer(token)), body),
    put: (p: string, body?: unknown) =>
      withBody(t.request.put(`${base}${p}`).set('Authorization', bearer(token)), body),
    patch: (p: string, body?: unknown) =>
      withBody(t.request.patch(`${base}${p}`).set('Authorization', bearer(token)), body),
    delete: (p: string) => t.request.delete(`${base}${p}`).set('Authorization', bearer(token)),
  };
}

async function seed(scim: ReturnType<typeof scimAt>, extra: boolean): Promise<Seeded> {
  const users: Record<string, string> = {};
  for (const userName of SHARED_USERS) {
    const res = await scim.post('/Users', {
      schemas: [USER],
      userName,
      emails: [{ value: userName, type: 'work', primary: true }],
    });
    expect(res.status, res.text).toBe(201);
    users[userName] = res.body.id;
  }
  const group = await scim.post('/Groups', {
    schemas: [GROUP],
    displayName: SHARED_GROUP,
    members: SHARED_USERS.slice(0, 2).map((n) => ({ value: users[n] })),
  });
  expect(group.status, group.text).toBe(201);
  if (extra) {
    const only = await scim.post('/Users', { schemas: [USER], userName: ONLY_B_USER });
    expect(only.status, only.text).toBe(201);
    bOnlyUser = only.body.id;
    const g = await scim.post('/Groups', {
      schemas: [GROUP],
      displayName: ONLY_B_GROUP,
      members: [{ value: bOnlyUser }],
    });
    expect(g.status, g.text).toBe(201);
    bOnlyGroup = g.body.id;
  }
  return { users, groupId: group.body.id, ids: [...Object.values(users), group.body.id] };
}

/** An OAuth access token from the directory's own token endpoint, for a client registered under its admin prefix. */
async function oauthClient(dir: TestDirectory, name: string, scopes?: string[]) {
  const client = await dir.admin().post('/oauth/clients', { name, source: 'integration', ...(scopes && { scopes }) });
  expect(client.status, client.text).toBe(201);
  return client.body as { client_id: string; client_secret: string };
}

function tokenRequest(base: string, client: { client_id: string; client_secret: string }) {
  const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`);
  return t.request
    .post(`${base}/oauth/token`)
    .type('form')
    .set('Authorization', `Basic ${basic.toString('base64')}`)
    .send('grant_type=client_credentials');
}

/** What B is: counts, every user with its version, every group and membership, every event. */
async function snapshotB() {
  const dir = await t.admin().get(`/directories/${B.id}`);
  expect(dir.status, dir.text).toBe(200);
  const exported = await B.admin().get('/exports/users?format=json');
  expect(exported.status, exported.text).toBe(200);
  const users = JSON.parse(exported.text) as Json[];
  const groups = await B.scim().get('/Groups?count=1000&sortBy=displayName');
  expect(groups.status).toBe(200);
  const members = await B.scim().get('/GroupMembers?count=1000');
  expect(members.status).toBe(200);
  const events = await B.admin().get('/events?limit=1000');
  expect(events.status).toBe(200);
  return {
    counts: dir.body.counts,
    status: dir.body.status,
    users: users.map((u) => `${u.id} ${u.userName} ${u.meta.version}`).sort(),
    groups: (groups.body.Resources as Json[]).map((g) => `${g.id} ${g.displayName} ${g.meta.version}`),
    members: (members.body.Resources as Json[]).map((m) => m.id as string).sort(),
    // B's own audit of failed client authentication at its token endpoint (section 1) is B's record of the attack.
    events: (events.body.events as Json[])
      .filter((e) => e.type !== 'oauth_client_auth_failed')
      .map((e) => `${e.id} ${e.type}`),
  };
}

let before: Awaited<ReturnType<typeof snapshotB>>;

async function expectBUnchanged() {
  attack();
  expect(await snapshotB()).toEqual(before);
}

beforeAll(async () => {
  // A's data is written first, then B's, then the default's (the paging check below relies on it).
  A = await createTestDirectory(t, 'iso-a');
  B = await createTestDirectory(t, 'iso-b');
  a = await seed(A.scim(), false);
  b = await seed(B.scim(), true);
  dflt = await seed(scimAt('/scim/v2', TOKENS.scim), false);

  const ca = await oauthClient(A, 'a-sync');
  aClientId = ca.client_id;
  aClientSecret = ca.client_secret;
  const ta = await tokenRequest(slugBase(A), ca);
  expect(ta.status, ta.text).toBe(200);
  aOAuth = ta.body.access_token;
  expect(decodeJwt(aOAuth)).toMatchObject({ directory: A.id, iss: `http://roster.test/directories/${A.slug}` });
  const tb = await tokenRequest(slugBase(B), await oauthClient(B, 'b-sync'));
  expect(tb.status, tb.text).toBe(200);
  bOAuth = tb.body.access_token;

  const minted = await A.admin().post('/tokens', { name: 'a-admin', kind: 'admin' });
  expect(minted.status, minted.text).toBe(201);
  aAdmin = minted.body.token;
  aAdminTokenId = minted.body.id;
  const adminToken = await tokenRequest(slugBase(A), await oauthClient(A, 'a-automation', ['admin']));
  expect(adminToken.status, adminToken.text).toBe(200);
  aOAuthAdmin = adminToken.body.access_token;

  before = await snapshotB();
  expect(before.counts).toEqual({ users: 4, groups: 2 });
});

// ---------------------------------------------------------------------------------------------
// Routes, read from the app's own routers (a new route is attacked without editing this file).

interface Route {
  method: string;
  /** The router's path, parameters as `:name`. */
  path: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function routesUnder(prefix: string): Route[] {
  const routes: Route[] = [];
  for (const middleware of t.roster.app.middleware as { router?: { stack: Layer[] } }[]) {
    for (const layer of middleware.router?.stack ?? []) {
      const path = layer.path;
      if (layer.methods.length === 0 || typeof path !== 'string') continue;
      if (path !== prefix && !path.startsWith(`${prefix}/`)) continue;
      for (const method of layer.methods.filter((m) => METHODS.includes(m))) routes.push({ method, path });
    }
  }
  return routes;
}

/** The route's path with B's ids (a route that answered would answer with B's data). */
function withBIds(path: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    if (path.includes('/Groups/')) return b.groupId;
    if (path.includes('/GroupMembers/')) return membership(b.groupId, b.users[SHARED_USERS[0]]);
    if (name === 'id' && path.includes('/directories/')) return B.id;
    return b.users[SHARED_USERS[0]];
  });
}

function send(method: string, url: string, token: string | undefined, body = '{"userName":"alice@shared.example"}') {
  let test = t.request[method.toLowerCase() as 'get'](url);
  if (token) test = test.set('Authorization', bearer(token));
  if (['POST', 'PUT', 'PATCH'].includes(method)) test = test.set('Content-Type', 'application/json').send(body);
  return test;
}

/** An answer that carries nothing of B (no id, no name of B's). */
function expectNothingOfB(res: supertest.Response, what: string) {
  for (const id of [...b.ids, bOnlyUser, bOnlyGroup]) expect(res.text, `${what} shows ${id}`).not.toContain(id);
  expect(res.text, what).not.toContain(ONLY_B_USER);
  expect(res.text, what).not.toContain('shared.example');
}

// ---------------------------------------------------------------------------------------------

describe('1. A credentials on B SCIM base', () => {
  it('finds the SCIM routes in the routers', () => {
    const routes = routesUnder('/scim/v2');
    expect(routes.length).toBeGreaterThan(25);
    expect(routes).toContainEqual({ method: 'POST', path: '/scim/v2/Bulk' });
    expect(routes).toContainEqual({ method: 'DELETE', path: '/scim/v2/Users/:id' });
  });

  it('refuses every SCIM route on B with A static token, A OAuth token, A admin token and the default directory token (401)', async () => {
    const credentials = {
      'A scim token': A.scimToken,
      'A OAuth token': aOAuth,
      'A admin token': aAdmin,
      'default scim token': TOKENS.scim,
    };
    for (const route of routesUnder('/scim/v2')) {
      const url = `${slugBase(B)}${withBIds(route.path)}`;
      for (const [name, token] of Object.entries(credentials)) {
        const res = await send(route.method, url, token);
        attack();
        expect(res.status, `${name}: ${route.method} ${url}`).toBe(401);
        expect(res.body.schemas, `${name}: ${route.method} ${url}`).toEqual([URN.error]);
        expectNothingOfB(res, `${name}: ${route.method} ${url}`);
      }
    }
  });

  it('gives A credentials on B the same 401 as a made-up token', async () => {
    const made = await B.scim(`rst_${randomUUID()}`).get(`/Users/${b.users[SHARED_USERS[0]]}`);
    const madeJwt = await B.scim(aOAuth.replace(/\.[^.]+$/, '.AAAA')).get(`/Users/${b.users[SHARED_USERS[0]]}`);
    for (const [token, expected] of [
      [A.scimToken, made],
      [aOAuth, madeJwt],
    ] as const) {
      const res = await B.scim(token).get(`/Users/${b.users[SHARED_USERS[0]]}`);
      attack();
      expect(res.status).toBe(401);
      expect(res.body).toEqual(expected.body);
      expect(res.headers['www-authenticate']).toBe(expected.headers['www-authenticate']);
    }
  });

  it('refuses A credentials on the default directory SCIM API too', async () => {
    for (const token of [A.scimToken, aOAuth, aAdmin]) {
      for (const route of routesUnder('/scim/v2').filter((r) => r.method === 'GET')) {
        const url = route.path.replace(/:\w+/g, route.path.includes('/Groups/') ? dflt.groupId : dflt.ids[0]);
        const res = await send('GET', url, token);
        attack();
        expect(res.status, `GET ${url}`).toBe(401);
      }
    }
  });

  it('refuses A client credentials at B token endpoint, and A tokens at B poll endpoint', async () => {
    const res = await tokenRequest(slugBase(B), { client_id: aClientId, client_secret: aClientSecret });
    attack();
    expect(res.status, res.text).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.body.access_token).toBeUndefined();
    const made = await tokenRequest(slugBase(B), { client_id: randomUUID(), client_secret: 'nope' });
    attack();
    expect(res.body).toEqual(made.body);
    for (const token of [A.scimToken, aOAuth, aAdmin]) {
      const poll = await send('POST', `${slugBase(B)}/security-events/poll`, token, '{}');
      attack();
      expect(poll.status).toBe(401);
    }
  });

  it("refuses the default directory's verify token and A's credentials at B's credential check", async () => {
    for (const token of [TOKENS.verify, A.scimToken, aOAuth, aAdmin]) {
      const res = await send(
        'POST',
        `${slugBase(B)}/auth/verify`,
        token,
        '{"username":"alice@shared.example","password":"x"}',
      );
      attack();
      expect(res.status, res.text).toBe(401);
      expectNothingOfB(res, 'POST /auth/verify');
    }
  });

  it("B's discovery documents name nothing of A", async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/scim/v2/ServiceProviderConfig']) {
      const res = await t.request.get(`${slugBase(B)}${path}`).set('Authorization', bearer(B.scimToken));
      attack();
      expect(res.status, `${path} ${res.text}`).toBe(200);
      expect(res.text).toContain(`/directories/${B.slug}`);
      expect(res.text).not.toContain(A.slug);
    }
  });

  it('left B unchanged', async () => {
    await expectBUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------

/** The answer's body as text with the given ids blanked, for comparing B's id with a random one. */
const blank = (res: supertest.Response, ...ids: string[]) => {
  const body = structuredClone(res.body ?? null) as Json | null;
  // A write that went through (a manager reference is not checked) differs in its time and version only.
  if (body?.meta) body.meta = { ...body.meta, lastModified: '<time>', version: '<version>' };
  return ids.reduce((text, id) => text.split(id).join('<id>'), JSON.stringify(body));
};

/**
 * Sends the request with B's id and with a random UUID in its place: same status, same body but
 * for the id (no existence oracle), and the expected refusal.
 */
async function sameAsRandom(
  what: string,
  request: (id: string) => supertest.Test | Promise<supertest.Response>,
  bId: string,
  expected: number[],
  alsoNamed: string[] = [],
) {
  const random = randomUUID();
  const withB = await request(bId);
  const withRandom = await request(random);
  attack();
  expect(expected, `${what} with B's id answered ${withB.status} ${withB.text}`).toContain(withB.status);
  expect(withB.status, what).toBe(withRandom.status);
  expect(blank(withB, bId), what).toBe(blank(withRandom, random));
  expect(withB.headers['content-type'], what).toBe(withRandom.headers['content-type']);
  expectNothingOfBExcept(withB, [bId, ...alsoNamed], what);
  return withB;
}

/** Nothing of B's but the id the request itself named. */
function expectNothingOfBExcept(res: supertest.Response, given: string | string[], what: string) {
  const text = [given].flat().reduce((rest, id) => rest.split(id).join(''), res.text);
  for (const id of [...b.ids, bOnlyUser, bOnlyGroup]) expect(text, `${what} shows ${id}`).not.toContain(id);
}

describe('2. A token on A base with B ids and names', () => {
  const bUser = () => b.users[SHARED_USERS[0]];
  const bUser2 = () => b.users[SHARED_USERS[2]];
  const aUser = () => a.users[SHARED_USERS[0]];
  const userBody = { schemas: [USER], userName: 'alice@shared.example' };

  for (const [label, token] of [
    ['static token', () => A.scimToken],
    ['OAuth token', () => aOAuth],
  ] as const) {
    describe(`with A's ${label}`, () => {
      const scim = () => scimAt(A.scimBase, token());

      it('reads, replaces, patches and deletes B users and groups as if they did not exist (404)', async () => {
        await sameAsRandom('GET /Users', (id) => scim().get(`/Users/${id}`), bUser(), [404]);
        await sameAsRandom('PUT /Users', (id) => scim().put(`/Users/${id}`, userBody), bUser(), [404]);
        await sameAsRandom(
          'PATCH /Users',
          (id) => scim().patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'displayName', value: 'pwned' })),
          bUser(),
          [404],
        );
        await sameAsRandom('DELETE /Users', (id) => scim().delete(`/Users/${id}`), bUser(), [404]);
        await sameAsRandom('GET /Groups', (id) => scim().get(`/Groups/${id}`), b.groupId, [404]);
        await sameAsRandom(
          'PUT /Groups',
          (id) => scim().put(`/Groups/${id}`, { schemas: [GROUP], displayName: 'pwned' }),
          b.groupId,
          [404],
        );
        await sameAsRandom(
          'PATCH /Groups',
          (id) => scim().patch(`/Groups/${id}`, patchOp({ op: 'add', path: 'members', value: [{ value: aUser() }] })),
          b.groupId,
          [404],
        );
        await sameAsRandom('DELETE /Groups', (id) => scim().delete(`/Groups/${id}`), b.groupId, [404]);
        await sameAsRandom(
          'HEAD-like GET with attributes',
          (id) => scim().get(`/Users/${id}?attributes=userName`),
          bUser(),
          [404],
        );
      });

      it('cannot reach B memberships through /GroupMembers', async () => {
        await sameAsRandom(
          'GET /GroupMembers/{B group}:{B user}',
          (id) => scim().get(`/GroupMembers/${id}`),
          membership(b.groupId, bUser()),
          [404],
        );
        await sameAsRandom(
          'GET /GroupMembers/{B group}:{B user} against {random}:{B user}',
          (id) => scim().get(`/GroupMembers/${membership(id, bUser())}`),
          b.groupId,
          [404],
          [bUser()],
        );
        await sameAsRandom(
          'DELETE /GroupMembers',
          (id) => scim().delete(`/GroupMembers/${id}`),
          membership(b.groupId, bUser()),
          [404],
        );
        await sameAsRandom(
          'POST /GroupMembers (A group, B user)',
          (id) => scim().post('/GroupMembers', { group: { value: a.groupId }, member: { value: id } }),
          bUser2(),
          [400, 404],
        );
        await sameAsRandom(
          'POST /GroupMembers (B group, A user)',
          (id) => scim().post('/GroupMembers', { group: { value: id }, member: { value: a.users[SHARED_USERS[2]] } }),
          b.groupId,
          [400, 404],
        );
        await sameAsRandom(
          'GET /GroupMembers?filter=group.value',
          (id) => scim().get(`/GroupMembers?filter=${encodeURIComponent(`group.value eq "${id}"`)}`),
          b.groupId,
          [200, 400],
        );
        await sameAsRandom(
          'GET /GroupMembers?filter=member.value',
          (id) => scim().get(`/GroupMembers?filter=${encodeURIComponent(`member.value eq "${id}"`)}`),
          bUser(),
          [200, 400],
        );
      });

      it('refuses a group whose members include a B user (400, nothing written)', async () => {
        const name = `Smuggle ${label} ${randomUUID()}`;
        await sameAsRandom(
          'POST /Groups with a B member',
          (id) =>
            scim().post('/Groups', {
              schemas: [GROUP],
              displayName: name,
              members: [{ value: aUser() }, { value: id }],
            }),
          bUser2(),
          [400],
        );
        const created = await scim().get(`/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`);
        attack();
        expect(created.body.totalResults).toBe(0);
        await sameAsRandom(
          'PATCH A group adding a B member',
          (id) => scim().patch(`/Groups/${a.groupId}`, patchOp({ op: 'add', path: 'members', value: [{ value: id }] })),
          bUser2(),
          [400],
        );
        await sameAsRandom(
          'PUT A group with a B member',
          (id) =>
            scim().put(`/Groups/${a.groupId}`, {
              schemas: [GROUP],
              displayName: SHARED_GROUP,
              members: [{ value: aUser() }, { value: id }],
            }),
          bUser2(),
          [400],
        );
        await sameAsRandom(
          'PATCH A group removing a B member',
          (id) => scim().patch(`/Groups/${a.groupId}`, patchOp({ op: 'remove', path: `members[value eq "${id}"]` })),
          bUser(),
          [200, 204, 400],
        );
        const group = await scim().get(`/Groups/${a.groupId}`);
        attack();
        expect(group.status).toBe(200);
        expect((group.body.members as Json[]).map((m) => m.value).sort()).toEqual(
          [a.users[SHARED_USERS[0]], a.users[SHARED_USERS[1]]].sort(),
        );
      });

      it('treats B user id as a manager reference exactly as a random id', async () => {
        // Not checked for existence: stored as given, like any id (A's own log then names what A sent).
        await sameAsRandom(
          'PATCH A user manager = B user',
          (id) =>
            scim().patch(
              `/Users/${a.users[SHARED_USERS[1]]}`,
              patchOp({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: id } }),
            ),
          bUser2(),
          [200, 400, 404],
        );
        const user = await scim().get(`/Users/${a.users[SHARED_USERS[1]]}`);
        attack();
        expectNothingOfBExcept(user, bUser2(), 'A user after manager patch');
        expect(JSON.stringify(user.body)).not.toContain(ONLY_B_USER);
        expect(user.body[ENTERPRISE]?.manager?.displayName).toBeUndefined();
      });

      it('Bulk: B ids in paths and in bulkId-referenced data are refused per operation like random ids', async () => {
        const bulk = (id: string) =>
          scim().post('/Bulk', {
            schemas: [URN.bulkRequest],
            Operations: [
              {
                method: 'PATCH',
                path: `/Users/${id}`,
                data: patchOp({ op: 'replace', path: 'displayName', value: 'pwned' }),
              },
              { method: 'PUT', path: `/Users/${id}`, data: userBody },
              { method: 'DELETE', path: `/Users/${id}` },
              {
                method: 'POST',
                bulkId: 'newbie',
                path: '/Users',
                data: { schemas: [USER], userName: `bulk-${randomUUID()}@a.example` },
              },
              {
                method: 'POST',
                bulkId: 'team',
                path: '/Groups',
                data: {
                  schemas: [GROUP],
                  displayName: `Bulk ${randomUUID()}`,
                  members: [{ value: 'bulkId:newbie' }, { value: id }],
                },
              },
              {
                method: 'PATCH',
                path: `/Groups/${a.groupId}`,
                data: patchOp({ op: 'add', path: 'members', value: [{ value: 'bulkId:newbie' }, { value: id }] }),
              },
            ],
          });
        const withB = await bulk(bUser2());
        const withRandom = await bulk(randomUUID());
        attack();
        expect(withB.status, withB.text).toBe(200);
        const statuses = (res: supertest.Response) => (res.body.Operations as Json[]).map((o) => o.status);
        expect(statuses(withB)).toEqual(statuses(withRandom));
        expect(statuses(withB).slice(0, 3)).toEqual(['404', '404', '404']);
        expect(statuses(withB)[3]).toBe('201');
        expect(statuses(withB)[4]).toBe('400');
        expect(statuses(withB)[5]).toBe('400');
        expectNothingOfBExcept(withB, bUser2(), 'Bulk');
        const group = await scim().get(`/Groups/${a.groupId}`);
        expect((group.body.members as Json[]).map((m) => m.value)).not.toContain(bUser2());
        // Clean up what the bulk created (A's own users).
        for (const res of [withB, withRandom]) {
          const location = (res.body.Operations as Json[])[3].location as string;
          await scim()
            .delete(`/Users/${location.split('/').pop()}`)
            .expect(204);
        }
      });

      it('filters find only A resources, whatever they name of B', async () => {
        const list = async (path: string) => {
          const res = await scim().get(path);
          expect(res.status, `${path}: ${res.text}`).toBe(200);
          attack();
          expectNothingOfBExcept(res, '\0', path);
          return (res.body.Resources as Json[]).map((r) => r.id as string);
        };
        const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;
        expect(await list(`/Users?${q(`id eq "${bUser()}"`)}`)).toEqual([]);
        expect(await list(`/Groups?${q(`id eq "${b.groupId}"`)}`)).toEqual([]);
        expect(await list(`/Groups?${q(`members.value eq "${bUser()}"`)}`)).toEqual([]);
        expect(await list(`/Users?${q(`groups.value eq "${b.groupId}"`)}`)).toEqual([]);
        expect(await list(`/Users?${q(`userName eq "${SHARED_USERS[0]}"`)}`)).toEqual([aUser()]);
        expect(await list(`/Users?${q(`emails.value eq "${SHARED_USERS[1]}"`)}`)).toEqual([a.users[SHARED_USERS[1]]]);
        expect(await list(`/Users?${q(`userName eq "${ONLY_B_USER}"`)}`)).toEqual([]);
        expect(await list(`/Groups?${q(`displayName eq "${SHARED_GROUP}"`)}`)).toEqual([a.groupId]);
        expect(await list(`/Groups?${q(`displayName eq "${ONLY_B_GROUP}"`)}`)).toEqual([]);
        expect(await list(`/Users?${q(`userName sw "a" or id eq "${bUser()}"`)}`)).toEqual([aUser()]);
        expect(await list(`/Users?${q(`userName pr`)}&count=1000`)).toEqual(
          expect.arrayContaining(Object.values(a.users)),
        );
        expect((await list('/Users?count=1000')).every((id) => Object.values(a.users).includes(id))).toBe(true);
        expect(await list('/Groups?count=1000')).toEqual([a.groupId]);
      });

      it('/.search (root, Users, Groups, GroupMembers) finds only A resources', async () => {
        const search = async (path: string, filter: string) => {
          const res = await scim().post(path, {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
            filter,
          });
          attack();
          expect(res.status, `${path} ${filter}: ${res.text}`).toBe(200);
          expectNothingOfBExcept(res, '\0', path);
          return (res.body.Resources as Json[]).map((r) => r.id as string);
        };
        expect(await search('/.search', `userName eq "${SHARED_USERS[0]}"`)).toEqual([aUser()]);
        expect(await search('/.search', `displayName eq "${SHARED_GROUP}"`)).toEqual([a.groupId]);
        expect(await search('/.search', `id eq "${bUser()}"`)).toEqual([]);
        expect(await search('/.search', `displayName eq "${ONLY_B_GROUP}"`)).toEqual([]);
        expect(await search('/Users/.search', `userName eq "${SHARED_USERS[0]}"`)).toEqual([aUser()]);
        expect(await search('/Groups/.search', `members.value eq "${bUser()}"`)).toEqual([]);
        expect(await search('/GroupMembers/.search', `group.value eq "${b.groupId}"`)).toEqual([]);
        const root = await scim().get(`/?filter=${encodeURIComponent(`id eq "${bUser()}"`)}`);
        attack();
        expect([200, 404, 501]).toContain(root.status);
        expectNothingOfBExcept(root, bUser(), 'GET /?filter');
      });

      it('/Me answers as on any directory (501), for any token', async () => {
        const mine = await scim().get('/Me');
        const theirs = await B.scim().get('/Me');
        attack();
        expect(mine.status).toBe(501);
        expect(mine.body).toEqual(theirs.body);
      });
    });
  }

  it('left B unchanged', async () => {
    await expectBUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------

describe('3. paging state across directories', () => {
  const aIds = () => [...Object.values(a.users), a.groupId];

  it('an A cursor presented on B with B token gives only B data (src/db/listing.ts: the cursor is a position, the query is scoped)', async () => {
    let presented = 0;
    for (const [list, ids] of [
      ['/Users', () => Object.values(a.users)],
      ['/Groups', () => [a.groupId]],
      ['/GroupMembers', () => [membership(a.groupId, a.users[SHARED_USERS[0]])]],
    ] as const) {
      const first = await A.scim().get(`${list}?count=1&cursor=`);
      expect(first.status, first.text).toBe(200);
      if (!first.body.nextCursor) continue; // a list of one (Groups) has no next page
      presented++;
      for (const token of [B.scimToken, bOAuth]) {
        const res = await B.scim(token).get(`${list}?count=10&cursor=${encodeURIComponent(first.body.nextCursor)}`);
        attack();
        expect([200, 400], res.text).toContain(res.status);
        for (const id of [...aIds(), ...ids()]) expect(res.text).not.toContain(id);
        if (res.status === 200) {
          for (const r of res.body.Resources as Json[]) {
            if (list === '/GroupMembers') expect(r.group.value).toBe(b.groupId);
            else expect(b.ids.concat(bOnlyUser, bOnlyGroup)).toContain(r.id);
          }
        }
      }
      // And with A's own token on B: no answer at all.
      const own = await scimAt(B.scimBase, A.scimToken).get(
        `${list}?count=10&cursor=${encodeURIComponent(first.body.nextCursor)}`,
      );
      attack();
      expect(own.status).toBe(401);
    }
    expect(presented).toBe(2);
  });

  it('a made-up cursor naming an A user id on B gives only B data', async () => {
    const cursor = Buffer.from(JSON.stringify([null, a.users[SHARED_USERS[0]]])).toString('base64url');
    const res = await B.scim().get(`/Users?count=10&cursor=${cursor}`);
    attack();
    expect([200, 400]).toContain(res.status);
    for (const id of aIds()) expect(res.text).not.toContain(id);
  });

  // src/db/listing.ts remembers where index-paged pages ended (createPagePositions, one per
  // repository and instance) under a key of collection, order and query: no directory in it.
  const ids = (res: supertest.Response) => (res.body.Resources as Json[]).map((r) => r.id as string);
  /** Every id the answer must not show: the other directories' (the scoped query keeps them out). */
  const foreignTo = (mine: Seeded) => [a, b, dflt].filter((d) => d !== mine).flatMap((d) => d.ids);
  const all = async (scim: { get(p: string): supertest.Test }, list: string) =>
    ids(await scim.get(`${list}?count=100`).expect(200));

  it("A's second page of users is A's second user after B read its first page", async () => {
    const aAll = await all(A.scim(), '/Users');
    expect(aAll).toHaveLength(3);
    await B.scim().get('/Users?startIndex=1&count=1').expect(200);
    const aSecond = await A.scim().get('/Users?startIndex=2&count=1').expect(200);
    attack();
    for (const id of ids(aSecond)) expect(foreignTo(a), id).not.toContain(id);
    expect(ids(aSecond), "A's page 2 after B's page 1").toEqual([aAll[1]]);
    expect(aSecond.body.totalResults).toBe(3);
  });

  it("B's third page of users is B's third user after A read its first two", async () => {
    const bAll = await all(B.scim(), '/Users');
    expect(bAll).toHaveLength(4);
    await A.scim().get('/Users?startIndex=1&count=2').expect(200);
    const bThird = await B.scim().get('/Users?startIndex=3&count=1').expect(200);
    attack();
    for (const id of ids(bThird)) expect(foreignTo(b), id).not.toContain(id);
    expect(ids(bThird), "B's page 3 after A's pages 1-2").toEqual([bAll[2]]);
  });

  it("the default directory's second page of users after A read its first", async () => {
    const dAll = await all(t.scim(), '/Users');
    await A.scim().get('/Users?startIndex=1&count=1').expect(200);
    const dSecond = await t.scim().get('/Users?startIndex=2&count=1').expect(200);
    attack();
    for (const id of ids(dSecond)) expect(foreignTo(dflt), id).not.toContain(id);
    expect(ids(dSecond), "the default's page 2 after A's page 1").toEqual([dAll[1]]);
  });

  it("B's second page of groups after A read its first", async () => {
    const bAll = await all(B.scim(), '/Groups');
    expect(bAll).toHaveLength(2);
    await A.scim().get('/Groups?startIndex=1&count=1').expect(200);
    const bSecond = await B.scim().get('/Groups?startIndex=2&count=1').expect(200);
    attack();
    for (const id of ids(bSecond)) expect(foreignTo(b), id).not.toContain(id);
    expect(ids(bSecond), "B's group page 2 after A's page 1").toEqual([bAll[1]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('4. A directory admin', () => {
  const adminRoutes = () => routesUnder('/admin/v1');
  const operatorRoute = (r: Route) =>
    r.path === '/admin/v1/directories' || r.path.startsWith('/admin/v1/directories/:');

  it('finds the admin routes in the routers', () => {
    const routes = adminRoutes();
    expect(routes.length).toBeGreaterThan(30);
    expect(routes).toContainEqual({ method: 'POST', path: '/admin/v1/tokens' });
    expect(routes).toContainEqual({ method: 'POST', path: '/admin/v1/imports' });
    expect(routes.filter(operatorRoute)).toHaveLength(5);
  });

  it("is refused (401) on every admin route under B's prefix, as are A's SCIM and OAuth tokens", async () => {
    for (const route of adminRoutes()) {
      const rest = withBIds(route.path).slice('/admin/v1'.length);
      const url = `/admin/v1/directories/${B.id}${rest}`;
      for (const [name, token] of [
        ['A admin', aAdmin],
        ['A scim', A.scimToken],
        ['A OAuth', aOAuth],
        ['A OAuth admin', aOAuthAdmin],
      ]) {
        const res = await send(route.method, url, token, '{"name":"x","kind":"admin","slug":"x"}');
        attack();
        expect(res.status, `${name}: ${route.method} ${url} ${res.text}`).toBe(401);
        expectNothingOfB(res, `${name}: ${route.method} ${url}`);
      }
    }
  });

  it('is refused (401) on every admin route of the default directory', async () => {
    for (const route of adminRoutes().filter((r) => !operatorRoute(r))) {
      const url = route.path.replace(/:\w+/g, route.path.includes('/users/') ? dflt.ids[0] : randomUUID());
      const res = await send(route.method, url, aAdmin, '{"name":"x","kind":"admin"}');
      attack();
      expect(res.status, `${route.method} ${url} ${res.text}`).toBe(401);
    }
  });

  it("is refused on the operators' directory routes: 403 under its own prefix, 401 at the root", async () => {
    for (const route of adminRoutes().filter(operatorRoute)) {
      for (const [target, token] of [A.id, B.id].flatMap((id) => [aAdmin, aOAuthAdmin].map((tk) => [id, tk]))) {
        const rest = route.path.replace(':id', target).slice('/admin/v1'.length);
        const body = '{"slug":"evil","name":"Evil","status":"suspended"}';
        const own = await send(route.method, `/admin/v1/directories/${A.id}${rest}`, token, body);
        attack();
        expect(own.status, `${route.method} under A ${rest}: ${own.text}`).toBe(403);
        const root = await send(route.method, `/admin/v1${rest}`, token, body);
        attack();
        expect(root.status, `${route.method} /admin/v1${rest}: ${root.text}`).toBe(401);
      }
    }
    const dir = await t.admin().get(`/directories/${B.id}`).expect(200);
    expect(dir.body.status).toBe('active');
    const list = await t.admin().get('/directories').expect(200);
    expect(list.body.directories.map((d: Json) => d.slug)).not.toContain('evil');
  });

  it("works on A's prefix, showing only A's data", async () => {
    // The credentials refused above are good ones where they belong.
    for (const token of [aAdmin, aOAuthAdmin]) await A.admin(token).get('/events?limit=1').expect(200);
    const own = (path: string) => A.admin(aAdmin).get(path);
    // B's carol is named in A's log by A's own manager PATCH (section 2), nothing else of B's.
    const sentByA = b.users[SHARED_USERS[2]];
    const forbidden = [...b.ids, bOnlyUser, bOnlyGroup, ...dflt.ids, B.id].filter((id) => id !== sentByA);
    const events = await own('/events?limit=1000');
    attack();
    expect(events.status, events.text).toBe(200);
    expect(events.body.events.length).toBeGreaterThan(5);
    for (const id of forbidden) expect(events.text).not.toContain(id);
    for (const id of Object.values(a.users)) expect(events.text).toContain(id);
    const exported = await own('/exports/users?format=json');
    attack();
    expect(exported.status).toBe(200);
    const users = JSON.parse(exported.text) as Json[];
    expect(users.map((u) => u.id).sort()).toEqual(Object.values(a.users).sort());
    for (const id of forbidden) expect(exported.text).not.toContain(id);
    const csv = await own('/exports/users?format=csv');
    attack();
    expect(csv.status).toBe(200);
    expect(csv.text).not.toContain(ONLY_B_USER);
    expect(csv.text.trim().split('\n')).toHaveLength(1 + SHARED_USERS.length);
    const usersList = await own('/users?count=100');
    attack();
    expect(usersList.status, usersList.text).toBe(200);
    for (const id of forbidden) expect(usersList.text).not.toContain(id);
    for (const path of ['/oauth/clients', '/event-receivers', '/tokens', '/schedules']) {
      const res = await own(path);
      attack();
      expect(res.status, `${path} ${res.text}`).toBe(200);
      expect(res.text).not.toContain('b-sync');
      expect(res.text).not.toContain('iso-b-idp');
    }
  });

  it("finds B's users, clients and tokens by id under its own prefix no more than random ids (operator on A's prefix)", async () => {
    const bClients = (await B.admin().get('/oauth/clients').expect(200)).body.clients as Json[];
    const bTokens = (await B.admin().get('/tokens').expect(200)).body.tokens as Json[];
    for (const [what, id] of [
      ['user', `/users/${b.users[SHARED_USERS[0]]}`],
      ['client', `/oauth/clients/${bClients[0].client_id ?? bClients[0].id}`],
    ]) {
      const bId = id.split('/').pop()!;
      for (const token of [aAdmin, TOKENS.admin]) {
        await sameAsRandom(`GET A-prefix ${what}`, (x) => A.admin(token).get(id.replace(bId, x)), bId, [404]);
      }
    }
    await sameAsRandom('revoke B token from A', (x) => A.admin(aAdmin).delete(`/tokens/${x}`), bTokens[0].id, [404]);
    await sameAsRandom(
      'activate B user from A',
      (x) => A.admin(aAdmin).post(`/users/${x}/activate`, {}),
      b.users[SHARED_USERS[0]],
      [404],
    );
  });

  it("A's settings show nothing of another directory (the default directory's static tokens, B)", async () => {
    const res = await A.admin(aAdmin).get('/settings');
    attack();
    expect(res.status, res.text).toBe(200);
    for (const name of ['okta', 'hr-integration', 'bulk-loader', B.slug, B.id]) {
      expect(res.text, `A's directory admin reads ${name} in GET /settings`).not.toContain(`"${name}"`);
    }
  });

  it("rotating signing keys from A's admin API is refused and does not change B's published keys", async () => {
    const jwksB = await t.request.get(`${slugBase(B)}/.well-known/jwks.json`).expect(200);
    for (const token of [aAdmin, aOAuthAdmin]) {
      const res = await A.admin(token).post('/signing-keys/rotate', {});
      attack();
      // The signing keys are the instance's, shared by every directory: an operator's to rotate.
      expect(res.status, `A's directory admin rotated the instance's keys: ${res.status} ${res.text}`).toBe(403);
      const after = await t.request.get(`${slugBase(B)}/.well-known/jwks.json`).expect(200);
      expect(after.body).toEqual(jwksB.body);
    }
  });

  it('left B unchanged', async () => {
    await expectBUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------

describe('5. CSV import into A naming B', () => {
  it("resolves no manager and no group of B's", async () => {
    const header = 'Username,FirstName,LastName,Email,manager,Group1';
    const lines = [
      header,
      /* 2 */ `imp-1@a.example,Imp,One,imp-1@a.example,${ONLY_B_USER},`,
      /* 3 */ `imp-2@a.example,Imp,Two,imp-2@a.example,,${ONLY_B_GROUP}`,
      /* 4 */ `imp-3@a.example,Imp,Three,imp-3@a.example,${SHARED_USERS[0]},${SHARED_GROUP}`,
    ];
    const res = await t.request
      .post(`/admin/v1/directories/${A.id}/imports`)
      .set('Authorization', bearer(aAdmin))
      .set('Content-Type', 'text/csv')
      .send(`${lines.join('\r\n')}\r\n`);
    attack();
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ total: 3, created: 1, failed: 2 });
    const byLine = Object.fromEntries((res.body.errors as Json[]).map((e) => [e.line, e.reason]));
    expect(byLine[2]).toBe(`manager "${ONLY_B_USER}" does not exist`);
    expect(byLine[3]).toBe(`Group "${ONLY_B_GROUP}" does not exist`);
    expectNothingOfB(
      { text: JSON.stringify(res.body).split(ONLY_B_USER).join('') } as supertest.Response,
      'import report',
    );

    const find = async (userName: string) =>
      (
        await A.scim()
          .get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)
          .expect(200)
      ).body.Resources[0] as Json | undefined;
    attack();
    expect(await find('imp-1@a.example')).toBeUndefined();
    expect(await find('imp-2@a.example')).toBeUndefined();
    const three = await find('imp-3@a.example');
    attack();
    expect(three?.[ENTERPRISE]?.manager?.value).toBe(a.users[SHARED_USERS[0]]);
    expect(three?.groups.map((g: Json) => g.value)).toEqual([a.groupId]);

    const bGroup = await B.scim().get(`/Groups/${bOnlyGroup}`).expect(200);
    attack();
    expect(bGroup.body.members.map((m: Json) => m.value)).toEqual([bOnlyUser]);
    const bShared = await B.scim().get(`/Groups/${b.groupId}`).expect(200);
    expect(bShared.body.members).toHaveLength(2);
  });

  it('an import into B with the operator does not resolve A-only names either', async () => {
    const res = await t.request
      .post(`/admin/v1/directories/${B.id}/imports?dryRun=true`)
      .set('Authorization', bearer(TOKENS.admin))
      .set('Content-Type', 'text/csv')
      .send('Username,Email,manager\r\ndry@b.example,dry@b.example,imp-3@a.example\r\n');
    attack();
    expect(res.status, res.text).toBe(200);
    expect(res.body.errors[0].reason).toBe('manager "imp-3@a.example" does not exist');
  });

  it('left B unchanged', async () => {
    await expectBUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------

describe('6. security event receivers', () => {
  let receiver: { id: string; pollToken: string; pollUrl: string };
  const poll = (base: string, token: string) =>
    t.request
      .post(`${base}/security-events/poll`)
      .set('Authorization', bearer(token))
      .send({ returnImmediately: true, maxEvents: 100 });

  beforeAll(async () => {
    const res = await A.admin(aAdmin).post('/event-receivers', {
      name: 'a-siem',
      delivery: 'poll',
      audience: 'a-siem',
    });
    expect(res.status, res.text).toBe(201);
    receiver = res.body;
  });

  it("gives a poll URL under A's prefix", () => {
    attack();
    expect(receiver.pollUrl).toBe(`http://roster.test/directories/${A.slug}/security-events/poll`);
  });

  it("delivers only A's SETs after changes in A, B and the default directory", async () => {
    const aNew = (
      await A.scim()
        .post('/Users', { schemas: [USER], userName: 'set-a@shared.example' })
        .expect(201)
    ).body.id;
    const bNew = (
      await B.scim()
        .post('/Users', { schemas: [USER], userName: 'set-a@shared.example' })
        .expect(201)
    ).body.id;
    const dNew = (
      await t
        .scim()
        .post('/Users', { schemas: [USER], userName: 'set-a@shared.example' })
        .expect(201)
    ).body.id;
    await B.scim()
      .patch(`/Users/${b.users[SHARED_USERS[1]]}`, patchOp({ op: 'replace', path: 'active', value: false }))
      .expect(200);
    b.ids.push(bNew);
    const res = await poll(slugBase(A), receiver.pollToken);
    attack();
    expect(res.status, res.text).toBe(200);
    const claims = Object.values(res.body.sets as Record<string, string>).map((set) => decodeJwt(set));
    expect(claims.length).toBeGreaterThan(0);
    const text = JSON.stringify(claims);
    expect(text).toContain(aNew);
    for (const id of [bNew, dNew, ...b.ids, ...dflt.ids]) expect(text).not.toContain(id);
    for (const c of claims) expect(c.iss).toBe(`http://roster.test/directories/${A.slug}`);
  });

  it("refuses the poll token on B's prefix, at the root, and B's receivers do not list it", async () => {
    for (const base of [slugBase(B), '']) {
      const res = await poll(base, receiver.pollToken);
      attack();
      expect(res.status, `${base} ${res.text}`).toBe(401);
      expect(res.body.sets).toBeUndefined();
    }
    const listed = await B.admin().get('/event-receivers').expect(200);
    attack();
    expect(listed.text).not.toContain(receiver.id);
    await sameAsRandom('GET receiver of A on B', (id) => B.admin().get(`/event-receivers/${id}`), receiver.id, [404]);
    await sameAsRandom(
      'PATCH receiver of A on B',
      (id) => B.admin().patch(`/event-receivers/${id}`, { enabled: false }),
      receiver.id,
      [404],
    );
    await sameAsRandom(
      'DELETE receiver of A on B',
      (id) => B.admin().delete(`/event-receivers/${id}`),
      receiver.id,
      [404],
    );
    const still = await A.admin().get(`/event-receivers/${receiver.id}`).expect(200);
    expect(still.body.enabled).toBe(true);
  });

  it('a receiver in B gets none of A', async () => {
    const rb = await B.admin()
      .post('/event-receivers', { name: 'b-siem', delivery: 'poll', audience: 'b-siem' })
      .expect(201);
    const aMore = (
      await A.scim()
        .post('/Users', { schemas: [USER], userName: 'set-b@shared.example' })
        .expect(201)
    ).body.id;
    const bMore = (
      await B.scim()
        .post('/Users', { schemas: [USER], userName: 'set-b@shared.example' })
        .expect(201)
    ).body.id;
    const res = await poll(slugBase(B), rb.body.pollToken);
    attack();
    expect(res.status).toBe(200);
    const text = JSON.stringify(Object.values(res.body.sets as Record<string, string>).map((s) => decodeJwt(s)));
    expect(text).toContain(bMore);
    expect(text).not.toContain(aMore);
    for (const id of Object.values(a.users)) expect(text).not.toContain(id);
    const onA = await poll(slugBase(A), rb.body.pollToken);
    attack();
    expect(onA.status).toBe(401);
  });
});

// ---------------------------------------------------------------------------------------------

describe("7. each directory's event log", () => {
  it("B's log holds nothing about A's changes, and A's nothing about B's", async () => {
    const aLog = await A.admin().get('/events?limit=1000').expect(200);
    const bLog = await B.admin().get('/events?limit=1000').expect(200);
    const dLog = await t.admin().get('/events?limit=1000').expect(200);
    // B records the failed client authentications at its token endpoint (section 1): the client id the
    // attacker presented, and nothing that A's client exists (not its name, not its directory).
    const failed = (bLog.body.events as Json[]).filter((e) => e.type === 'oauth_client_auth_failed');
    attack();
    expect(failed).toHaveLength(2);
    for (const mark of ['a-sync', A.id, A.slug]) expect(JSON.stringify(failed)).not.toContain(mark);
    // A's real client and a made-up one are recorded alike (timestamps and ids aside).
    const shape = (e: Json) =>
      JSON.stringify({ ...e, timestamp: '<time>' }).replace(
        /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
        '<uuid>',
      );
    expect(shape(failed[0])).toBe(shape(failed[1]));
    const rest = (log: supertest.Response) =>
      JSON.stringify((log.body.events as Json[]).filter((e) => e.type !== 'oauth_client_auth_failed'));
    const [aText, bText, dText] = [rest(aLog), rest(bLog), rest(dLog)];
    const aMarks = [A.id, ...a.ids, aClientId, aAdminTokenId, 'imp-3@a.example'];
    // B's carol is named in A's log by A's own manager PATCH (section 2).
    const bMarks = [B.id, ...b.ids, bOnlyUser, bOnlyGroup, ONLY_B_USER].filter((id) => id !== b.users[SHARED_USERS[2]]);
    for (const id of aMarks) {
      attack();
      expect(bText, `B's log names ${id}`).not.toContain(id);
      expect(dText, `the default log names ${id}`).not.toContain(id);
    }
    for (const id of bMarks) {
      attack();
      expect(aText, `A's log names ${id}`).not.toContain(id);
      expect(dText, `the default log names ${id}`).not.toContain(id);
    }
    for (const id of dflt.ids) {
      attack();
      expect(aText).not.toContain(id);
      expect(bText).not.toContain(id);
    }
    // Each log does hold its own directory's changes.
    expect(aText).toContain(a.users[SHARED_USERS[0]]);
    expect(bText).toContain(b.users[SHARED_USERS[0]]);
    expect(dText).toContain(dflt.ids[0]);
  });

  it('event filters by another directory user id find nothing', async () => {
    for (const id of [b.users[SHARED_USERS[0]], bOnlyUser]) {
      const res = await A.admin(aAdmin).get(`/events?userId=${id}`);
      attack();
      expect(res.status).toBe(200);
      expect(res.body.events).toEqual([]);
    }
  });
});

describe('the count of attacks', () => {
  it('stays above its floor (a refactor that drops checks fails here)', () => {
    expect(attacks).toBeGreaterThan(650);
  });
});
