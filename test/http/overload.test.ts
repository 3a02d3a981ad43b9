import { afterAll, describe, expect, it } from 'vitest';
import { startTestRoster, type TestRoster } from '../helpers/roster.js';

/** Overload protection: past the in-flight and queue limits, 429 with Retry-After and a SCIM error body. */
const opened: TestRoster[] = [];
afterAll(async () => {
  for (const t of opened) await t.close();
});
async function roster(overload: { maxInFlight: number; maxQueued: number; queueTimeoutMs: number }) {
  const t = await startTestRoster({ server: { publicUrl: 'http://roster.test', overload } });
  opened.push(t);
  return t;
}

describe('overload', () => {
  it('refuses what exceeds the in-flight and queue limits with 429, Retry-After and a SCIM error', async () => {
    const t = await roster({ maxInFlight: 1, maxQueued: 0, queueTimeoutMs: 1000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => t.scim().get('/Users?count=5')));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    const refused = results.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    }
    // The limiter forgets nothing: once the burst is over, requests pass again.
    expect((await t.scim().get('/Users?count=5')).status).toBe(200);
  });

  it('queues within the limits instead of refusing: every request of the burst is served', async () => {
    const t = await roster({ maxInFlight: 1, maxQueued: 50, queueTimeoutMs: 30_000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => t.scim().get('/Users?count=5')));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  });

  it('a request that waits longer than queueTimeoutMs is refused, and the admin API answers in its own shape', async () => {
    const t = await roster({ maxInFlight: 1, maxQueued: 50, queueTimeoutMs: 0 });
    const results = await Promise.all(Array.from({ length: 20 }, () => t.admin().get('/events?limit=5')));
    const refused = results.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].body.error.code).toBe('too_many_requests');
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });
});
