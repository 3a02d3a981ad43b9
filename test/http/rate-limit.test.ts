import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuckets } from '../../src/buckets.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

describe('per-token rate limiting', () => {
  let limited: TestRoster;
  let open: TestRoster;
  beforeAll(async () => {
    limited = await startTestRoster({ rateLimit: { enabled: true, requestsPerMinute: 5 } });
    open = await startTestRoster();
  });
  afterAll(async () => {
    await limited.close();
    await open.close();
  });

  it('answers 429 with Retry-After and a SCIM error once a token used its allowance', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await limited.scim().get('/ServiceProviderConfig')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const res = await limited.scim().get('/ServiceProviderConfig');
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.body).toMatchObject({ status: '429', schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'] });
  });

  it('answers an admin token over its allowance in the admin error shape, with Retry-After', async () => {
    let res = await limited.admin().get('/settings');
    for (let i = 0; i < 6 && res.status !== 429; i++) res = await limited.admin().get('/settings');
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.body).toEqual({ error: { code: 'too_many_requests', message: expect.stringMatching(/Rate limit/) } });
  });

  it('counts each token separately', async () => {
    expect((await limited.scim(TOKENS.integration).get('/ServiceProviderConfig')).status).toBe(200);
  });

  it('is off by default', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await open.scim().get('/ServiceProviderConfig')).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});

describe('token buckets with many keys (a username spray)', () => {
  it('still limit a key once more than 10,000 other keys were seen', () => {
    const buckets = createBuckets(() => 1_000_000);
    for (let i = 0; i < 10_001; i++) expect(buckets.take(`user:spray${i}`, 2)).toBeUndefined();
    // The limit holds for the next key (a full bucket once forgot every take: never limited).
    expect(buckets.take('user:victim', 2)).toBeUndefined();
    expect(buckets.take('user:victim', 2)).toBeUndefined();
    expect(buckets.take('user:victim', 2)).toBe(30);
  });

  it('keep at most maxKeys keys, forgetting the one seen least recently', () => {
    const buckets = createBuckets(() => 0, 3);
    for (const key of ['a', 'b', 'c']) buckets.take(key, 1);
    expect(buckets.take('a', 1)).toBe(60); // a is limited and now the most recent
    buckets.take('d', 1); // over 3 keys: b, the least recently seen, is forgotten
    expect(buckets.take('b', 1)).toBeUndefined();
    expect(buckets.take('a', 1)).toBe(60);
  });
});
