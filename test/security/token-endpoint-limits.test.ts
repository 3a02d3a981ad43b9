import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/lifecycle/passwords.js';
import { startTestRoster, type TestRoster } from '../helpers/roster.js';
import { registerClient, tokenRequest, type RegisteredClient } from '../oauth/oauthHelpers.js';

/**
 * The token endpoint's failure limits as an outsider meets them: failures count per (client id,
 * address) and per address, never against the client's own address; the attempt is counted before
 * its secret is checked, so a parallel burst cannot get more checks than the limit; made-up and
 * oversized ids cost no look-up; secret checks (scrypt) run a few at a time.
 */

const GRANT = { grant_type: 'client_credentials' };
const opened: TestRoster[] = [];
afterAll(async () => {
  for (const t of opened) await t.close();
});

async function roster(oauth: Record<string, unknown>, server: Record<string, unknown> = {}) {
  const t = await startTestRoster({
    server: { publicUrl: 'http://roster.test', trustProxy: ['127.0.0.1', '::1'], ...server },
    oauth: { clientCacheSeconds: 60, ...oauth },
  });
  opened.push(t);
  return t;
}

/** A token request as a caller at `address` behind the trusted proxy (the test's loopback peer). */
const from = (t: TestRoster, address: string, id: string, secret: string) =>
  tokenRequest(t, GRANT, { id, secret }).set('X-Forwarded-For', address);

/** roster_oauth_secret_checks_total as /metrics shows it. */
async function secretChecks(t: TestRoster): Promise<number> {
  const text = (await t.request.get('/metrics').expect(200)).text;
  return Number(/^roster_oauth_secret_checks_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

describe('failures of others never lock a client out', () => {
  let t: TestRoster;
  let victim: RegisteredClient;
  beforeAll(async () => {
    t = await roster({ failedAuthPerMinute: 10 });
    victim = await registerClient(t, { name: 'entra-prod', source: 'integration' });
  });

  it("ten addresses' wrong secrets for the victim's id, then the victim's correct secret: 200", async () => {
    for (let i = 1; i <= 12; i++) {
      const res = await from(t, `203.0.113.${i}`, victim.client_id, 'wrong');
      expect(res.status).toBe(401);
    }
    const res = await from(t, '192.0.2.50', victim.client_id, victim.client_secret!);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it('one address over the limit gets 429; the client from its own address still gets its token', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await from(t, '198.51.100.7', victim.client_id, 'wrong')).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const refused = await from(t, '198.51.100.7', victim.client_id, 'wrong');
    expect(refused.body.error).toBe('temporarily_unavailable');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await from(t, '192.0.2.50', victim.client_id, victim.client_secret!)).status).toBe(200);
  });

  it('made-up ids from one address exhaust only that address, not every client', async () => {
    for (let i = 0; i < 10; i++) await from(t, '198.51.100.99', randomUUID(), 'wrong');
    expect((await from(t, '198.51.100.99', randomUUID(), 'wrong')).status).toBe(429);
    expect((await from(t, '192.0.2.51', victim.client_id, victim.client_secret!)).status).toBe(200);
  });

  it('without a trusted proxy, X-Forwarded-For is ignored: spoofed addresses do not dodge the limit', async () => {
    const direct = await roster({ failedAuthPerMinute: 3 }, { trustProxy: [] });
    const client = await registerClient(direct, { name: 'okta', source: 'manual' });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await from(direct, `203.0.113.${i}`, randomUUID(), 'x')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // A correct secret from the same (proxy) address is refused too: configure server.trustProxy.
    expect((await from(direct, '192.0.2.9', client.client_id, client.client_secret!)).status).toBe(429);
  });
});

describe('the limit holds for a parallel burst', () => {
  it('30 parallel wrong secrets from one address: at most the limit of secret checks, the rest 429', async () => {
    const t = await roster({ failedAuthPerMinute: 10, maxConcurrentSecretChecks: 4 });
    const client = await registerClient(t, { name: 'okta', source: 'manual' });
    const before = await secretChecks(t);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => from(t, '203.0.113.30', client.client_id, 'wrong')),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect((await secretChecks(t)) - before).toBe(10);
  });

  it('a burst past the concurrent-check cap queues or gets 429, and the server keeps answering', async () => {
    const t = await roster({ failedAuthPerMinute: 1000, maxConcurrentSecretChecks: 1 });
    const client = await registerClient(t, { name: 'okta', source: 'manual' });
    const burst = Promise.all(
      Array.from({ length: 40 }, (_, i) => from(t, `203.0.113.${i + 1}`, client.client_id, 'wrong')),
    );
    // While the checks run, other requests are served (scrypt runs off the event loop, one at a time).
    expect((await t.request.get('/healthz')).status).toBe(200);
    const results = await burst;
    const busy = results.filter((r) => r.status === 429);
    expect(results.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    // One at a time with 16 waiting: what arrives beyond that is refused at once.
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0].body.error).toBe('temporarily_unavailable');
    expect(busy[0].headers['retry-after']).toBe('1');
  });
});

describe('client ids Roster never issued', () => {
  let t: TestRoster;
  beforeAll(async () => {
    t = await roster({ failedAuthPerMinute: 1000 });
  });

  it('a 60 KB id is refused before any look-up or secret check, and never echoed', async () => {
    const before = await secretChecks(t);
    // In the form body (client_secret_post): a header this long is refused by Node itself (431).
    const huge = 'a'.repeat(60_000);
    const res = await tokenRequest(t, { ...GRANT, client_id: huge, client_secret: 'x' }).set(
      'X-Forwarded-For',
      '203.0.113.1',
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(await secretChecks(t)).toBe(before);
    const events = await t.db.collection('events').find({ type: 'oauth_client_auth_failed' }).toArray();
    expect(JSON.stringify(events)).not.toContain('aaaaaaaaaa');
  });

  it('a known and an unknown id cost one secret check each (a dummy hash for the unknown one)', async () => {
    const client = await registerClient(t, { name: 'okta', source: 'manual' });
    const before = await secretChecks(t);
    expect((await from(t, '203.0.113.2', randomUUID(), 'wrong')).status).toBe(401);
    expect(await secretChecks(t)).toBe(before + 1);
    expect((await from(t, '203.0.113.2', client.client_id, 'wrong')).status).toBe(401);
    expect(await secretChecks(t)).toBe(before + 2);
  });

  it('a failed look-up is not cached: a client made right after is found at once', async () => {
    const id = randomUUID();
    expect((await from(t, '203.0.113.3', id, 'the-secret')).status).toBe(401);
    // clientCacheSeconds is 60: a cached miss would refuse the next request for a minute.
    await t.db.collection('oauth_clients').insertOne({
      _id: id as never,
      directory: 'default',
      name: 'made-elsewhere',
      source: 'manual',
      scopes: ['scim:read'],
      secrets: [{ hash: await hashPassword('the-secret'), createdAt: new Date() }],
      createdAt: new Date(),
      version: 1,
    });
    const res = await from(t, '203.0.113.3', id, 'the-secret');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});
