import { beforeAll, describe, expect, it } from 'vitest';
import { TOKENS, testConfig, useTestRoster } from '../helpers/roster.js';
import { GROUP, LIFECYCLE, PASSWORD, USER } from '../helpers/scim.js';

/**
 * The admin endpoints the console reads and writes: user search, counts per state, one user with
 * groups, the alternate email edit, events by actor, per-line import outcomes, the reload status.
 */

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const t = useTestRoster({ passwords: { maxFailedAttempts: 1 } });
const ids: Record<string, string> = {};

async function user(key: string, body: Record<string, unknown>) {
  const res = await t.scim().post('/Users', { schemas: [USER, LIFECYCLE], ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  ids[key] = res.body.id;
  return res.body.id as string;
}

function expectError(res: { status: number; body: unknown }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: { code: code ?? expect.any(String), message: expect.any(String) } });
}

const userNames = (res: { body: { users: { userName: string }[] } }) => res.body.users.map((u) => u.userName);

beforeAll(async () => {
  await user('ann', {
    userName: 'ann.adams',
    name: { givenName: 'Ann', familyName: 'Zimmer' },
    emails: [{ value: 'ann@corp.example', type: 'work', primary: true }],
    [LIFECYCLE]: { state: 'STAGED', alternateEmail: 'annie@home.example' },
  });
  await user('bob', {
    userName: 'bob.brown',
    name: { givenName: 'Bob', familyName: 'Young' },
    emails: [{ value: 'bob@corp.example', type: 'work' }],
    [LIFECYCLE]: { state: 'ACTIVE' },
  });
  await user('cat', {
    userName: 'cat.o"hara',
    name: { givenName: 'Cat', familyName: 'Xu' },
    emails: [{ value: 'cat@corp.example', type: 'work' }],
    password: PASSWORD,
    [LIFECYCLE]: { state: 'ACTIVE' },
  });
  await user('dan', {
    userName: 'dan.dunn',
    emails: [{ value: 'dan@corp.example', type: 'work' }],
    [LIFECYCLE]: { state: 'SUSPENDED' },
  });
  // Cat locks herself out.
  await t.request.post('/auth/verify').set('Authorization', `Bearer ${TOKENS.verify}`).send({
    username: 'cat.o"hara',
    password: 'wrong',
  });
  const group = await t.scim().post('/Groups', {
    schemas: [GROUP],
    displayName: 'Engineering',
    members: [{ value: ids.bob }],
  });
  expect(group.status).toBe(201);
});
describe('GET /admin/v1/users', () => {
  it.each([
    ['a piece of the userName', 'n.ada', ['ann.adams']],
    ['a given name, any case', 'BOB', ['bob.brown']],
    ['a family name', 'zimm', ['ann.adams']],
    ['a company email', 'dan@corp', ['dan.dunn']],
    ['an alternate email', 'annie@home', ['ann.adams']],
    ['a quote, taken literally', 'o"h', ['cat.o"hara']],
    ['a regex character, taken literally', '.*', []],
  ])('finds users by %s', async (_what, q, expected) => {
    const res = await t.admin().get(`/users?q=${encodeURIComponent(q)}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(userNames(res)).toEqual(expected);
    expect(res.body.totalResults).toBe(expected.length);
  });

  it('filters by state, password status, lockout and pending activation', async () => {
    expect(userNames(await t.admin().get('/users?state=ACTIVE'))).toEqual(['bob.brown', 'cat.o"hara']);
    expect(userNames(await t.admin().get('/users?passwordStatus=ACTIVE'))).toEqual(['cat.o"hara']);
    expect(userNames(await t.admin().get('/users?locked=true'))).toEqual(['cat.o"hara']);
    expect(userNames(await t.admin().get('/users?activationPending=true'))).toEqual(['bob.brown']);
    expect(userNames(await t.admin().get('/users?state=SUSPENDED&q=dan'))).toEqual(['dan.dunn']);
  });

  it('sorts and pages with a cursor', async () => {
    const byFamily = await t.admin().get('/users?sort=familyName&order=ascending');
    expect(userNames(byFamily).filter((n) => n !== 'dan.dunn')).toEqual(['cat.o"hara', 'bob.brown', 'ann.adams']);
    const reversed = await t.admin().get('/users?sort=familyName&order=descending');
    expect(userNames(reversed).filter((n) => n !== 'dan.dunn')).toEqual(['ann.adams', 'bob.brown', 'cat.o"hara']);
    const first = await t.admin().get('/users?count=2');
    expect(userNames(first)).toEqual(['ann.adams', 'bob.brown']);
    expect(first.body.totalResults).toBe(4);
    const second = await t.admin().get(`/users?count=2&cursor=${first.body.nextCursor}`);
    expect(userNames(second)).toEqual(['cat.o"hara', 'dan.dunn']);
    expect(second.body.nextCursor).toBeNull();
  });

  it.each([
    ['state=GONE', 'invalid_parameter'],
    ['passwordStatus=maybe', 'invalid_parameter'],
    ['locked=yes', 'invalid_parameter'],
    ['sort=password', 'invalid_parameter'],
    ['q=a&q=b', 'invalid_parameter'],
    [`q=${'x'.repeat(201)}`, 'invalid_parameter'],
    ['cursor=garbage', undefined],
  ])('refuses %s with 400', async (query, code) => {
    expectError(await t.admin().get(`/users?${query}`), 400, code);
  });
});

describe('GET /admin/v1/users/counts and /users/{id}', () => {
  it('counts users per state, locked out and pending activation', async () => {
    const res = await t.admin().get('/users/counts');
    expect(res.body).toEqual({ STAGED: 1, ACTIVE: 2, SUSPENDED: 1, locked: 1, activationPending: 1 });
  });

  it('returns one user with their groups; 404 for an unknown id', async () => {
    const res = await t.admin().get(`/users/${ids.bob}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: ids.bob, userName: 'bob.brown', groups: [{ display: 'Engineering' }] });
    expect(res.body.password).toBeUndefined();
    expectError(await t.admin().get(`/users/${UNKNOWN}`), 404);
  });
});

