import { describe, expect, it } from 'vitest';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import { LIFECYCLE, PASSWORD, USER } from '../helpers/scim.js';

/** The admin contract (README "Admin API"), endpoint by endpoint: status, shape, and the error form. */

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const { t, sink } = useMailRoster({ passwords: { maxFailedAttempts: 2 } });
let seq = 0;

async function user(state: 'STAGED' | 'ACTIVE' | 'SUSPENDED', extra: Record<string, unknown> = {}): Promise<string> {
  seq += 1;
  const userName = `api${seq}@example.com`;
  const res = await t.scim().post('/Users', {
    schemas: [USER, LIFECYCLE],
    userName,
    name: { givenName: 'Api', familyName: `User${seq}` },
    emails: [{ value: userName, type: 'work', primary: true }],
    [LIFECYCLE]: { state, alternateEmail: `api${seq}@home.example` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

function expectError(res: { status: number; body: unknown }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ error: { code: code ?? expect.any(String), message: expect.any(String) } });
}

describe('authentication', () => {
  it.each([
    ['GET', '/settings'],
    ['GET', '/events'],
    ['GET', '/schedules'],
    ['POST', '/users/actions'],
    ['POST', `/users/${UNKNOWN}/activate`],
    ['POST', '/imports'],
    ['GET', '/exports/users'],
  ])('%s %s: 401 without a token, 403 with a SCIM token', async (method, path) => {
    const none = await (method === 'GET' ? t.request.get(`/admin/v1${path}`) : t.request.post(`/admin/v1${path}`));
    expectError(none, 401, 'unauthorized');
    const scim = method === 'GET' ? t.admin(TOKENS.scim).get(path) : t.admin(TOKENS.scim).post(path, {});
    expectError(await scim, 403, 'forbidden');
  });

  it('answers an unknown admin path with 404 in the admin error form', async () => {
    expectError(await t.admin().get('/no-such-endpoint'), 404);
  });
});

describe('single-user actions', () => {
  it('activate: STAGED -> ACTIVE, returns the user; 409 when already active; 404 unknown; 400 bad destination', async () => {
    const id = await user('STAGED');
    const res = await t.admin().post(`/users/${id}/activate`, { sendEmail: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, active: true, [LIFECYCLE]: { state: 'ACTIVE' } });
    expect(res.body.password).toBeUndefined();
    expectError(await t.admin().post(`/users/${id}/activate`, {}), 409, 'already_active');
    expectError(await t.admin().post(`/users/${UNKNOWN}/activate`, {}), 404, 'not_found');
    const other = await user('STAGED');
    expectError(
      await t.admin().post(`/users/${other}/activate`, { destination: 'nowhere' }),
      400,
      'invalid_destination',
    );
    expectError(await t.admin().post(`/users/${other}/activate`, { sendEmail: 'no' }), 400, 'invalid_parameter');
  });

  it('activate with a destination sends the activation email there', async () => {
    sink.clear();
    const id = await user('STAGED');
    const res = await t.admin().post(`/users/${id}/activate`, { destination: 'elsewhere@example.org' });
    expect(res.status).toBe(200);
    const [mail] = await sink.waitFor(1);
    expect(mail.to).toEqual(['elsewhere@example.org']);
  });

  it('suspend: -> SUSPENDED; 409 when already suspended; 404 unknown', async () => {
    const id = await user('ACTIVE');
    const res = await t.admin().post(`/users/${id}/suspend`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, active: false, [LIFECYCLE]: { state: 'SUSPENDED' } });
    expectError(await t.admin().post(`/users/${id}/suspend`), 409, 'already_suspended');
    expectError(await t.admin().post(`/users/${UNKNOWN}/suspend`), 404, 'not_found');
  });

  it('activation-email: 200 with the recipient for ACTIVE users, 409 for STAGED ones', async () => {
    const active = await user('ACTIVE');
    const res = await t.admin().post(`/users/${active}/activation-email`, { destination: 'alternate' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ kind: 'activation', recipient: expect.stringMatching(/@home\.example$/) });
    const staged = await user('STAGED');
    expectError(await t.admin().post(`/users/${staged}/activation-email`, {}), 409, 'not_eligible');
    expectError(await t.admin().post(`/users/${UNKNOWN}/activation-email`, {}), 404, 'not_found');
    expectError(
      await t.admin().post(`/users/${active}/activation-email`, { destination: 42 }),
      400,
      'invalid_destination',
    );
  });

  it('password-reset-email: ACTIVE users only', async () => {
    const active = await user('ACTIVE', { password: PASSWORD });
    const res = await t.admin().post(`/users/${active}/password-reset-email`, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'password-reset', recipient: expect.any(String) });
    const suspended = await user('SUSPENDED');
    expectError(await t.admin().post(`/users/${suspended}/password-reset-email`, {}), 409, 'not_eligible');
  });

  it('unlock and expire-password return the user', async () => {
    const id = await user('ACTIVE', { password: PASSWORD });
    const unlocked = await t.admin().post(`/users/${id}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.body[LIFECYCLE]).toMatchObject({ locked: false });
    const expired = await t.admin().post(`/users/${id}/expire-password`);
    expect(expired.status).toBe(200);
    expect(expired.body[LIFECYCLE]).toMatchObject({ passwordStatus: 'EXPIRED' });
    const pending = await user('ACTIVE');
    expectError(await t.admin().post(`/users/${pending}/expire-password`), 409, 'no_password');
    expectError(await t.admin().post(`/users/${UNKNOWN}/unlock`), 404, 'not_found');
  });

  it('refuses bodies that are not JSON objects', async () => {
    const id = await user('STAGED');
    const text = await t.request
      .post(`/admin/v1/users/${id}/activate`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/plain')
      .send('activate please');
    expectError(text, 415, 'unsupported_media_type');
    const broken = await t.request
      .post(`/admin/v1/users/${id}/activate`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'application/json')
      .send('{"sendEmail":');
    expectError(broken, 400, 'invalid_json');
    expectError(await t.admin().post(`/users/${id}/activate`, [1, 2]), 400, 'invalid_body');
  });
});

describe('schedules', () => {
  it('create (201), list by user, cancel (204), and the errors', async () => {
    const id = await user('STAGED');
    const at = '2031-09-01T08:00:00.000Z';
    const created = await t.admin().post(`/users/${id}/schedules`, { state: 'ACTIVE', at, sendEmail: false });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      userId: id,
      state: 'ACTIVE',
      at,
      sendEmail: false,
      createdBy: { type: 'admin', name: 'admin', id: 'token:admin' },
      createdAt: expect.any(String),
    });
    const scim = await t.scim().get(`/Users/${id}`);
    expect(scim.body[LIFECYCLE].scheduledActivation).toBe(at);

    const list = await t.admin().get(`/schedules?userId=${id}`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ schedules: [created.body] });
    const all = await t.admin().get('/schedules');
    expect(all.body.schedules.map((s: { id: string }) => s.id)).toContain(created.body.id);

    const cancelled = await t.admin().delete(`/schedules/${created.body.id}`);
    expect(cancelled.status).toBe(204);
    expect((await t.admin().get(`/schedules?userId=${id}`)).body).toEqual({ schedules: [] });
    expectError(await t.admin().delete(`/schedules/${created.body.id}`), 404, 'not_found');

    expectError(await t.admin().post(`/users/${id}/schedules`, { state: 'STAGED', at }), 400, 'invalid_state');
    expectError(await t.admin().post(`/users/${id}/schedules`, { state: 'ACTIVE', at: 'soon' }), 400, 'invalid_at');
    expectError(await t.admin().post(`/users/${UNKNOWN}/schedules`, { state: 'ACTIVE', at }), 404, 'not_found');
  });
});

describe('POST /admin/v1/users/actions', () => {
  it('applies the action to every user and answers a result per user', async () => {
    const a = await user('STAGED');
    const b = await user('STAGED');
    const c = await user('ACTIVE');
    const res = await t
      .admin()
      .post('/users/actions', { action: 'activate', userIds: [a, UNKNOWN, b, c], sendEmail: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ action: 'activate', succeeded: 2, failed: 2 });
    expect(res.body.results.map((r: { userId: string; ok: boolean }) => [r.userId, r.ok])).toEqual([
      [a, true],
      [UNKNOWN, false],
      [b, true],
      [c, false],
    ]);
    expect(res.body.results[0].result[LIFECYCLE].state).toBe('ACTIVE');
    expect(res.body.results[1].error).toEqual({ code: 'not_found', message: expect.any(String) });
    expect(res.body.results[3].error.code).toBe('already_active');
  });

  it('accepts the CLI names of the email actions and passes options through', async () => {
    const id = await user('ACTIVE');
    const res = await t
      .admin()
      .post('/users/actions', { action: 'send-activation', userIds: [id], destination: 'company' });
    expect(res.body).toMatchObject({ action: 'activation-email', succeeded: 1 });
    expect(res.body.results[0].result).toMatchObject({
      kind: 'activation',
      recipient: expect.stringMatching(/@example\.com$/),
    });
  });

  it('refuses an unknown action, a missing user list and too many users', async () => {
    expectError(await t.admin().post('/users/actions', { action: 'delete', userIds: ['x'] }), 400, 'invalid_action');
    expectError(await t.admin().post('/users/actions', { action: 'suspend', userIds: [] }), 400, 'invalid_user_ids');
    expectError(await t.admin().post('/users/actions', { action: 'suspend', userIds: 'x' }), 400, 'invalid_user_ids');
    const many = Array.from({ length: 1001 }, (_, i) => `u${i}`);
    expectError(await t.admin().post('/users/actions', { action: 'suspend', userIds: many }), 413, 'too_many');
  });
});

describe('imports and exports', () => {
  it('POST /imports answers the report', async () => {
    const res = await t.request
      .post('/admin/v1/imports?dryRun=true')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv; charset=utf-8')
      .send('Username,Email\nnew@example.com,new@example.com\n,x@example.com\n');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      importId: expect.any(String),
      dryRun: true,
      total: 2,
      created: 1,
      updated: 0,
      unchanged: 0,
      failed: 1,
      errors: [{ line: 3, reason: 'Username is required' }],
      truncated: false,
    });
    const latin = await t.request
      .post('/admin/v1/imports')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv; charset=iso-8859-1')
      .send('Username\nx\n');
    expectError(latin, 415, 'unsupported_charset');
    expectError(
      await t.request
        .post('/admin/v1/imports')
        .set('Authorization', `Bearer ${TOKENS.admin}`)
        .set('Content-Type', 'application/json')
        .send('{}'),
      415,
      'unsupported_media_type',
    );
  });

  it('GET /exports/users streams; another format is 400', async () => {
    const res = await t.admin().get('/exports/users?format=json');
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expectError(await t.admin().get('/exports/users?format=xlsx'), 400, 'invalid_parameter');
  });
});

describe('events and settings', () => {
  it('GET /events lists events newest first with a cursor; bad parameters are 400', async () => {
    const res = await t.admin().get('/events?type=user_activated&limit=2');
    expect(res.status).toBe(200);
    expect(res.body.events).toHaveLength(2);
    expect(res.body.events[0]).toMatchObject({
      id: expect.any(String),
      timestamp: expect.any(String),
      type: 'user_activated',
      resource: { type: 'User' },
      success: true,
    });
    expect(res.body.events[0].timestamp >= res.body.events[1].timestamp).toBe(true);
    expect(res.body.nextCursor).toEqual(expect.any(String));
    const next = await t.admin().get(`/events?type=user_activated&limit=2&cursor=${res.body.nextCursor}`);
    expect(next.status).toBe(200);
    expect(next.body.events[0].id).not.toBe(res.body.events[0].id);
    expectError(await t.admin().get('/events?type=nonsense'), 400, 'invalid_parameter');
    expectError(await t.admin().get('/events?since=yesterday'), 400);
    expectError(await t.admin().get('/events?limit=0'), 400);
  });

  it('GET /settings shows the effective configuration with secrets redacted', async () => {
    const res = await t.admin().get('/settings');
    expect(res.status).toBe(200);
    expect(res.body.users.defaultState).toEqual({ manual: 'STAGED', bulk: 'STAGED', integration: 'ACTIVE' });
    expect(res.body.passwords.maxFailedAttempts).toBe(2);
    expect(res.body.auth.adminTokens).toEqual([{ name: 'admin', secret: '[redacted]' }]);
    const text = JSON.stringify(res.body);
    for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
  });
});
