import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRoster } from '../../src/compose.js';
import { DIRECTORY_COLLECTIONS } from '../../src/db/directoryScope.js';
import { keepUnshardedOnCoordinator, shardCollections } from '../../src/devdb/distributedEngine.js';
import { createLogger } from '../../src/logger.js';
import { createTestDirectory, type TestDirectory } from '../helpers/directories.js';
import { useOwnDistributedEngine } from '../helpers/distributed.js';
import { startTestRoster, testConfig } from '../helpers/roster.js';

/**
 * Roster on its own distributed engine (a coordinator and two workers, directory data sharded on a
 * hashed `directory`, README "Scaling out"): the start-up check of unique indexes, and a worker
 * stopped under load. Runs only with ROSTER_DISTRIBUTED set (vitest.config.ts).
 */
const cluster = useOwnDistributedEngine();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('the start-up check: a unique index the sharded engine would not enforce', () => {
  const logger = createLogger('silent');
  const config = testConfig();
  const fresh = async () => {
    const db = cluster.client.db(`check_${randomUUID().replace(/-/g, '').slice(0, 12)}`);
    // A first start makes the collections and indexes (an unsharded database passes the check).
    await (await createRoster({ config, db, logger })).stop();
    return db;
  };

  it('users sharded on a hashed _id: Roster refuses to start, naming the index and why', async () => {
    const db = await fresh();
    await shardCollections(cluster.engine.coordinatorPort, db.databaseName, ['users'], { _id: 'hashed' });
    await expect(createRoster({ config, db, logger })).rejects.toThrow(
      /refusing to start: users: unique index directory_\w+ \([^)]*userName[^)]*\) does not start with the shard key \(_id\)/,
    );
    await db.dropDatabase();
  });

  it('directory data sharded on a hashed directory: Roster starts', async () => {
    const db = await fresh();
    await shardCollections(cluster.engine.coordinatorPort, db.databaseName, [...DIRECTORY_COLLECTIONS]);
    const roster = await createRoster({ config, db, logger });
    await roster.stop();
    await db.dropDatabase();
  });
});

describe('a worker stopped under load', () => {
  it("its directories get 503 with Retry-After (never a 500), the other worker's keep working, nothing acknowledged is lost", async () => {
    const t = await startTestRoster(
      {},
      { database: { uri: cluster.engine.uri, coordinatorPort: cluster.engine.coordinatorPort } },
    );
    // The global collections on the coordinator (README "Scaling out"): a worker then holds only
    // directory shards. (Moves change cluster-wide settings for a moment: one test at a time.)
    await keepUnshardedOnCoordinator(cluster.engine.coordinatorPort, t.db.databaseName);
    try {
      // Directories until one's data lives on each worker.
      const onWorker = new Map<number, TestDirectory>();
      for (let i = 0; onWorker.size < 2 && i < 30; i++) {
        const directory = await createTestDirectory(t, `fault-${i}`);
        const worker = await cluster.engine.workerFor(t.db.databaseName, 'users', { directory: directory.id });
        if (!onWorker.has(worker)) onWorker.set(worker, directory);
      }
      expect(onWorker.size).toBe(2);
      const sides = { down: onWorker.get(0)!, up: onWorker.get(1)! };

      type Answer = {
        phase: string;
        status: number;
        userName: string;
        retryAfter?: string;
        body: Record<string, unknown>;
      };
      const answers: Record<keyof typeof sides, Answer[]> = { down: [], up: [] };
      let phase = 'before';
      let running = true;
      let n = 0;
      const load = async (side: keyof typeof sides) => {
        while (running) {
          const userName = `${side}-${n++}@fault.test`;
          const at = phase;
          const res = await sides[side].scim().post('/Users', { schemas: [USER_SCHEMA], userName });
          answers[side].push({
            phase: at,
            status: res.status,
            userName,
            retryAfter: res.headers['retry-after'],
            body: res.body as Record<string, unknown>,
          });
        }
      };
      const loads = [load('down'), load('down'), load('up'), load('up')];
      await sleep(1000);
      await cluster.engine.stopWorker(0);
      phase = 'outage';
      await sleep(3000);
      phase = 'restarting';
      await cluster.engine.startWorker(0);
      phase = 'after';
      await sleep(2000);
      running = false;
      await Promise.all(loads);

      const tally = (side: keyof typeof sides) => {
        const counts = new Map<string, number>();
        for (const a of answers[side])
          counts.set(`${a.phase} ${a.status}`, (counts.get(`${a.phase} ${a.status}`) ?? 0) + 1);
        return [...counts].map(([key, count]) => `${key}: ${count}`).join(', ');
      };
      console.log(`worker 0 stopped for 3 s: its directory ${tally('down')}; the other's ${tally('up')}`);
      const statuses = (side: keyof typeof sides, only?: string) =>
        answers[side].filter((a) => !only || a.phase === only).map((a) => a.status);
      // The stopped worker's directory: created, or refused with 503, Retry-After and a SCIM error body.
      // (The answers that break a rule are what fails, so a failure shows them.)
      const unexpected = (side: keyof typeof sides, allowed: number[]) =>
        answers[side]
          .filter((a) => !allowed.includes(a.status))
          .map(({ phase, status, body }) => ({ phase, status, body }));
      expect(unexpected('down', [201, 503])).toEqual([]);
      expect(new Set(statuses('down'))).toEqual(new Set([201, 503]));
      expect(statuses('down', 'outage').filter((s) => s === 503).length).toBeGreaterThan(0);
      for (const refused of answers.down.filter((a) => a.status !== 201)) {
        expect(refused.retryAfter).toMatch(/^\d+$/);
        expect(refused.body.schemas).toEqual([ERROR_SCHEMA]);
        expect(String(refused.body.detail)).not.toMatch(/\n\s+at |remote node|127\.0\.0\.1/);
      }
      expect(statuses('down', 'after')).toContain(201);
      // The other worker's directory never noticed.
      expect(statuses('up', 'outage').length).toBeGreaterThan(0);
      expect(unexpected('up', [201])).toEqual([]);
      // Every acknowledged user is there once the worker is back.
      for (const side of ['down', 'up'] as const) {
        for (const { userName } of answers[side].filter((a) => a.status === 201)) {
          const found = await sides[side]
            .scim()
            .get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
          expect([found.status, found.body.totalResults, userName]).toEqual([200, 1, userName]);
        }
      }
    } finally {
      await cluster.engine.startWorker(0);
      await t.close();
    }
  }, 120_000);
});
