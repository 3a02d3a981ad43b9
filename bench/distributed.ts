/**
 * `npm run bench:distributed`: the directory scenario on one node and on the distributed engine (a
 * Citus coordinator and 2 workers, README "Scaling out"), on this one machine, so no speed-up is
 * expected: what it shows is the cost per request of the distributed path (FerretDB → coordinator →
 * worker) and that each request of a directory is routed to one shard (Citus's Task Count).
 *
 * For each engine: a Roster child process, BENCH_DIST_DIRECTORIES directories (20) of
 * BENCH_DIST_USERS users (1,000) each with a group of all of them, made through the admin API and
 * seeded directly; then one directory's userName eq, GET by id (groups filled) and PATCH add member,
 * one request at a time (p50 over up to 500 requests or 10 s each).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Db, type Document } from 'mongodb';
import { DIRECTORY_COLLECTIONS } from '../src/db/directoryScope.js';
import {
  keepUnshardedOnCoordinator,
  shardCollections,
  startDistributedEngine,
} from '../src/devdb/distributedEngine.js';
import { startPostgresEngine } from '../src/devdb/postgresEngine.js';
import { addRequest, byIdRequest, createDirectory, filterRequest, type Side } from './directories.js';
import { sequential, type Figures } from './load.js';
import { onCleanup, startNode, stopAll } from './procs.js';
import { seedGroup, seedUsers, userName } from './seed.js';

const DIRECTORIES = Number(process.env.BENCH_DIST_DIRECTORIES ?? 20);
const USERS = Number(process.env.BENCH_DIST_USERS ?? 1000);
const SPARE = 200;
const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;
const started = Date.now();
const log = (m: string) => console.log(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${m}`);

/** Citus's task count of a find (FerretDB's explain returns PostgreSQL's plan); 1 on one node. */
async function taskCount(db: Db, collection: string, filter: Document): Promise<number> {
  const explain = await db.command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' });
  const plan = (explain.queryPlanner as { Plan?: { 'Distributed Query'?: { Job: { 'Task Count': number } } } }).Plan;
  return plan?.['Distributed Query']?.Job['Task Count'] ?? 1;
}

