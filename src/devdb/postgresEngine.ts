/**
 * The engine scripts/setup-engine.sh builds into the git-ignored .tools: FerretDB v2 (the MongoDB
 * wire protocol) on a private PostgreSQL 15 cluster with Microsoft's DocumentDB extension.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.js';
import {
  exited,
  freePort,
  runTool,
  spawnAs,
  startProcess,
  stopChild,
  withParentDeathSignal,
  type EmbeddedDatabase,
  type Log,
  type RunAs,
} from './processes.js';

export const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
export const TOOLS_BIN = path.join(TOOLS_DIR, 'bin');
export const SETUP_SCRIPT = 'scripts/setup-engine.sh';
/** Debian's layout inside the private copy of PostgreSQL's install tree (scripts/setup-engine.sh). */
const PG_BIN = path.join(TOOLS_DIR, 'pg/usr/lib/postgresql/15/bin');
const FERRETDB = path.join(TOOLS_BIN, 'ferretdb');
/** Written by scripts/setup-engine.sh once everything is built. */
const ENGINE_STAMP = path.join(TOOLS_DIR, 'engine.stamp');
/** PostgreSQL refuses to run as root: as root, the cluster belongs to this system user (Debian's packages create it). */
const PG_SYSTEM_USER = 'postgres';
/** The cluster's superuser, whoever runs it; local connections are trusted (socket in the cluster folder, or loopback). */
const PG_ROLE = 'postgres';
const PG_DATABASE = 'postgres';
const PG_SOCKET_PORT = 5432;
/** Lines appended to a new cluster's postgresql.conf; a cluster lacking the marker gets them (again). */
const PG_SETTINGS_MARKER = '# Roster engine settings v3 (src/db/postgresEngine.ts)';
/** The settings past the libraries to load, shared with the distributed engine (distributedEngine.ts). */
export const DOCUMENTDB_SETTINGS = [
  // DocumentDB schedules jobs every few seconds: keep them out of the log.
  'cron.log_run = off',
  'cron.log_statement = off',
  // Lets $elemMatch use an index on the array's field (e.g. emails.value); off by default.
  'documentdb.useNewElemMatchIndexPushdown = on',
  // New indexes keep one ordered term per document instead of one per path: each indexed write
  // costs 2-6 times less (bench: users 0.73 -> 0.32 ms, events 0.57 -> 0.09 ms per document).
  'documentdb.enableNewCompositeIndexOpClass = on',
  'documentdb.defaultUseCompositeOpClass = on',
  // A development database: a crash may lose the last few commits, never consistency.
  'synchronous_commit = off',
  // Statistics follow a seed or an import within seconds (an index is only chosen once they exist).
  'autovacuum_naptime = 5s',
];
const PG_SETTINGS = [
  PG_SETTINGS_MARKER,
  "shared_preload_libraries = 'pg_cron,pg_documentdb_core,pg_documentdb'",
  `cron.database_name = '${PG_DATABASE}'`,
  ...DOCUMENTDB_SETTINGS,
  '',
].join('\n');
const pgTool = (name: string, pgBin = PG_BIN) => path.join(pgBin, name);

/**
 * Stops a running cluster: pg_ctl's fast shutdown, then SIGQUIT if the postmaster is still there
 * after 5 s. Nothing when it has already exited.
 */
export async function stopCluster(
  clusterDir: string,
  postgres: ChildProcess,
  user: RunAs | undefined,
  log: Log,
  pgBin = PG_BIN,
): Promise<void> {
  if (postgres.exitCode !== null || postgres.signalCode !== null) return;
  await runTool(pgTool('pg_ctl', pgBin), ['stop', '-D', clusterDir, '-m', 'fast', '-w', '-t', '30'], user).catch(
    (err: Error) => log(`pg_ctl stop: ${err.message}`),
  );
  if (!(await exited(postgres, 5000))) await stopChild(postgres, 'SIGQUIT', 5000);
}

/** Whether scripts/setup-engine.sh has built the PostgreSQL + DocumentDB + FerretDB engine. */
export function engineAvailable(): boolean {
  return [ENGINE_STAMP, FERRETDB, pgTool('postgres'), pgTool('initdb'), pgTool('pg_ctl'), pgTool('psql')].every(
    (file) => existsSync(file),
  );
}

