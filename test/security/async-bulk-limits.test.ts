import { afterAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';
import { FAST, USER } from '../securityEvents/receiver.js';

/**
 * Asynchronous /Bulk (Prefer: respond-async) within limits: background runs are capped per process
 * and per client and each holds one of the overload guard's request slots; a request over a limit is
 * answered synchronously (200 with the whole BulkResponse) instead of running uncounted.
 */

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const opened: TestRoster[] = [];
afterAll(async () => {
  for (const t of opened) await t.close();
});

async function roster(overrides: Record<string, unknown>) {
  const t = await startTestRoster({ ...FAST, ...overrides }, { start: true });
  opened.push(t);
  // A poll receiver bound to the SCIM client of TOKENS.scim answers its asynchronous requests.
  await t
    .admin()
    .post('/event-receivers', { name: 'okta-async', delivery: 'poll', audience: 'okta', client: 'token:okta' })
    .expect(201);
  return t;
}

const bulkOf = (prefix: string, count: number) => ({
  schemas: [BULK_REQUEST],
  Operations: Array.from({ length: count }, (_, i) => ({
    method: 'POST',
    path: '/Users',
    bulkId: `b${i}`,
    data: USER(`${prefix}-${i}`),
  })),
});

const asyncBulk = (t: TestRoster, body: unknown) =>
  t.request
    .post('/scim/v2/Bulk')
    .set('Authorization', `Bearer ${TOKENS.scim}`)
    .set('Prefer', 'respond-async')
    .set('Content-Type', 'application/scim+json')
    .send(JSON.stringify(body));

const usersNamed = async (t: TestRoster, prefix: string) =>
  (await t.scim().get(`/Users?filter=userName sw "${prefix}-"&count=1`).expect(200)).body.totalResults as number;

describe('asynchronous /Bulk limits', () => {
  it('within the limits: 202 and the run happens in the background', async () => {
    const t = await roster({});
    const res = await asyncBulk(t, bulkOf('within', 3));
    expect(res.status).toBe(202);
    await t.roster.stop(); // waits for background runs
    expect(await usersNamed(t, 'within')).toBe(3);
  });

  it('maxAsyncRuns 0: every request is answered synchronously, with its results', async () => {
    const t = await roster({
      scim: { bulk: { maxOperations: 1000, maxPayloadSize: 1048576, maxAsyncRuns: 0, maxAsyncRunsPerClient: 2 } },
    });
    const res = await asyncBulk(t, bulkOf('none', 3));
    expect(res.status).toBe(200);
    expect(res.headers['preference-applied']).toBeUndefined();
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201']);
  });

  it('one background run per client: concurrent requests beyond it are answered synchronously', async () => {
    const t = await roster({
      scim: { bulk: { maxOperations: 1000, maxPayloadSize: 1048576, maxAsyncRuns: 10, maxAsyncRunsPerClient: 1 } },
    });
    const results = await Promise.all([0, 1, 2, 3].map((i) => asyncBulk(t, bulkOf(`per-client-${i}`, 40))));
    const statuses = results.map((r) => r.status);
    expect(statuses).toContain(202);
    expect(statuses).toContain(200);
    expect(statuses.every((s) => s === 200 || s === 202)).toBe(true);
    await t.roster.stop();
    for (const i of [0, 1, 2, 3]) expect(await usersNamed(t, `per-client-${i}`)).toBe(40);
  });

  it('a background run needs a free request slot (server.overload): with one slot, the answer is synchronous', async () => {
    const t = await roster({
      server: { publicUrl: 'http://roster.test', overload: { maxInFlight: 1, maxQueued: 10, queueTimeoutMs: 5000 } },
    });
    const res = await asyncBulk(t, bulkOf('one-slot', 2));
    expect(res.status).toBe(200);
    expect(res.body.Operations).toHaveLength(2);
  });
});
