import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { startTestRoster, testConfig, TOKENS, type TestRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  getUser,
  lifecycleOf,
  movableClock,
  PASSWORD,
  unique,
  verify,
} from '../lifecycle/lifecycleHelpers.js';

/** Issue 16: POST /auth/verify needs a verify token, holds its lockout under bursts, and is rate-limited. */
const MAX = 5;
const WRONG = 'Wrong-Password-000';
const clock = movableClock();
let t: TestRoster;
beforeAll(async () => {
  t = await startTestRoster({ passwords: { maxFailedAttempts: MAX, lockoutMinutes: 15 } }, { now: clock.now });
});
afterAll(() => t?.close());

const activeUser = () => createUser(t, { password: PASSWORD }, TOKENS.integration);
const reasons = async (roster: TestRoster, id: string) =>
  (await eventsOf(roster, id, 'user_login_attempt')).map((a) => (a.details as { reason: string }).reason);

describe('who may call the credential check', () => {
  it('refuses a caller without a token (401 with a challenge), with a SCIM or admin token (403)', async () => {
    const user = await activeUser();
    const body = { username: user.userName, password: PASSWORD };
    const none = await t.request.post('/auth/verify').send(body);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.body.error.code).toBe('unauthorized');
    for (const token of [TOKENS.scim, TOKENS.admin]) {
      const res = await t.request.post('/auth/verify').set('Authorization', `Bearer ${token}`).send(body);
      expect(res.status).toBe(403);
    }
    // Nothing was evaluated for those callers.
    expect(await reasons(t, user.id)).toEqual([]);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
  });

  it('a verify token is accepted nowhere else', async () => {
    const bearer = { Authorization: `Bearer ${TOKENS.verify}` };
    expect((await t.request.get('/scim/v2/Users').set(bearer)).status).toBe(403);
    expect((await t.request.get('/admin/v1/settings').set(bearer)).status).toBe(403);
  });
});

// Bursts of 100 requests and a second instance: slow on a loaded 2-core machine, so a longer limit
// (the assertions are about what happens, not how fast).
const BURST_TIMEOUT_MS = 120_000;

describe('lockout under parallel attempts', () => {
  it(
    '100 parallel wrong passwords: exactly maxFailedAttempts evaluated, locked, the right password refused',
    async () => {
      const user = await activeUser();
      const burst = await Promise.all(Array.from({ length: 100 }, () => verify(t, user.userName, WRONG)));
      expect(burst.map((r) => r.status).filter((s) => s !== 401 && s !== 429)).toEqual([]);
      expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
      expect((await verify(t, user.userName, PASSWORD)).status).toBe(401);
      const seen = await reasons(t, user.id);
      expect(seen.filter((r) => r === 'wrong password')).toHaveLength(MAX);
      expect(await eventsOf(t, user.id, 'user_lockout')).toHaveLength(1);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    'the same across two Roster instances on one database',
    async () => {
      const user = await activeUser();
      let second: Roster | undefined;
      try {
        const config = testConfig({ passwords: { maxFailedAttempts: MAX, lockoutMinutes: 15 } });
        second = await createRoster({ config, db: t.db, logger: createLogger(config.log.level) });
        const other = supertest(second.app.callback());
        const call = (i: number) =>
          (i % 2 ? t.request : other)
            .post('/auth/verify')
            .set('Authorization', `Bearer ${TOKENS.verify}`)
            .send({ username: user.userName, password: WRONG });
        const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => call(i)));
        expect(burst.map((r) => r.status).filter((s) => s !== 401 && s !== 429)).toEqual([]);
        expect((await reasons(t, user.id)).filter((r) => r === 'wrong password')).toHaveLength(MAX);
        expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
        expect((await verify(t, user.userName, PASSWORD)).status).toBe(401);
      } finally {
        await second?.stop();
      }
    },
    BURST_TIMEOUT_MS,
  );

  it(
    'with passwords.lockoutMinutes the lock ends by itself after that time; the admin unlock still works',
    async () => {
      const user = await activeUser();
      for (let i = 0; i < MAX; i++) await verify(t, user.userName, WRONG);
      expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(true);
      clock.advanceDays(14 / (24 * 60)); // 14 minutes
      expect((await verify(t, user.userName, PASSWORD)).status).toBe(401);
      clock.advanceDays(2 / (24 * 60)); // 16 minutes
      try {
        expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
        const [unlocked] = await eventsOf(t, user.id, 'user_unlocked');
        expect(unlocked.initiatedBy).toEqual({ type: 'system', name: 'roster' });
        expect(lifecycleOf(await getUser(t, user.id)).locked).toBe(false);
      } finally {
        clock.reset();
      }
    },
    BURST_TIMEOUT_MS,
  );
});

describe('rate limits', () => {
  let limited: TestRoster;
  beforeAll(async () => {
    limited = await startTestRoster({
      auth: {
        scimTokens: [{ name: 'hr', token: TOKENS.integration, source: 'integration' }],
        adminTokens: [{ name: 'admin', token: TOKENS.admin }],
        verifyTokens: [
          { name: 'portal', token: TOKENS.verify },
          { name: 'other-app', token: 'another-verify-token-0001' },
        ],
        verifyRateLimit: { perClientPerMinute: 30, perUsernamePerMinute: 3, perIpPerMinute: 8 },
      },
      passwords: { maxFailedAttempts: 100 },
    });
  });
  afterAll(() => limited?.close());
  const call = (body: Record<string, string>, token: string = TOKENS.verify) =>
    limited.request.post('/auth/verify').set('Authorization', `Bearer ${token}`).send(body);

  it('per username: over the limit 429 with Retry-After, before any password is checked', async () => {
    const user = await createUser(limited, { password: PASSWORD }, TOKENS.integration);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await call({ username: user.userName, password: WRONG, ip: `10.0.0.${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refused = await call({ username: user.userName.toUpperCase(), password: PASSWORD, ip: '10.0.1.1' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.body.error.code).toBe('too_many_requests');
    expect(await reasons(limited, user.id)).toHaveLength(3);
  });

  // Bursts sent at once: the buckets refill continuously, so a slow sequence could earn a token back.
  const burst = (n: number, body: (i: number) => Record<string, string>, token?: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => call(body(i), token))).then((r) => r.map((x) => x.status).sort());

  it('per end-user IP (the ip field) across usernames, and a bad ip is 400', async () => {
    const statuses = await burst(10, () => ({ username: unique('ip'), password: WRONG, ip: '192.0.2.7' }));
    expect(statuses).toEqual([...Array(8).fill(401), 429, 429]);
    expect((await call({ username: unique('ip'), password: WRONG, ip: '192.0.2.8' })).status).toBe(401);
    expect((await call({ username: 'x', password: WRONG, ip: 'not-an-ip' })).status).toBe(400);
  });

  it('per calling client: one client over its limit does not stop another', async () => {
    const other = 'another-verify-token-0001';
    const statuses = await burst(40, (i) => ({ username: unique('c'), password: WRONG, ip: `198.51.100.${i}` }), other);
    // Its own bucket of 30 (every earlier call in this block came from the portal client).
    expect(statuses.filter((s) => s === 401).length).toBe(30);
    expect(statuses.filter((s) => s === 429).length).toBe(10);
    expect((await call({ username: unique('c'), password: WRONG, ip: '203.0.113.200' })).status).toBe(401);
  });
});
