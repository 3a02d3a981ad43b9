import { describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster, type TestRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  getUser,
  LIFECYCLE,
  lifecycleOf,
  patchUser,
  unique,
  USER,
  userBody,
  type ScimUser,
} from './lifecycleHelpers.js';

/** README "States and sources": a new user's state per source, and the transitions. */

const t = useTestRoster();
const overridden = useTestRoster({
  users: {
    defaultState: { manual: 'ACTIVE', bulk: 'ACTIVE', integration: 'STAGED' },
    defaultPasswordAuthority: 'none',
  },
});

/** Creates one user through /Bulk (always the `bulk` source, whatever the token). */
async function createThroughBulk(roster: TestRoster, token: string, extra: Record<string, unknown> = {}) {
  const res = await roster.scim(token).post('/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'u1', data: { ...userBody(), ...extra } }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const op = res.body.Operations[0];
  expect(op.status, JSON.stringify(op)).toBe('201');
  const id = String(op.location).split('/').pop() as string;
  return getUser(roster, id);
}

function expectState(user: ScimUser, state: string, source: string) {
  expect(lifecycleOf(user).state).toBe(state);
  expect(lifecycleOf(user).source).toBe(source);
  expect(user.active).toBe(state === 'ACTIVE');
}

describe('a new user gets the default state of the creating token source', () => {
  it('default configuration: manual STAGED, bulk STAGED, integration ACTIVE', async () => {
    expectState(await createUser(t, {}, TOKENS.scim), 'STAGED', 'manual');
    expectState(await createUser(t, {}, TOKENS.integration), 'ACTIVE', 'integration');
    expectState(await createThroughBulk(t, TOKENS.bulk), 'STAGED', 'bulk');
    // /Bulk is the bulk source even with a manual or integration token.
    expectState(await createThroughBulk(t, TOKENS.integration), 'STAGED', 'bulk');
    // A single create with the bulk token is a bulk-source create too.
    expectState(await createUser(t, {}, TOKENS.bulk), 'STAGED', 'bulk');
  });

  it('overridden users.defaultState: manual ACTIVE, bulk ACTIVE, integration STAGED', async () => {
    expectState(await createUser(overridden, {}, TOKENS.scim), 'ACTIVE', 'manual');
    expectState(await createUser(overridden, {}, TOKENS.integration), 'STAGED', 'integration');
    expectState(await createThroughBulk(overridden, TOKENS.bulk), 'ACTIVE', 'bulk');
    expectState(await createThroughBulk(overridden, TOKENS.scim), 'ACTIVE', 'bulk');
  });

  it('an explicit extension state wins over the default', async () => {
    expectState(await createUser(t, { lifecycle: { state: 'ACTIVE' } }, TOKENS.scim), 'ACTIVE', 'manual');
    expectState(await createUser(t, { lifecycle: { state: 'STAGED' } }, TOKENS.integration), 'STAGED', 'integration');
    expectState(
      await createUser(t, { lifecycle: { state: 'SUSPENDED' } }, TOKENS.integration),
      'SUSPENDED',
      'integration',
    );
    expectState(
      await createThroughBulk(t, TOKENS.bulk, { schemas: [USER, LIFECYCLE], [LIFECYCLE]: { state: 'ACTIVE' } }),
      'ACTIVE',
      'bulk',
    );
    expectState(await createUser(overridden, { lifecycle: { state: 'STAGED' } }, TOKENS.scim), 'STAGED', 'manual');
  });

  it('active:false at create with an ACTIVE default makes the user SUSPENDED', async () => {
    expectState(await createUser(t, { active: false }, TOKENS.integration), 'SUSPENDED', 'integration');
    expectState(await createUser(overridden, { active: false }, TOKENS.scim), 'SUSPENDED', 'manual');
  });

  it('active:true at create with a STAGED default leaves the user STAGED', async () => {
    expectState(await createUser(t, { active: true }, TOKENS.scim), 'STAGED', 'manual');
  });

  it('new users have passwordStatus PENDING and the configured password authority', async () => {
    const user = await createUser(t, {}, TOKENS.integration);
    expect(lifecycleOf(user)).toMatchObject({ passwordStatus: 'PENDING', passwordAuthority: 'none', locked: false });
  });

  it('a user created ACTIVE records user_create and user_activated by the SCIM token', async () => {
    const user = await createUser(t, {}, TOKENS.integration);
    const events = await eventsOf(t, user.id);
    const create = events.find((e) => e.type === 'user_create');
    const activated = events.find((e) => e.type === 'user_activated');
    expect(create?.initiatedBy).toEqual({ type: 'scim', name: 'hr-integration', id: 'token:hr-integration' });
    expect(activated).toMatchObject({
      initiatedBy: { type: 'scim', name: 'hr-integration' },
      changes: [{ field: 'state', from: null, to: 'ACTIVE' }],
      resource: { type: 'User', id: user.id, username: user.userName },
      success: true,
    });
  });

  it('a user created STAGED has no state-change event', async () => {
    const user = await createUser(t, {}, TOKENS.scim);
    const types = (await eventsOf(t, user.id)).map((e) => e.type);
    expect(types).toContain('user_create');
    expect(types).not.toContain('user_activated');
    expect(types).not.toContain('user_suspended');
  });
});

describe('state transitions', () => {
  const lastStateEvent = async (id: string) => {
    const events = (await eventsOf(t, id)).filter((e) => e.type === 'user_activated' || e.type === 'user_suspended');
    return events[events.length - 1];
  };

  it('STAGED -> ACTIVE by admin activate, recorded as done by the admin', async () => {
    const user = await createUser(t);
    const res = await t.admin().post(`/users/${user.id}/activate`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.active).toBe(true);
    expect(res.body[LIFECYCLE].state).toBe('ACTIVE');
    expect(res.body[LIFECYCLE].activatedAt).toEqual(expect.any(String));
    expectState(await getUser(t, user.id), 'ACTIVE', 'manual');
    expect(await lastStateEvent(user.id)).toMatchObject({
      type: 'user_activated',
      initiatedBy: { type: 'admin', name: 'admin' },
      changes: [{ field: 'state', from: 'STAGED', to: 'ACTIVE' }],
    });
    // Activating an ACTIVE user is a conflict, not a second transition.
    expect((await t.admin().post(`/users/${user.id}/activate`, {})).status).toBe(409);
  });

  it('ACTIVE -> SUSPENDED by SCIM PATCH active:false, and back to ACTIVE by active:true', async () => {
    const user = await createUser(t, {}, TOKENS.integration);
    let res = await patchUser(t, user.id, [{ op: 'replace', path: 'active', value: false }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'SUSPENDED', 'integration');
    expect(await lastStateEvent(user.id)).toMatchObject({
      type: 'user_suspended',
      initiatedBy: { type: 'scim', name: 'okta' },
      changes: [{ field: 'state', from: 'ACTIVE', to: 'SUSPENDED' }],
    });

    res = await patchUser(t, user.id, [{ op: 'replace', value: { active: true } }], TOKENS.integration);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'ACTIVE', 'integration');
    expect(await lastStateEvent(user.id)).toMatchObject({
      type: 'user_activated',
      initiatedBy: { type: 'scim', name: 'hr-integration' },
      changes: [{ field: 'state', from: 'SUSPENDED', to: 'ACTIVE' }],
    });
  });

  it('ACTIVE -> SUSPENDED by admin suspend, SUSPENDED -> ACTIVE by admin activate', async () => {
    const user = await createUser(t, {}, TOKENS.integration);
    let res = await t.admin().post(`/users/${user.id}/suspend`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'SUSPENDED', 'integration');
    expect(await lastStateEvent(user.id)).toMatchObject({
      type: 'user_suspended',
      initiatedBy: { type: 'admin', name: 'admin' },
      changes: [{ field: 'state', from: 'ACTIVE', to: 'SUSPENDED' }],
    });
    expect((await t.admin().post(`/users/${user.id}/suspend`, {})).status).toBe(409);

    res = await t.admin().post(`/users/${user.id}/activate`, {});
    expect(res.status).toBe(200);
    expectState(res.body, 'ACTIVE', 'integration');
    expect(await lastStateEvent(user.id)).toMatchObject({
      type: 'user_activated',
      initiatedBy: { type: 'admin', name: 'admin' },
      changes: [{ field: 'state', from: 'SUSPENDED', to: 'ACTIVE' }],
    });
  });

  it('STAGED -> SUSPENDED by admin suspend and by an explicit SCIM state', async () => {
    const a = await createUser(t);
    const res = await t.admin().post(`/users/${a.id}/suspend`, {});
    expect(res.status).toBe(200);
    expectState(await getUser(t, a.id), 'SUSPENDED', 'manual');
    expect(await lastStateEvent(a.id)).toMatchObject({
      type: 'user_suspended',
      changes: [{ field: 'state', from: 'STAGED', to: 'SUSPENDED' }],
    });

    const b = await createUser(t);
    const patched = await patchUser(t, b.id, [{ op: 'replace', path: `${LIFECYCLE}:state`, value: 'SUSPENDED' }]);
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expectState(patched.body, 'SUSPENDED', 'manual');
    expect(await lastStateEvent(b.id)).toMatchObject({
      type: 'user_suspended',
      initiatedBy: { type: 'scim', name: 'okta' },
      changes: [{ field: 'state', from: 'STAGED', to: 'SUSPENDED' }],
    });
  });

  it('STAGED -> ACTIVE by an explicit SCIM state:"ACTIVE" (PATCH and PUT)', async () => {
    const a = await createUser(t);
    const res = await patchUser(t, a.id, [{ op: 'replace', path: `${LIFECYCLE}:state`, value: 'ACTIVE' }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'ACTIVE', 'manual');
    expect(await lastStateEvent(a.id)).toMatchObject({
      type: 'user_activated',
      initiatedBy: { type: 'scim', name: 'okta' },
    });

    const b = await createUser(t);
    const body = { ...userBody({ userName: b.userName, lifecycle: { state: 'ACTIVE' } }), id: b.id };
    const put = await t.scim().put(`/Users/${b.id}`, body);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expectState(put.body, 'ACTIVE', 'manual');
  });

  it('active:true leaves a STAGED user STAGED', async () => {
    const user = await createUser(t);
    const res = await patchUser(t, user.id, [{ op: 'replace', path: 'active', value: true }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'STAGED', 'manual');
    const types = (await eventsOf(t, user.id)).map((e) => e.type);
    expect(types).not.toContain('user_activated');
  });

  it('active:false leaves a STAGED user STAGED', async () => {
    const user = await createUser(t);
    const res = await patchUser(t, user.id, [{ op: 'replace', path: 'active', value: false }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectState(res.body, 'STAGED', 'manual');
  });

  it('a user cannot return to STAGED: 400 mutability, and nothing changes', async () => {
    const active = await createUser(t, {}, TOKENS.integration);
    const suspended = await createUser(t, { active: false }, TOKENS.integration);
    for (const user of [active, suspended]) {
      const res = await patchUser(t, user.id, [{ op: 'replace', path: `${LIFECYCLE}:state`, value: 'STAGED' }]);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.scimType).toBe('mutability');
      const body = { ...userBody({ userName: user.userName, lifecycle: { state: 'STAGED' } }), id: user.id };
      const put = await t.scim().put(`/Users/${user.id}`, body);
      expect(put.status).toBe(400);
      expect(put.body.scimType).toBe('mutability');
      expect(lifecycleOf(await getUser(t, user.id)).state).toBe(lifecycleOf(user).state);
    }
  });

  it('sending the current state back (as IdPs do on PUT) is no transition', async () => {
    const user = await createUser(t);
    const body = { ...userBody({ userName: user.userName, lifecycle: { state: 'STAGED' } }), id: user.id };
    const put = await t.scim().put(`/Users/${user.id}`, body);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expectState(put.body, 'STAGED', 'manual');
  });

  it('admin actions on an unknown user answer 404', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const action of ['activate', 'suspend']) {
      const res = await t.admin().post(`/users/${missing}/${action}`, {});
      expect(res.status).toBe(404);
      expect(res.body.error.code).toEqual(expect.any(String));
    }
  });

  it('each transition of one user is in its event history, in order', async () => {
    const user = await createUser(t, { userName: unique('history') });
    await t.admin().post(`/users/${user.id}/activate`, {});
    await patchUser(t, user.id, [{ op: 'replace', path: 'active', value: false }]);
    await t.admin().post(`/users/${user.id}/activate`, {});
    const changes = (await eventsOf(t, user.id))
      .filter((e) => e.type === 'user_activated' || e.type === 'user_suspended')
      .map((e) => `${e.changes?.[0].from}->${e.changes?.[0].to} by ${e.initiatedBy.type}`);
    expect(changes).toEqual(['STAGED->ACTIVE by admin', 'ACTIVE->SUSPENDED by scim', 'SUSPENDED->ACTIVE by admin']);
  });
});
