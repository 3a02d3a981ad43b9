import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { engineAvailable } from '../../src/devdb/embedded.js';
import { reconnectOnStuckHealthCheck } from '../../src/db/mongo.js';
import { testConfig, TOKENS } from '../helpers/roster.js';
import { rosterOnOwnDatabase, type OwnDatabaseRoster } from './ownDatabase.js';
import { call, isScimError, SCIM_JSON, uniqueName, userBody, waitUntil, type Answer } from './support.js';

/**
 * A database that stops answering without closing its connections (a hung host, a network
 * partition): simulated by pausing the FerretDB process (SIGSTOP; PostgreSQL behind it keeps
 * running). Requests must not hang: readiness answers 503 at once, SCIM requests 503 with
 * Retry-After once the health checks notice (bounded by mongodb.connectTimeoutMs), and everything
 * works again when the database resumes.
 */

const CONNECT_TIMEOUT_MS = 3000;

describe.skipIf(!engineAvailable())('database that stops answering', () => {
  let t: OwnDatabaseRoster;
  let paused = false;
  const pause = (on: boolean) => {
    process.kill(t.database!.pid!, on ? 'SIGSTOP' : 'SIGCONT');
    paused = on;
  };

  beforeAll(async () => {
    const config = testConfig({ mongodb: { uri: '', connectTimeoutMs: CONNECT_TIMEOUT_MS } });
    t = await rosterOnOwnDatabase('stall', config, { connectTimeoutMs: config.mongodb.connectTimeoutMs });
  });

  afterAll(async () => {
    if (paused) pause(false);
    await t?.close();
  });

  it(
    'answers 503 instead of hanging while the database is unresponsive, and recovers when it answers again',
    { timeout: 90_000 },
    async () => {
      const auth = { Authorization: `Bearer ${TOKENS.scim}` };
      const create = (userName: string, timeoutMs = 5000) =>
        call(`${t.http.base}/scim/v2/Users`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': SCIM_JSON },
          body: JSON.stringify(userBody(userName)),
          timeoutMs,
        });
      const before = await create(uniqueName('stall-before'));
      expect(before.status, JSON.stringify(before.body)).toBe(201);
      const beforeId = (before.body as { id: string }).id;

      pause(true);
      const stalledAt = Date.now();
      const pausedName = uniqueName('stall-during');
      const [health, ready, read, write] = await Promise.all([
        call(`${t.http.base}/healthz`, { timeoutMs: 5000 }),
        call(`${t.http.base}/readyz`, { timeoutMs: 5000 }),
        call(`${t.http.base}/scim/v2/Users/${beforeId}`, { headers: auth, timeoutMs: 60_000 }),
        create(pausedName, 60_000),
      ]);
      // Once noticed, a new request fails within server selection (5 s), not after another detection.
      const later = await call(`${t.http.base}/scim/v2/Users?filter=${encodeURIComponent('userName sw "stall"')}`, {
        headers: auth,
        timeoutMs: 60_000,
      });
      const stalledMs = Date.now() - stalledAt;
      pause(false);
      const resumedAt = Date.now();
      const recovered = await waitUntil(
        'a write acknowledged after the database resumed',
        async () => {
          const answer = await create(uniqueName('stall-after'), 10_000);
          return answer.status === 201 ? answer : undefined;
        },
        30_000,
        250,
      ).catch(() => undefined);
      const recoveryMs = Date.now() - resumedAt;
      const summary = (a: Answer) => `${a.status || a.error} in ${a.ms} ms`;
      console.log(
        `stall run: healthz ${summary(health)}, readyz ${summary(ready)}, GET ${summary(read)}, POST ${summary(write)}, ` +
          `later GET ${summary(later)}; paused ${stalledMs} ms; recovery ${recoveryMs} ms`,
      );

      expect(health.status, 'liveness while the database hangs').toBe(200);
      expect(ready.status, 'readiness while the database hangs').toBe(503);
      expect(ready.ms, 'readiness answers within its 2 s ping limit').toBeLessThan(4000);
      for (const [name, answer] of Object.entries({ read, write, later })) {
        expect(answer.status, `${name}: ${JSON.stringify(answer.body ?? answer.error)}`).toBe(503);
        expect(isScimError(answer.body, 503), JSON.stringify(answer.body)).toBe(true);
        expect(Number(answer.headers?.get('retry-after')), `${name} Retry-After`).toBeGreaterThan(0);
      }
      // Noticed within a heartbeat (5 s) plus connectTimeoutMs; bounded generously for a loaded CI machine.
      expect(Math.max(read.ms, write.ms), 'requests in flight are answered, not left hanging').toBeLessThan(30_000);
      expect(later.ms, 'a request after the stall was noticed').toBeLessThan(15_000);

      expect(recovered, `no write acknowledged within 30 s of the database resuming`).toBeDefined();
      const again = await call(`${t.http.base}/scim/v2/Users/${beforeId}`, { headers: auth, timeoutMs: 10_000 });
      expect(again.status, 'the user acknowledged before the stall is still there').toBe(200);
      // The write refused during the stall may have reached the database before the pause took hold:
      // a retry then finds the user (409) or creates it (201); either way it exists exactly once.
      const retry = await create(pausedName, 10_000);
      expect([201, 409], JSON.stringify(retry.body)).toContain(retry.status);
      const found = await call(
        `${t.http.base}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${pausedName}"`)}`,
        { headers: auth, timeoutMs: 10_000 },
      );
      expect((found.body as { totalResults: number }).totalResults).toBe(1);
    },
  );
});

describe('health-check watchdog', () => {
  it('reconnects a client whose health check never ends, and the Db taken before keeps working', async () => {
    const client = new MongoClient(inject('mongoUri'), { heartbeatFrequencyMS: 5000 });
    await client.connect();
    const db = client.db(uniqueName('watchdog'));
    const warnings: string[] = [];
    const events: string[] = [];
    client.on('topologyClosed', () => events.push('closed'));
    client.on('topologyOpening', () => events.push('opening'));
    reconnectOnStuckHealthCheck(client, 500, (message) => warnings.push(message));
    try {
      // The driver hang as the watchdog sees it: a health check that starts and never ends.
      client.emit('serverHeartbeatStarted', { connectionId: 'stuck.example:27017' } as never);
      await waitUntil('the client reconnected', async () => (events.includes('opening') ? true : undefined), 10_000);
      expect(events[0]).toBe('closed');
      expect(warnings).toEqual([expect.stringMatching(/health check stuck .*reconnecting/)]);
      await waitUntil(
        'a write through the Db taken before the reconnect',
        async () => (await db.collection('probe').insertOne({ at: new Date() })).acknowledged || undefined,
        10_000,
      );
      expect(await db.collection('probe').countDocuments()).toBe(1);
    } finally {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    }
  });
});
