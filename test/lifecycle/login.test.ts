import { describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  getUser,
  lifecycleOf,
  PASSWORD,
  unique,
  verify,
  type UserInput,
} from './lifecycleHelpers.js';

/** POST /auth/verify: access needs state ACTIVE and passwordStatus ACTIVE; lockout; events. */

const MAX_FAILURES = 3;
// Jobs are not started: the welcome emails wait in the outbox, which login does not need.
const t = useTestRoster({ passwords: { maxFailedAttempts: MAX_FAILURES } });

const WRONG = 'Wrong-Password-000';

async function activeUserWithPassword(input: UserInput = {}) {
  return createUser(t, { password: PASSWORD, ...input }, TOKENS.integration);
}

async function expectGeneric401(res: { status: number; body: unknown }) {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: { code: 'invalid_credentials', message: 'Invalid username or password' } });
}

async function loginAttempts(userId: string) {
  return eventsOf(t, userId, 'user_login_attempt');
}

describe.concurrent('checking credentials', () => {
  it('an ACTIVE user with an ACTIVE password gets 200, lastLogin is set, and the attempt is an event', async () => {
    const user = await activeUserWithPassword();
    expect(lifecycleOf(user).lastLogin).toBeUndefined();
    const before = Date.now();
    const res = await verify(t, user.userName, PASSWORD);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ authenticated: true, id: user.id, userName: user.userName });
    const lastLogin = lifecycleOf(await getUser(t, user.id)).lastLogin;
    expect(lastLogin).toEqual(expect.any(String));
    expect(new Date(lastLogin as string).getTime()).toBeGreaterThanOrEqual(before - 1000);
    const [attempt] = await loginAttempts(user.id);
    expect(attempt).toMatchObject({
      success: true,
      initiatedBy: { type: 'user', name: user.userName },
      resource: { type: 'User', id: user.id },
    });
  });

  it('the username is matched case-insensitively', async () => {
    const user = await activeUserWithPassword({ userName: unique('CaseUser') });
    expect((await verify(t, user.userName.toUpperCase(), PASSWORD)).status).toBe(200);
  });

  it('a wrong password gets the generic 401 and a failed attempt event', async () => {
    const user = await activeUserWithPassword();
    await expectGeneric401(await verify(t, user.userName, WRONG));
    const [attempt] = await loginAttempts(user.id);
    expect(attempt).toMatchObject({ success: false, initiatedBy: { type: 'user', name: user.userName } });
    expect(lifecycleOf(await getUser(t, user.id)).lastLogin).toBeUndefined();
  });

  it('an unknown user gets the same generic 401', async () => {
    await expectGeneric401(await verify(t, unique('nobody'), PASSWORD));
  });

  it('STAGED, SUSPENDED and PENDING-password users get the same generic 401, even with the right password', async () => {
    const staged = await createUser(t, { password: PASSWORD }, TOKENS.scim);
    const suspended = await createUser(t, { password: PASSWORD, active: false }, TOKENS.integration);
    const suspendedLater = await activeUserWithPassword();
    expect((await t.admin().post(`/users/${suspendedLater.id}/suspend`, {})).status).toBe(200);
    const pending = await createUser(t, {}, TOKENS.integration);
    expect(lifecycleOf(staged)).toMatchObject({ state: 'STAGED', passwordStatus: 'ACTIVE' });
    expect(lifecycleOf(suspended)).toMatchObject({ state: 'SUSPENDED', passwordStatus: 'ACTIVE' });
    expect(lifecycleOf(pending)).toMatchObject({ state: 'ACTIVE', passwordStatus: 'PENDING' });
    for (const user of [staged, suspended, suspendedLater, pending]) {
      await expectGeneric401(await verify(t, user.userName, PASSWORD));
      const attempts = await loginAttempts(user.id);
      expect(attempts.map((a) => a.success)).toEqual([false]);
      expect(lifecycleOf(await getUser(t, user.id)).lastLogin).toBeUndefined();
    }
  });

  it('a reactivated user can sign in again', async () => {
    const user = await activeUserWithPassword();
    await t.admin().post(`/users/${user.id}/suspend`, {});
    await expectGeneric401(await verify(t, user.userName, PASSWORD));
    await t.admin().post(`/users/${user.id}/activate`, { sendEmail: false });
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
  });

  it('a request without username or password is a 400', async () => {
    const call = () => t.request.post('/auth/verify').set('Authorization', `Bearer ${TOKENS.verify}`);
    expect((await call().send({ username: 'x' })).status).toBe(400);
    expect((await call().send({ password: 'x' })).status).toBe(400);
  });
});

