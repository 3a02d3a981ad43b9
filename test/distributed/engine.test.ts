import { readFileSync } from 'node:fs';
import { MongoServerError, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useOwnDistributedEngine } from '../helpers/distributed.js';

/**
 * The distributed engine (src/devdb/distributedEngine.ts: FerretDB v2.7.0 on a Citus coordinator
 * with two workers, DocumentDB 0.108 distributed) with collections sharded on a hashed `directory`.
 * Runs only with ROSTER_DISTRIBUTED set (vitest.config.ts), then needs the engine built.
 */
const DATABASE = 'distributed_engine_test';
const SHARD_KEY = { directory: 'hashed' } as const;

const cluster = useOwnDistributedEngine();
const db = () => cluster.client.db(DATABASE);

/** The Citus task count of a find, from FerretDB's explain (DocumentDB returns PostgreSQL's plan). */
async function taskCount(collection: string, filter: Document): Promise<number> {
  const explain = await db().command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' });
  const plan = (explain.queryPlanner as { Plan: { 'Distributed Query'?: { Job: { 'Task Count': number } } } }).Plan;
  const job = plan['Distributed Query']?.Job;
  if (!job) throw new Error(`no distributed plan: ${JSON.stringify(explain.queryPlanner)}`);
  return job['Task Count'];
}

/** Processes a backend crash makes the postmaster restart (all of its children): their pids. */
const checkpointerPid = async () =>
  (await cluster.engine.sql(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`)).trim();

describe('the distributed engine, collections sharded on a hashed directory', () => {
  it('an _id in an empty list with a projection finds nothing, and the coordinator does not crash', async () => {
    await cluster.engine.shardCollections(DATABASE, ['emptyin'], SHARD_KEY);
    const users = db().collection('emptyin');
    await users.insertMany(['a', 'b', 'c'].map((directory) => ({ directory, userName: 'alice' })));
    const checkpointer = await checkpointerPid();

    // DocumentDB 0.108 crashed here without scripts/patches/documentdb-0.108-null-arguments.patch
    // (SIGSEGV in bson_dollar_project_find on Citus's zero-shard task).
    expect(await users.find({ _id: { $in: [] } }, { projection: { _id: 1 } }).toArray()).toEqual([]);
    expect(await users.find({ directory: { $in: [] } }, { projection: { userName: 1 } }).toArray()).toEqual([]);

    // The coordinator keeps answering, and its processes were not restarted.
    expect(await users.find({ directory: 'b' }, { projection: { _id: 0, userName: 1 } }).toArray()).toEqual([
      { userName: 'alice' },
    ]);
    expect(await users.countDocuments()).toBe(3);
    expect(await checkpointerPid()).toBe(checkpointer);
    expect(() => process.kill(cluster.engine.pid!, 0)).not.toThrow();
    expect(readFileSync(cluster.engine.logFiles.coordinator, 'utf8')).not.toMatch(/terminated by signal/);
    // The functions the patch fixes: NULL in, NULL out.
    expect(
      (
        await cluster.engine.sql(
          `SELECT documentdb_api_catalog.bson_dollar_project_find(NULL, '{"_id": 1}', NULL) IS NULL,
                  documentdb_api_internal.bson_dollar_project(NULL, '{"_id": 1}', NULL, NULL) IS NULL`,
        )
      ).trim(),
    ).toBe('t|t');
  });

  it('a find with the directory goes to one shard; without it, to all of them', async () => {
    await cluster.engine.shardCollections(DATABASE, ['routing'], SHARD_KEY);
    const users = db().collection('routing');
    await users.insertMany(['x', 'y', 'z'].map((directory) => ({ directory, userName: 'y' })));

    expect(await taskCount('routing', { directory: 'x', userName: 'y' })).toBe(1);
    expect(await taskCount('routing', { userName: 'y' })).toBeGreaterThan(1);
    expect(await users.countDocuments({ directory: 'x', userName: 'y' })).toBe(1);
    expect(await users.countDocuments({ userName: 'y' })).toBe(3);
  });

  it('a unique index on (directory, userName) holds within a directory under parallel inserts', async () => {
    await cluster.engine.shardCollections(DATABASE, ['unique'], SHARD_KEY);
    const users = db().collection('unique');
    await users.createIndex({ directory: 1, userName: 1 }, { unique: true, name: 'directory_userName' });

    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => users.insertOne({ directory: 'd1', userName: 'alice' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as MongoServerError).code).toBe(11000);
    }
    await expect(users.insertOne({ directory: 'd2', userName: 'alice' })).resolves.toMatchObject({
      acknowledged: true,
    });
    expect(await users.countDocuments({ userName: 'alice' })).toBe(2);
  });

  it('with a worker stopped, its directories fail and the other worker’s still work; it comes back', async () => {
    await cluster.engine.shardCollections(DATABASE, ['outage'], SHARD_KEY);
    const users = db().collection('outage');
    // Directories on each worker (the shard of a directory's hash, and where it is placed).
    const byWorker = new Map<number, string>();
    for (let n = 0; byWorker.size < 2 && n < 100; n++) {
      const directory = `dir-${n}`;
      const worker = await cluster.engine.workerFor(DATABASE, 'outage', { directory });
      if (!byWorker.has(worker)) byWorker.set(worker, directory);
    }
    const down = byWorker.get(0)!;
    const up = byWorker.get(1)!;
    expect([down, up].every(Boolean)).toBe(true);
    await users.insertMany([down, up].map((directory) => ({ directory, userName: 'bob' })));

    await cluster.engine.stopWorker(0);
    try {
      const failure = await users.findOne({ directory: down, userName: 'bob' }).then(
        () => undefined,
        (err: unknown) => err as MongoServerError,
      );
      expect(failure, 'a find routed to the stopped worker fails').toBeDefined();
      console.log(
        `find routed to the stopped worker: ${failure?.name} code=${failure?.code} codeName=${failure?.codeName}: ${failure?.message}`,
      );
      expect(failure?.message).toMatch(/connection to the remote node .*127\.0\.0\.1:\d+ failed/);
      expect(await users.findOne({ directory: up, userName: 'bob' })).toMatchObject({ directory: up });
    } finally {
      await cluster.engine.startWorker(0);
    }
    expect(await users.findOne({ directory: down, userName: 'bob' })).toMatchObject({ directory: down });
    expect(await users.countDocuments({ userName: 'bob' })).toBe(2);
  }, 120_000);
});
