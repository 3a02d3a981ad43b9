/**
 * The distributed engine `scripts/setup-engine.sh --distributed` builds into .tools/dist: FerretDB
 * v2.7.0 on a Citus 12.1 cluster of PostgreSQL 15 instances with DocumentDB 0.108 and its
 * distributed extension, a coordinator and `workers` workers on loopback, each in its own folder
 * under `dataDir`. FerretDB speaks to the coordinator; DocumentDB places the collections' shards on
 * the workers. For tests and experiments with sharding (README of the vendor folder, "The
 * distributed engine"); Roster itself runs on any MongoDB-protocol server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DOCUMENTDB_SETTINGS,
  ensureCluster,
  makeReachable,
  postgresUser,
  SETUP_SCRIPT,
  stopCluster,
  stopLeftover,
  TOOLS_DIR,
  waitForPostgres,
} from './postgresEngine.js';
import {
  freePort,
  spawnAs,
  startProcess,
  withParentDeathSignal,
  type EmbeddedDatabase,
  type Log,
  type RunAs,
} from './processes.js';

export const DIST_DIR = path.join(TOOLS_DIR, 'dist');
export const DIST_SETUP_COMMAND = `bash ${SETUP_SCRIPT} --distributed`;
/** Written by `scripts/setup-engine.sh --distributed` once everything is built. */
export const DIST_STAMP = path.join(DIST_DIR, 'engine.stamp');
const PG_BIN = path.join(DIST_DIR, 'pg/usr/lib/postgresql/15/bin');
const FERRETDB = path.join(DIST_DIR, 'bin/ferretdb');
const PG_ROLE = 'postgres';
const PG_DATABASE = 'postgres';
const LOOPBACK = '127.0.0.1';
const pgTool = (name: string) => path.join(PG_BIN, name);

/** Lines appended to every node's postgresql.conf (the same on the coordinator and the workers). */
const SETTINGS_MARKER = '# Roster distributed engine settings v1 (src/devdb/distributedEngine.ts)';
const settings = (shardCount: number) =>
  [
    SETTINGS_MARKER,
    // Citus first.
    "shared_preload_libraries = 'citus,pg_cron,pg_documentdb_core,pg_documentdb,pg_documentdb_distributed'",
    `cron.database_name = '${PG_DATABASE}'`,
    // Citus commits across nodes with two-phase commit, and moves shards with logical replication.
    'max_prepared_transactions = 100',
    'wal_level = logical',
    'max_connections = 200',
    // Else Citus refuses unique indexes on distributed tables (DocumentDB's unique indexes are
    // exclusion constraints). Those that start with the shard key are enforced; others are not.
    'citus.allow_unsafe_constraints = on',
    // Shards a sharded collection gets (Citus's default, 32, makes every sharded collection and
    // index cost 32 tables on two cores).
    `citus.shard_count = ${shardCount}`,
    `citus.local_hostname = '${LOOPBACK}'`,
    // Loopback only: no TLS between the nodes.
    "citus.node_conninfo = 'sslmode=disable'",
    'citus.enable_statistics_collection = off',
    ...DOCUMENTDB_SETTINGS,
    '',
  ].join('\n');

/** Ports and progress kept in dataDir/cluster.json, so a later start reuses the cluster. */
interface ClusterState {
  coordinatorPort: number;
  workerPorts: number[];
  /** The set-up (extensions, nodes, shards off the coordinator) has completed. */
  initialized: boolean;
}

export interface DistributedEngine {
  kind: 'distributed';
  /** FerretDB's mongodb:// URI (FerretDB on the coordinator). */
  uri: string;
  /** The coordinator's postmaster. */
  pid: number | undefined;
  /** FerretDB. */
  ferretdbPid: number | undefined;
  coordinatorPort: number;
  /** The workers' PostgreSQL ports, by worker index (0-based, as stopWorker/startWorker take it). */
  workerPorts: number[];
  /** PostgreSQL's log files. */
  logFiles: { coordinator: string; workers: string[] };
  /** Stops FerretDB, then every node. */
  stop(): Promise<void>;
  /** Stops worker `i` (fast shutdown): the shards it holds can no longer be reached. */
  stopWorker(i: number): Promise<void>;
  /** Starts worker `i` again, on its port, with its data. */
  startWorker(i: number): Promise<void>;
  /**
   * Shards each collection (created first when missing) on a hashed key: DocumentDB's
   * shard_collection, as FerretDB has no shardCollection. The same key again is a no-op.
   */
  shardCollections(database: string, collections: string[], key?: Record<string, 'hashed'>): Promise<void>;
  /** The index of the worker that holds the shard for `shardKeyValues` (e.g. { directory: 'x' }) of a sharded collection. */
  workerFor(database: string, collection: string, shardKeyValues: Record<string, unknown>): Promise<number>;
  /**
   * Runs SQL on the coordinator (psql, as the superuser; several statements run in one transaction)
   * and returns its output: unaligned, tuples only (a row a line, columns separated by |).
   */
  sql(query: string): Promise<string>;
}