describe('lockout', () => {
  it(`locks after ${MAX_FAILURES} failures: locked in SCIM, a user_lockout event, the right password refused`, async () => {
    const user = await activeUserWithPassword();
    for (let i = 0; i < MAX_FAILURES; i++) await expectGeneric401(await verify(t, user.userName, WRONG));
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
    const lockouts = await eventsOf(t, user.id, 'user_lockout');
    expect(lockouts).toHaveLength(1);
    expect(lockouts[0]).toMatchObject({ initiatedBy: { type: 'system' }, resource: { id: user.id } });

    await expectGeneric401(await verify(t, user.userName, PASSWORD));
    expect(lifecycleOf(await getUser(t, user.id)).lastLogin).toBeUndefined();
    const attempts = await loginAttempts(user.id);
    expect(attempts).toHaveLength(MAX_FAILURES + 1);
    expect(attempts.every((a) => a.success === false)).toBe(true);

    const unlock = await t.admin().post(`/users/${user.id}/unlock`, {});
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(false);
    const [unlocked] = await eventsOf(t, user.id, 'user_unlocked');
    expect(unlocked.initiatedBy).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
  });

  it('a successful login resets the failure count', async () => {
    const user = await activeUserWithPassword();
    for (let i = 0; i < MAX_FAILURES - 1; i++) await expectGeneric401(await verify(t, user.userName, WRONG));
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES - 1; i++) await expectGeneric401(await verify(t, user.userName, WRONG));
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(false);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
  });

  it('a burst of parallel wrong passwords leaves the user writable: unlock, suspend, PATCH and delete work', async () => {
    const user = await activeUserWithPassword();
    const burst = await Promise.all(Array.from({ length: 40 }, () => verify(t, user.userName, WRONG)));
    // Every guess gets the generic 401 (never 409), exactly MAX_FAILURES are evaluated, and the lock holds.
    expect(burst.map((r) => r.status).filter((s) => s !== 401)).toEqual([]);
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
    await expectGeneric401(await verify(t, user.userName, PASSWORD));
    const reasons = (await loginAttempts(user.id)).map((a) => (a.details as { reason: string }).reason);
    expect(reasons.filter((r) => r === 'wrong password')).toHaveLength(MAX_FAILURES);
    expect(reasons.filter((r) => r === 'locked')).toHaveLength(41 - MAX_FAILURES);
    expect(await eventsOf(t, user.id, 'user_lockout')).toHaveLength(1);

    const unlock = await t.admin().post(`/users/${user.id}/unlock`, {});
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
    const suspend = await t.admin().post(`/users/${user.id}/suspend`, {});
    expect(suspend.status, JSON.stringify(suspend.body)).toBe(200);
    const patch = await t.scim().patch(`/Users/${user.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Former' }],
    });
    expect(patch.status, JSON.stringify(patch.body)).toBe(200);
    expect((await t.scim().delete(`/Users/${user.id}`)).status).toBe(204);
  });

  it('a locked account takes as long to refuse as a wrong password (the hash is checked either way)', async () => {
    const user = await activeUserWithPassword();
    const other = await activeUserWithPassword();
    for (let i = 0; i < MAX_FAILURES; i++) await verify(t, user.userName, WRONG);
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
    /** Median time of a refused attempt; `after` (untimed) runs between attempts. */
    const median = async (username: string, password: string, after: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await verify(t, username, password);
        times.push(performance.now() - started);
        await expectGeneric401(res);
        await after();
      }
      return times.sort((a, b) => a - b)[2];
    };
    // A login of `other` between wrong guesses resets its count, so it never locks.
    const wrong = await median(other.userName, WRONG, () => verify(t, other.userName, PASSWORD));
    const locked = await median(user.userName, PASSWORD, async () => undefined);
    // The locked path used to skip scrypt and answer in a fraction of a wrong password's time.
    expect(locked).toBeGreaterThan(wrong * 0.5);
  });

  it('after an unlock the user has the full number of attempts again', async () => {
    const user = await activeUserWithPassword();
    for (let i = 0; i < MAX_FAILURES; i++) await verify(t, user.userName, WRONG);
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
    await t.admin().post(`/users/${user.id}/unlock`, {});
    await expectGeneric401(await verify(t, user.userName, WRONG));
    expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(false);
  });
});

describe('expired passwords', () => {
  it('expire-password sets passwordStatus EXPIRED and login is refused', async () => {
    const user = await activeUserWithPassword();
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
    const res = await t.admin().post(`/users/${user.id}/expire-password`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(lifecycleOf(await getUser(t, user.id)).passwordStatus).toBe('EXPIRED');
    await expectGeneric401(await verify(t, user.userName, PASSWORD));
    const [event] = await eventsOf(t, user.id, 'user_password_expired');
    expect(event.initiatedBy).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });
  });

  it('expire-password on a user without a password is a 409', async () => {
    const user = await createUser(t, {}, TOKENS.integration);
    expect((await t.admin().post(`/users/${user.id}/expire-password`, {})).status).toBe(409);
  });

  it('a new SCIM password makes an EXPIRED password ACTIVE again', async () => {
    const user = await activeUserWithPassword();
    await t.admin().post(`/users/${user.id}/expire-password`, {});
    const res = await t.scim(TOKENS.integration).patch(`/Users/${user.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'password', value: 'Fresh-Password-55' }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(lifecycleOf(res.body).passwordStatus).toBe('ACTIVE');
    expect((await verify(t, user.userName, 'Fresh-Password-55')).status).toBe(200);
  });
});