describe('PATCH /admin/v1/users/{id}', () => {
  const patch = (id: string, body: unknown) =>
    t.request
      .patch(`/admin/v1/users/${id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send(body as object);

  it('sets and removes the alternate email, recording who did it', async () => {
    const set = await patch(ids.dan, { alternateEmail: 'dan@home.example' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body[LIFECYCLE].alternateEmail).toBe('dan@home.example');
    const removed = await patch(ids.dan, { alternateEmail: null });
    expect(removed.body[LIFECYCLE].alternateEmail).toBeUndefined();
    const events = await t.admin().get(`/events?userId=${ids.dan}&type=user_update&actor=admin`);
    expect(events.body.events).toHaveLength(2);
  });

  it('refuses a taken address (409), a bad one or other attributes (400), an unknown user (404)', async () => {
    expectError(await patch(ids.dan, { alternateEmail: 'ann@corp.example' }), 409);
    expectError(await patch(ids.dan, { alternateEmail: 'Dan <dan@x.example>' }), 400);
    expectError(await patch(ids.dan, { alternateEmail: 42 }), 400, 'invalid_body');
    expectError(await patch(ids.dan, { userName: 'evil' }), 400, 'invalid_body');
    expectError(await patch(UNKNOWN, { alternateEmail: 'x@y.example' }), 404);
  });
});

describe('the rest the console reads', () => {
  it('GET /events?actor= keeps the events of one actor', async () => {
    const scim = await t.admin().get('/events?actor=okta&type=user_create');
    expect(scim.body.events).toHaveLength(4);
    expect((await t.admin().get('/events?actor=nobody')).body.events).toEqual([]);
    expectError(await t.admin().get('/events?actor=a&actor=b'), 400, 'invalid_parameter');
  });

  it('POST /imports?dryRun=true&lines=true gives every line its outcome', async () => {
    const csv =
      'Username,FirstName,Email,Group1\nnew.one,New,new.one@corp.example,\nbob.brown,Bob,,\nbad one,,nope,\n' +
      'no.group,No,no.group@corp.example,Nowhere\n';
    const res = await t.request
      .post('/admin/v1/imports?dryRun=true&lines=true')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv')
      .send(csv);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.lines).toEqual([
      { line: 2, outcome: 'created', userName: 'new.one' },
      { line: 3, outcome: 'unchanged', userName: 'bob.brown' },
      { line: 4, outcome: 'failed', reason: expect.any(String) },
      { line: 5, outcome: 'failed', userName: 'no.group', reason: 'Group "Nowhere" does not exist' },
    ]);
    const plain = await t.request
      .post('/admin/v1/imports?dryRun=true')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv')
      .send(csv);
    expect(plain.body.lines).toBeUndefined();
  });

  it('GET /settings/reload: null before a reload, then its outcome', async () => {
    expect((await t.admin().get('/settings/reload')).body).toEqual({ lastReload: null });
    await t.roster.reload(
      testConfig({ users: { defaultState: { manual: 'ACTIVE', bulk: 'STAGED', integration: 'ACTIVE' } } }),
    );
    expect((await t.admin().get('/settings/reload')).body.lastReload).toEqual({
      at: expect.any(String),
      ok: true,
      restartNeeded: [],
    });
    t.roster.reloadRefused('mail.templatesDir: no such folder');
    expect((await t.admin().get('/settings/reload')).body.lastReload).toMatchObject({
      ok: false,
      error: 'mail.templatesDir: no such folder',
    });
  });
});