/** Whether `scripts/setup-engine.sh --distributed` has built the distributed engine. */
export function distributedEngineAvailable(): boolean {
  return [DIST_STAMP, FERRETDB, pgTool('postgres'), pgTool('initdb'), pgTool('pg_ctl'), pgTool('psql')].every((f) =>
    existsSync(f),
  );
}

/** A SQL string literal. */
export const sqlLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Runs psql against a node over loopback; its standard output (all of it). */
function psql(port: number, statements: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = [
      ...['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'],
      ...['-h', LOOPBACK, '-p', String(port), '-U', PG_ROLE, '-d', PG_DATABASE],
      ...statements.flatMap((statement) => ['-c', statement]),
    ];
    const child = spawn(pgTool('psql'), args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve(stdout)
        : reject(
            new Error(`psql on port ${port} failed (${code ?? signal}): ${stderr.trim()}\n  ${statements.join('; ')}`),
          ),
    );
  });
}

/**
 * Shards each collection of `database` (created first when missing) on a hashed key, through the
 * coordinator at `coordinatorPort`: DocumentDB's shard_collection, as FerretDB has no
 * shardCollection. The same key again is a no-op. One psql call for them all.
 */
export async function shardCollections(
  coordinatorPort: number,
  database: string,
  collections: string[],
  key: Record<string, 'hashed'> = { directory: 'hashed' },
): Promise<void> {
  await psql(
    coordinatorPort,
    collections.flatMap((collection) => [
      `SELECT documentdb_api.create_collection(${sqlLiteral(database)}, ${sqlLiteral(collection)})`,
      `SELECT documentdb_api.shard_collection(${sqlLiteral(database)}, ${sqlLiteral(collection)}, ` +
        `${sqlLiteral(JSON.stringify(key))}::documentdb_core.bson, false)`,
    ]),
  );
}

/**
 * Moves the shards of `database`'s unsharded collections (the global ones: directories, signing
 * keys, the job queue, …; one colocation group that moves as one) onto the coordinator, which every
 * query goes through anyway: a worker that stops then costs only the directories whose shards it
 * holds, not every directory's token and directory lookups. Idempotent, but not to be run twice
 * at once: it lets DocumentDB's admin role log in and the coordinator hold shards while it moves.
 */
export async function keepUnshardedOnCoordinator(coordinatorPort: number, database: string): Promise<void> {
  const next = () =>
    psql(coordinatorPort, [
      `SELECT s.shardid, s.nodename, s.nodeport FROM citus_shards s
         JOIN documentdb_api_catalog.collections c ON s.table_name = ('documentdb_data.documents_' || c.collection_id)::regclass
        WHERE c.database_name = ${sqlLiteral(database)} AND c.shard_key IS NULL AND s.nodeport <> ${coordinatorPort}
        LIMIT 1`,
    ]);
  let row = (await next()).trim();
  if (!row) return;
  // An explicit move needs a node that may hold shards, and DocumentDB's admin role able to log in.
  const allow = (on: boolean) => [
    `SELECT citus_set_node_property('${LOOPBACK}', ${coordinatorPort}, 'shouldhaveshards', ${on})`,
    `ALTER ROLE documentdb_admin_role ${on ? 'LOGIN' : 'NOLOGIN'}`,
  ];
  await psql(coordinatorPort, allow(true));
  try {
    for (; row; row = (await next()).trim()) {
      const [shardId, host, port] = row.split('|');
      await psql(coordinatorPort, [
        `SELECT citus_move_shard_placement(${shardId}, ${sqlLiteral(host)}, ${port}, '${LOOPBACK}', ${coordinatorPort}, shard_transfer_mode => 'block_writes')`,
      ]);
    }
  } finally {
    await psql(coordinatorPort, allow(false));
  }
}