async function measure(kind: 'one node' | 'coordinator + 2 workers', tmp: string) {
  const dataDir = path.join(tmp, kind.replace(/\W+/g, '-'));
  const engine =
    kind === 'one node'
      ? { ...(await startPostgresEngine(dataDir, { log })), coordinatorPort: undefined }
      : await startDistributedEngine({ dataDir, workers: 2, log });
  const client = new MongoClient(engine.uri);
  await client.connect();
  const db = client.db('bench_distributed');
  const configFile = path.join(tmp, 'config.json');
  writeFileSync(configFile, '{}');
  const roster = await startNode(
    `roster (${kind})`,
    'src/main.ts',
    {
      MONGODB_URI: new URL('/bench_distributed', engine.uri).toString(),
      ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
      ROSTER_DATA_DIR: path.join(dataDir, 'roster'),
      ROSTER_PUBLIC_URL: 'http://127.0.0.1',
      ROSTER_SMTP_URL: 'smtp://127.0.0.1:1',
      ROSTER_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ROSTER_CONFIG: configFile,
      LOG_LEVEL: 'warn',
    },
    { readyPath: '/readyz' },
  );
  try {
    // Roster made its collections at start-up: shard the directory data before it grows.
    if (engine.coordinatorPort !== undefined) {
      await shardCollections(engine.coordinatorPort, db.databaseName, [...DIRECTORY_COLLECTIONS]);
      await keepUnshardedOnCoordinator(engine.coordinatorPort, db.databaseName);
    }
    const seedStart = Date.now();
    const measuredAt = Math.floor(DIRECTORIES / 2);
    let side: Side | undefined;
    let directory = '';
    for (let k = 0; k < DIRECTORIES; k++) {
      const dir = await createDirectory(roster.baseUrl, ADMIN_TOKEN, `d-${k}`, k === measuredAt);
      const seeded = await seedUsers(db, `d${k}`, USERS + (k === measuredAt ? SPARE : 0), undefined, dir.id);
      const groupId = await seedGroup(db, `group-${k}`, seeded.ids.slice(0, USERS), 0, dir.id);
      if (k === measuredAt) {
        directory = dir.id;
        side = {
          label: kind,
          scimBase: () => dir.scimBase,
          token: dir.token,
          seeded: { ...seeded, groupId },
          lookup: Array.from({ length: USERS }, (_, i) => i),
          spare: seeded.ids.slice(USERS),
        };
      }
    }
    log(`${kind}: ${DIRECTORIES} directories × ${USERS} users seeded in ${Date.now() - seedStart} ms`);
    if (!side) throw new Error('the measured directory was not seeded');
    const limits = { maxRequests: 500, maxSeconds: 10, timeoutMs: 30_000, warmup: 30 };
    const figures = {
      filter: await sequential(`filter userName eq (${kind})`, filterRequest(side), limits),
      byId: await sequential(`GET /Users/{id} with groups (${kind})`, byIdRequest(side), limits),
      add: await sequential(`PATCH add member (${kind})`, addRequest(side), { ...limits, maxRequests: 150 }),
    };
    for (const f of Object.values(figures)) log(`${f.name}: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms`);
    const tasks = {
      'users by userName': await taskCount(db, 'users', {
        directory,
        'norm.userName': userName(side.seeded.prefix, 1).toLowerCase(),
      }),
      'users by _id': await taskCount(db, 'users', { directory, _id: side.seeded.ids[1] }),
      'memberships of a group': await taskCount(db, 'memberships', { directory, groupId: side.seeded.groupId }),
      'users without the directory (for contrast)': await taskCount(db, 'users', { _id: side.seeded.ids[1] }),
    };
    log(`${kind}: Citus tasks per query ${JSON.stringify(tasks)}`);
    // Storage per seeded user (users, memberships, indexes; seeded users have no events yet), per worker.
    let storage: string | undefined;
    if ('sql' in engine) {
      const rows = await engine.sql(
        `SELECT s.nodeport, sum(s.shard_size) FROM citus_shards s
           JOIN documentdb_api_catalog.collections c ON s.table_name = ('documentdb_data.documents_' || c.collection_id)::regclass
          WHERE c.database_name = 'bench_distributed' GROUP BY s.nodeport ORDER BY s.nodeport`,
      );
      const users = DIRECTORIES * USERS + SPARE;
      const perNode = rows
        .trim()
        .split('\n')
        .map((row) => row.split('|').map(Number));
      const total = perNode.reduce((sum, [, bytes]) => sum + bytes, 0);
      storage =
        `${(total / users).toFixed(0)} bytes per seeded user with indexes; by node: ` +
        perNode.map(([port, bytes]) => `${port} ${(bytes / 2 ** 20).toFixed(1)} MiB`).join(', ');
      log(`${kind}: ${storage}`);
    }
    return { figures, tasks, storage };
  } finally {
    await roster.stop();
    await client.close();
    await engine.stop();
  }
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'roster-bench-distributed-'));
  onCleanup('temp dir', async () => rmSync(tmp, { recursive: true, force: true }));
  const single = await measure('one node', tmp);
  const distributed = await measure('coordinator + 2 workers', tmp);
  const rows = (['filter', 'byId', 'add'] as const).map((key) => {
    const [a, b]: Figures[] = [single.figures[key], distributed.figures[key]];
    return {
      request: a.name.replace(/ \(one node\)$/, ''),
      'one node p50 ms': Number(a.p50.toFixed(2)),
      'distributed p50 ms': Number(b.p50.toFixed(2)),
      'distributed ÷ one node': Number((b.p50 / a.p50).toFixed(2)),
      'added per request ms': Number((b.p50 - a.p50).toFixed(2)),
    };
  });
  console.log(
    `\n=== distributed vs one node: ${DIRECTORIES} directories × ${USERS} users, ${os.cpus().length} CPUs ===`,
  );
  console.table(rows);
  console.log('Citus tasks per query (1 = routed to one shard):');
  console.table(distributed.tasks);
  console.log(`Storage: ${distributed.storage}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