/** The unprivileged user PostgreSQL runs as when Roster runs as root; undefined otherwise (it runs as us). */
export function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = spawnSync('getent', ['passwd', PG_SYSTEM_USER], { encoding: 'utf8' });
  const [, , uid, gid] = entry.status === 0 ? entry.stdout.trim().split(':') : [];
  if (uid === undefined || gid === undefined) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no '${PG_SYSTEM_USER}' system user to run it as ` +
        `(Debian's postgresql-15 package creates it): run \`bash ${SETUP_SCRIPT}\`, or run Roster as a normal user`,
    );
  }
  return { name: PG_SYSTEM_USER, uid: Number(uid), gid: Number(gid) };
}

/**
 * As root, PostgreSQL runs as `user`, which must be able to enter every folder above the cluster
 * and read the engine in .tools (`pgBin`, PostgreSQL's bin folder there). Folders under the temp
 * folder (mkdtemp makes them 0700) get search permission for others; anything else is reported,
 * never changed.
 */
export function makeReachable(user: RunAs, clusterDir: string, pgBin = PG_BIN): void {
  const searchable = (dir: string) => {
    const st = statSync(dir);
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    return (st.mode & bit) !== 0;
  };
  const tmp = realpathSync(os.tmpdir());
  const ancestors = (dir: string) => {
    const list: string[] = [];
    for (let d = dir; ; d = path.dirname(d)) {
      list.unshift(d);
      if (d === path.dirname(d)) return list;
    }
  };
  for (const dir of ancestors(path.dirname(clusterDir))) {
    if (searchable(dir)) continue;
    if (!dir.startsWith(tmp + path.sep)) {
      throw new Error(
        `PostgreSQL runs as the system user '${user.name}' (it refuses root), which cannot enter ${dir}: ` +
          `let it (chmod o+x ${dir}), choose another data folder, or run Roster as a normal user`,
      );
    }
    chmodSync(dir, statSync(dir).mode | 0o001);
  }
  for (const dir of ancestors(pgBin)) {
    if (!searchable(dir)) {
      throw new Error(
        `PostgreSQL runs as the system user '${user.name}' (it refuses root), which cannot enter ${dir} to reach ` +
          `the engine in ${TOOLS_DIR}: keep the project where other users can read it, or run Roster as a normal user`,
      );
    }
  }
}

/**
 * Creates the cluster on first use (initdb, Roster's settings); later starts reuse it. `settings`
 * (their first line a marker) are appended to postgresql.conf when it lacks the marker.
 */
export async function ensureCluster(
  clusterDir: string,
  user: RunAs | undefined,
  log: Log,
  pgBin = PG_BIN,
  settings = PG_SETTINGS,
): Promise<void> {
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    rmSync(clusterDir, { recursive: true, force: true }); // a half-made cluster from an interrupted initdb
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    if (user) chownSync(clusterDir, user.uid, user.gid);
    log(`creating a PostgreSQL cluster in ${clusterDir}${user ? ` (owned by ${user.name})` : ''}`);
    await runTool(
      pgTool('initdb', pgBin),
      ['-D', clusterDir, '-U', PG_ROLE, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
      user,
    );
  }
  const conf = path.join(clusterDir, 'postgresql.conf');
  const marker = settings.split('\n')[0] ?? settings;
  if (!readFileSync(conf, 'utf8').includes(marker)) appendFileSync(conf, `\n${settings}`);
}

/** A postmaster left running by an earlier run that ended without stopping it: stop it. */
export async function stopLeftover(
  clusterDir: string,
  user: RunAs | undefined,
  log: Log,
  pgBin = PG_BIN,
): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  let ours = false;
  try {
    ours =
      Number.isInteger(pid) && pid > 0 && readlinkSync(`/proc/${pid}/exe`) === realpathSync(pgTool('postgres', pgBin));
  } catch {
    // no such process (or not readable): the file is stale
  }
  if (ours) {
    log(`a PostgreSQL from an earlier run still serves ${clusterDir} (pid ${pid}): stopping it`);
    await runTool(pgTool('pg_ctl', pgBin), ['stop', '-D', clusterDir, '-m', 'fast', '-w', '-t', '60'], user);
  } else {
    unlinkSync(pidFile); // a stale lock file (its pid may belong to another process by now)
  }
}