/** One PostgreSQL instance of the cluster. */
class Node {
  child: ChildProcess | undefined;
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly logFile: string,
    readonly port: number,
    private readonly user: RunAs | undefined,
    private readonly log: Log,
    private readonly shardCount: number,
  ) {}

  async start(): Promise<void> {
    await ensureCluster(this.dir, this.user, this.log, PG_BIN, settings(this.shardCount));
    await stopLeftover(this.dir, this.user, this.log, PG_BIN);
    const logFd = openSync(this.logFile, 'a');
    const [command, args] = withParentDeathSignal(
      pgTool('postgres'),
      [
        ...['-D', this.dir, '-c', `port=${this.port}`],
        ...['-c', `listen_addresses=${LOOPBACK}`, '-c', 'unix_socket_directories='],
        // DocumentDB (cursors, background jobs) and pg_cron (its jobs) connect back over libpq.
        ...['-c', `cron.host=${LOOPBACK}`, '-c', `documentdb.localhost_connection_string=host=${LOOPBACK}`],
      ],
      'INT', // fast shutdown
    );
    try {
      // libpq in the server (Citus, DocumentDB, pg_cron) looks for client certificates in
      // $HOME/.postgresql: not in root's home folder, which the postgres user cannot enter.
      const env = { ...process.env, HOME: this.dir };
      this.child = spawnAs(command, args, this.user, { stdio: ['ignore', logFd, logFd], env });
    } finally {
      closeSync(logFd);
    }
    try {
      await waitForPostgres(this.dir, this.child, this.logFile, PG_BIN);
    } catch (err) {
      await this.stop();
      throw new Error(`${this.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.child) await stopCluster(this.dir, this.child, this.user, (m) => this.log(`${this.name}: ${m}`), PG_BIN);
  }
}

/**
 * The cluster's set-up, in the order that works (README "Scaling out" gives it): Citus on every node; the
 * coordinator in the metadata, holding shards for now; DocumentDB's distributed extension and its
 * catalog; the workers; the shards moved off the coordinator onto them.
 */
async function initializeCluster(coordinator: Node, workers: Node[], log: Log): Promise<void> {
  const on = (node: Node, ...statements: string[]) => psql(node.port, statements);
  await Promise.all([coordinator, ...workers].map((node) => on(node, 'CREATE EXTENSION IF NOT EXISTS citus')));
  await on(
    coordinator,
    `SELECT citus_set_coordinator_host('${LOOPBACK}', ${coordinator.port})`,
    // initialize_cluster distributes DocumentDB's tables: with no worker yet, onto the coordinator.
    `SELECT citus_set_node_property('${LOOPBACK}', ${coordinator.port}, 'shouldhaveshards', true)`,
  );
  await on(coordinator, 'CREATE EXTENSION IF NOT EXISTS documentdb_distributed CASCADE');
  // initialize_cluster expects this table (DocumentDB's own regression set-up creates it too).
  await on(
    coordinator,
    `CREATE TABLE IF NOT EXISTS documentdb_data.changes (
       collection_id bigint not null,
       shard_key_value bigint not null,
       object_id documentdb_core.bson not null,
       PRIMARY KEY (shard_key_value, object_id))`,
  );
  await on(coordinator, 'SELECT documentdb_api_distributed.initialize_cluster()');
  // Else adding a worker fails: "cannot drop table ... because extension documentdb requires it".
  const queueInExtension = await on(
    coordinator,
    `SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
      WHERE e.extname = 'documentdb' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass
        AND d.objid = 'documentdb_api_catalog.documentdb_index_queue'::regclass`,
  );
  if (queueInExtension.trim() === '0') {
    await on(coordinator, 'ALTER EXTENSION documentdb ADD TABLE documentdb_api_catalog.documentdb_index_queue');
  }
  for (const worker of workers) {
    log(`adding ${worker.name} (port ${worker.port}) to the cluster`);
    await on(coordinator, `SELECT citus_add_node('${LOOPBACK}', ${worker.port})`);
  }
  // Shard moves connect as the tables' owner, DocumentDB's admin role, which cannot log in otherwise.
  await on(coordinator, 'ALTER ROLE documentdb_admin_role LOGIN');
  try {
    await on(
      coordinator,
      `SELECT citus_drain_node('${LOOPBACK}', ${coordinator.port}, shard_transfer_mode => 'block_writes')`,
    );
    await on(coordinator, `SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')`);
  } finally {
    await on(coordinator, 'ALTER ROLE documentdb_admin_role NOLOGIN');
  }
}

/**
 * Starts (creating on first use) a coordinator and `workers` workers in `dataDir`, then FerretDB
 * v2.7.0 on the coordinator. As root, PostgreSQL runs as the `postgres` system user (as the
 * single-node engine does); every process ends with this one.
 */
export async function startDistributedEngine(options: {
  dataDir: string;
  workers?: number;
  /** Shards per sharded collection (citus.shard_count) for a new cluster. */
  shardCount?: number;
  log?: Log;
}): Promise<DistributedEngine> {
  const { dataDir, workers: workerCount = 2, shardCount = 8 } = options;
  const log = options.log ?? (() => undefined);
  if (!distributedEngineAvailable()) {
    throw new Error(`the distributed engine is not built: run \`${DIST_SETUP_COMMAND}\``);
  }
  const user = postgresUser();
  mkdirSync(dataDir, { recursive: true });
  const stateFile = path.join(dataDir, 'cluster.json');
  let state: ClusterState;
  if (existsSync(stateFile)) {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;
    if (state.workerPorts.length !== workerCount) {
      throw new Error(`${dataDir} holds a cluster of ${state.workerPorts.length} workers, not ${workerCount}`);
    }
  } else {
    const ports = new Set<number>();
    while (ports.size < workerCount + 1) ports.add(await freePort());
    const [coordinatorPort, ...workerPorts] = [...ports] as [number, ...number[]];
    state = { coordinatorPort, workerPorts, initialized: false };
  }
  const save = () => writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  save();

  const node = (name: string, port: number) =>
    new Node(name, path.join(dataDir, name), path.join(dataDir, `${name}.log`), port, user, log, shardCount);
  const coordinator = node('coordinator', state.coordinatorPort);
  const workers = state.workerPorts.map((port, i) => node(`worker-${i}`, port));
  const nodes = [coordinator, ...workers];
  if (user) makeReachable(user, coordinator.dir, PG_BIN);

  const stopNodes = () => Promise.all(nodes.map((n) => n.stop())).then(() => undefined);
  let ferretdb: EmbeddedDatabase;
  try {
    const started = await Promise.allSettled(nodes.map((n) => n.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (!state.initialized) {
      const began = Date.now();
      await initializeCluster(coordinator, workers, log);
      state.initialized = true;
      save();
      log(
        `cluster of a coordinator and ${workerCount} workers set up in ${((Date.now() - began) / 1000).toFixed(1)} s`,
      );
    }
    const ferretState = path.join(dataDir, 'ferretdb');
    mkdirSync(ferretState, { recursive: true });
    ferretdb = await startProcess('ferretdb', FERRETDB, (port, debugPort) => [
      `--postgresql-url=postgres://${PG_ROLE}@${LOOPBACK}:${coordinator.port}/${PG_DATABASE}`,
      `--listen-addr=${LOOPBACK}:${port}`,
      `--debug-addr=${LOOPBACK}:${debugPort}`,
      `--state-dir=${ferretState}`,
      '--no-auth',
      '--telemetry=disable',
      '--log-level=error',
    ]);
  } catch (err) {
    await stopNodes();
    throw err;
  }

  const sql = (query: string) => psql(coordinator.port, [query]);
  const worker = (i: number) => {
    const w = workers[i];
    if (!w) throw new Error(`no worker ${i} (workers 0 to ${workers.length - 1})`);
    return w;
  };
  const collectionId = async (database: string, collection: string) => {
    const id = (
      await sql(
        `SELECT collection_id FROM documentdb_api_catalog.collections
          WHERE database_name = ${sqlLiteral(database)} AND collection_name = ${sqlLiteral(collection)}`,
      )
    ).trim();
    if (!id) throw new Error(`no collection ${database}.${collection}`);
    return id;
  };

  return {
    kind: 'distributed',
    uri: ferretdb.uri,
    pid: coordinator.child?.pid,
    ferretdbPid: ferretdb.pid,
    coordinatorPort: coordinator.port,
    workerPorts: workers.map((w) => w.port),
    logFiles: { coordinator: coordinator.logFile, workers: workers.map((w) => w.logFile) },
    async stop() {
      await ferretdb.stop();
      await stopNodes();
    },
    stopWorker: (i) => worker(i).stop(),
    async startWorker(i) {
      const w = worker(i);
      if (!w.running) await w.start();
    },
    shardCollections: (database, collections, key) => shardCollections(coordinator.port, database, collections, key),
    async workerFor(database, collection, shardKeyValues) {
      const id = await collectionId(database, collection);
      const port = (
        await sql(
          `SELECT s.nodeport FROM citus_shards s, documentdb_api_catalog.collections c
            WHERE c.collection_id = ${id}
              AND s.shardid = get_shard_id_for_distribution_column(
                    'documentdb_data.documents_${id}',
                    documentdb_api_internal.get_shard_key_value(c.shard_key, c.collection_id,
                      ${sqlLiteral(JSON.stringify(shardKeyValues))}::documentdb_core.bson))`,
        )
      ).trim();
      const i = workers.findIndex((w) => String(w.port) === port);
      if (i < 0)
        throw new Error(`the shard of ${JSON.stringify(shardKeyValues)} is on port ${port || '(none)'}, no worker`);
      return i;
    },
    sql,
  };
}