/** Waits until postmaster.pid reports "ready" (its 8th line). */
export async function waitForPostgres(
  clusterDir: string,
  child: ChildProcess,
  logFile: string,
  pgBin = PG_BIN,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  const tail = () =>
    existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)';
  let failure: Error | undefined;
  child.on('error', (err) => (failure ??= err));
  while (Date.now() < deadline) {
    if (failure || child.pid === undefined) {
      throw new Error(`could not start ${pgTool('postgres', pgBin)}: ${failure?.message ?? 'no process'}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`PostgreSQL exited (${child.exitCode ?? child.signalCode}); ${logFile}:\n${tail()}`);
    }
    try {
      const status = readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim();
      if (status === 'ready') return;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PostgreSQL was not ready within 60 s; ${logFile}:\n${tail()}`);
}

/**
 * FerretDB v2 on a PostgreSQL cluster with DocumentDB, both kept in `stateDir` (created on first use,
 * reused later). `port` pins FerretDB's port: reliability tests stop the engine and start it again
 * where the clients expect it, with the same state. `pid` is FerretDB (what SIGSTOP pauses).
 */
export async function startPostgresEngine(
  stateDir: string,
  options: { port?: number; log?: Log } = {},
): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  if (!engineAvailable()) throw new Error(`the database engine is not built: run \`bash ${SETUP_SCRIPT}\``);
  const user = postgresUser();
  const clusterDir = path.join(stateDir, 'postgresql');
  mkdirSync(stateDir, { recursive: true });
  if (user) makeReachable(user, clusterDir);
  await ensureCluster(clusterDir, user, log);
  await stopLeftover(clusterDir, user, log);

  // A unix socket in the cluster folder (only its owner, and root, can enter it); loopback TCP when
  // the path is too long for a socket address (or has characters PostgreSQL's settings would split).
  const socket = path.join(clusterDir, `.s.PGSQL.${PG_SOCKET_PORT}`).length < 100 && !/[\s,'"\\]/.test(clusterDir);
  const pgPort = socket ? PG_SOCKET_PORT : await freePort();
  // DocumentDB (cursors, background jobs) and pg_cron (its jobs) connect back to the server over libpq.
  const loopbackHost = socket ? clusterDir : '127.0.0.1';
  const logFile = path.join(stateDir, 'postgresql.log');
  const logFd = openSync(logFile, 'a');
  const [command, args] = withParentDeathSignal(
    pgTool('postgres'),
    [
      ...['-D', clusterDir, '-c', `port=${pgPort}`],
      ...['-c', `listen_addresses=${socket ? '' : '127.0.0.1'}`],
      ...['-c', `unix_socket_directories=${socket ? clusterDir : ''}`],
      ...['-c', `cron.host=${loopbackHost}`],
      ...['-c', `documentdb.localhost_connection_string=host='${loopbackHost.replace(/['\\]/g, '\\$&')}'`],
    ],
    'INT', // fast shutdown
  );
  let postgres: ChildProcess;
  try {
    postgres = spawnAs(command, args, user, { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const stopPostgres = () => stopCluster(clusterDir, postgres, user, log);
  const host = socket ? ['-h', clusterDir] : ['-h', '127.0.0.1'];
  const sql = (statement: string) =>
    runTool(
      pgTool('psql'),
      [
        ...['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...host, '-p', String(pgPort), '-U', PG_ROLE, '-d', PG_DATABASE],
        ...['-c', statement],
      ],
      undefined,
    );
  let ferretdb: EmbeddedDatabase;
  try {
    await waitForPostgres(clusterDir, postgres, logFile);
    await sql('CREATE EXTENSION IF NOT EXISTS documentdb CASCADE');
    const postgresqlUrl = socket
      ? `postgres://${PG_ROLE}@/${PG_DATABASE}?host=${encodeURIComponent(clusterDir)}&port=${pgPort}`
      : `postgres://${PG_ROLE}@127.0.0.1:${pgPort}/${PG_DATABASE}`;
    const ferretState = path.join(stateDir, 'ferretdb');
    mkdirSync(ferretState, { recursive: true });
    ferretdb = await startProcess(
      'ferretdb',
      FERRETDB,
      (port, debugPort) => [
        `--postgresql-url=${postgresqlUrl}`,
        `--listen-addr=127.0.0.1:${port}`,
        `--debug-addr=127.0.0.1:${debugPort}`,
        `--state-dir=${ferretState}`,
        '--no-auth',
        '--telemetry=disable',
        '--log-level=error',
      ],
      options.port,
    );
  } catch (err) {
    await stopPostgres();
    throw err;
  }
  return {
    ...ferretdb,
    pgPid: postgres.pid,
    analyze: async () => void (await sql('ANALYZE')),
    async stop() {
      await ferretdb.stop();
      await stopPostgres();
    },
  };
}
