/**
 * `npm run bench`: starts its own database (MONGODB_URI if set, else the embedded one), seeds it,
 * starts Roster and a bare Koa baseline as child processes on loopback, and prints requests/s, p50
 * and p99 per scenario plus the target ratios, all measured in this one run. Every loop is bounded
 * in count and time; everything started is stopped at the end, on errors and on Ctrl-C.
 *
 * Knobs (environment): BENCH_LARGE (default 100000 users), BENCH_SMALL (1000), BENCH_BULK (10000),
 * BENCH_MIXED_SECONDS (45), BENCH_MEMBER_PAGING_SECONDS (300), BENCH_DIRECTORIES (BENCH_LARGE / 1000:
 * the many-directories database's directories of 1,000 users each), BENCH_CPU_PROF=1 (Roster children write V8 CPU profiles under
 * ./bench-profiles when they stop).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { PROJECT_ROOT } from '../src/config/index.js';
import { DEFAULT_DIRECTORY } from '../src/directory.js';
import { startEmbeddedDatabase } from '../src/devdb/embedded.js';
import { membershipId } from '../src/groups/membershipRepository.js';
import { encodeCursor } from '../src/scim/list.js';
import { call, cannon, closedLoop, combine, sequential, type CpuUse, type Figures } from './load.js';
import { cpuMs, machineBusyMs, onCleanup, rssMb, startNode, stopAll, type Child } from './procs.js';
import {
  addRequest,
  byIdRequest,
  createDepartments,
  createDirectory,
  filterRequest,
  mintToken,
  mixedTask,
  PATCH_OP,
  USER_SCHEMA,
  type Side,
} from './directories.js';
import { countRoundTrips, type RoundTrips } from './roundtrips.js';
import { seedGroup, seedUsers, userName, type SeededUsers } from './seed.js';

const LARGE = Number(process.env.BENCH_LARGE ?? 100_000);
/** One key-encryption key for every Roster of the run, so the in-process one reads what they stored. */
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');
const SMALL = Number(process.env.BENCH_SMALL ?? 1_000);
const BULK_USERS = Number(process.env.BENCH_BULK ?? 10_000);
const MIXED_SECONDS = Number(process.env.BENCH_MIXED_SECONDS ?? 45);
/** Sizes as labels: 100k, 1k, 1000k. */
const SIZES = `${LARGE / 1000}k ÷ ${SMALL / 1000}k`;
const MEMBER_PAGING_SECONDS = Number(process.env.BENCH_MEMBER_PAGING_SECONDS ?? 300);
/** Directories of the many-directories database (default: one per 1,000 users of the large one). */
const DIRECTORIES = Number(process.env.BENCH_DIRECTORIES ?? Math.max(2, Math.round(LARGE / 1000)));
/** Users per directory in the directories scenarios. */
const DIR_USERS = 1_000;
/** Users seeded outside the big groups, to add one at a time. */
const SPARE = 400;
const SCIM_TOKEN = `bench-scim-${randomUUID()}`;
const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;
const HARD_LIMIT_MS = 30 * 60_000;
/** Large-database requests: one at a time, at most this long each, new ones started for this long. */
const LARGE_TIMEOUT_MS = 120_000;
const LARGE_SECONDS = 30;
/** Requests per growth figure and side (a p50 of a few ms needs many to hold still). */
const GROWTH_REQUESTS = 600;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (message: string) => console.log(`[${elapsed()}] ${message}`);

const results: Figures[] = [];
interface Target {
  name: string;
  value: number;
  goal: string;
  pass: boolean;
  detail: string;
}
const targets: Target[] = [];
/** The database server's process when the benchmark started it (its CPU time is read per scenario). */
let databasePid: number | undefined;

/** "12 ms (3%)": CPU time per request, and the share of one core used while measuring. */
const formatCpu = (use: CpuUse | undefined) =>
  use === undefined
    ? '?'
    : `${use.perRequest.toFixed(use.perRequest < 10 ? 1 : 0)} ms (${(use.busy * 100).toFixed(use.busy < 0.1 ? 1 : 0)}%)`;

/**
 * Runs a scenario and adds the CPU time Roster's process and the database's process used per
 * measured request (from the end of the warm-up, which the scenario signals), and how busy each was
 * meanwhile. It tells whose work grows with the data. The figures include what each process does
 * when idle (job polling, heartbeats), so for a slow request they are upper bounds.
 */
async function withCpu(roster: Child, run: (afterWarmup: () => void) => Promise<Figures>): Promise<Figures> {
  const sample = () => ({ at: performance.now(), roster: cpuMs(roster.pid), database: cpuMs(databasePid) });
  let before = sample();
  const f = await run(() => (before = sample()));
  const after = sample();
  const used = (key: 'roster' | 'database') => {
    const [a, b] = [before[key], after[key]];
    if (a === undefined || b === undefined || !f.requests) return undefined;
    return { perRequest: (b - a) / f.requests, busy: (b - a) / (after.at - before.at) };
  };
  return { ...f, cpu: { roster: used('roster'), database: used('database') } };
}

function record(f: Figures): Figures {
  results.push(f);
  log(
    `${f.name}: ${f.rps.toFixed(1)} req/s, p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms ` +
      `(${f.requests} requests in ${f.seconds.toFixed(1)} s${f.errors ? `, ${f.errors} errors` : ''})${f.note ? ` — ${f.note}` : ''}` +
      (f.cpu ? `; CPU per request: Roster ${formatCpu(f.cpu.roster)}, database ${formatCpu(f.cpu.database)}` : ''),
  );
  return f;
}

function target(name: string, value: number, goal: string, pass: boolean, detail: string) {
  targets.push({ name, value, goal, pass, detail });
  log(`TARGET ${name}: ${value.toFixed(2)} (${goal}) ${pass ? 'PASS' : 'MISS'} — ${detail}`);
}

/** A latency ratio (numerator ÷ denominator, p50) against an upper bound; timeouts make it a bound. */
function ratioTarget(name: string, numerator: Figures, denominator: Figures, max: number) {
  const value = numerator.p50 / denominator.p50;
  const detail = `${numerator.p50.toFixed(1)} ms ÷ ${denominator.p50.toFixed(1)} ms`;
  if (denominator.timedOut || (numerator.timedOut && value <= max)) {
    targets.push({ name, value, goal: `≤ ${max}`, pass: false, detail: `${detail} (timeout: inconclusive)` });
    log(`TARGET ${name}: ${value.toFixed(2)} INCONCLUSIVE (a request timed out)`);
    return;
  }
  target(name, value, `≤ ${max}`, value <= max, numerator.timedOut ? `${detail} (at least: timed out)` : detail);
}

/** Whose CPU time per request grows from the small to the large database: the database's, or Roster's. */
function cpuGrowth(name: string, large: Figures, small: Figures) {
  const [dbLarge, dbSmall] = [large.cpu?.database, small.cpu?.database];
  const value = dbLarge && dbSmall ? dbLarge.perRequest / dbSmall.perRequest : NaN;
  targets.push({
    name: `(diagnostic) ${name}: database CPU per request, ${SIZES}`,
    value,
    goal: 'diagnostic',
    pass: true,
    detail:
      `database ${formatCpu(dbLarge)} ÷ ${formatCpu(dbSmall)}; ` +
      `Roster ${formatCpu(large.cpu?.roster)} and ${formatCpu(small.cpu?.roster)}`,
  });
  log(`CPU ${name}: database ×${value.toFixed(1)} per request from 1k to 100k; Roster: see the scenarios`);
}

function withDatabase(uri: string, name: string): string {
  const url = new URL(uri);
  url.pathname = `/${name}`;
  return url.toString();
}

const filterPath = (name: string, extra = '') =>
  `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}${extra}`;
const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];

async function roster(name: string, uri: string, dataDir: string): Promise<Child> {
  const profDir = path.join(PROJECT_ROOT, 'bench-profiles');
  if (process.env.BENCH_CPU_PROF) mkdirSync(profDir, { recursive: true });
  // The push-receiver scenario's receivers listen on loopback, which Roster refuses unless allowed.
  const configFile = path.join(dataDir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify({ outbound: { allowedDestinations: ['127.0.0.1'] } }));
  return startNode(
    name,
    'src/main.ts',
    {
      MONGODB_URI: uri,
      ROSTER_SCIM_TOKEN: SCIM_TOKEN,
      ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
      ROSTER_DATA_DIR: path.join(dataDir, name),
      ROSTER_PUBLIC_URL: 'http://127.0.0.1',
      ROSTER_SMTP_URL: 'smtp://127.0.0.1:1',
      ROSTER_KEY_ENCRYPTION_KEY: KEY_ENCRYPTION_KEY,
      ROSTER_CONFIG: configFile,
      LOG_LEVEL: 'warn',
    },
    {
      readyPath: '/readyz',
      nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      // A fresh Roster builds its indexes over the seeded data before it is ready: minutes at 1M users.
      readySeconds: Math.max(300, LARGE / 500),
    },
  );
}

async function seed(
  db: Db,
  prefix: string,
  users: number,
  groupName: string,
): Promise<SeededUsers & { groupId: string }> {
  const t0 = Date.now();
  const seeded = await seedUsers(db, prefix, users + SPARE, (done) => {
    if (done % 20_000 === 0) log(`  ${prefix}: ${done} users`);
  });
  const groupId = await seedGroup(db, groupName, seeded.ids.slice(0, users), 0);
  log(`seeded ${prefix}: ${users} users + ${SPARE} spare, group "${groupName}" of ${users} in ${Date.now() - t0} ms`);
  return { ...seeded, groupId };
}

// ---------------------------------------------------------------------------------------------

/** Roster's `GET /Users/{id}{query}` against the bare route, alternating, 8 connections each. */
async function frameworkOverhead(
  small: SeededUsers,
  rosterSmall: Child,
  bare: Child,
  label: string,
  rounds: number,
  query = '',
  barePath = '/users',
) {
  const auth = { Authorization: `Bearer ${SCIM_TOKEN}` };
  const ids = small.ids.slice(0, SMALL);
  const run = (child: Child, round: number, isRoster: boolean, seconds: number) =>
    cannon(`${label} ${isRoster ? `Roster GET /Users/{id}${query}` : `bare Koa ${barePath}/{id}`} #${round}`, {
      url: child.baseUrl,
      connections: 8,
      seconds,
      headers: isRoster ? auth : {},
      path: () => (isRoster ? `/scim/v2/Users/${pick(ids)}${query}` : `${barePath}/${pick(ids)}`),
    });
  await run(rosterSmall, 0, true, 2); // warm-up (JIT, connection pools)
  await run(bare, 0, false, 2);
  const rosterRuns: Figures[] = [];
  const bareRuns: Figures[] = [];
  for (let round = 1; round <= rounds; round++) {
    rosterRuns.push(record(await run(rosterSmall, round, true, 4)));
    bareRuns.push(record(await run(bare, round, false, 4)));
  }
  const rps = (runs: Figures[]) => runs.reduce((s, f) => s + f.requests, 0) / runs.reduce((s, f) => s + f.seconds, 0);
  return { roster: rps(rosterRuns), bare: rps(bareRuns) };
}

/**
 * How the database runs the queries behind the measured requests (MongoDB: the winning plan's
 * stages; FerretDB v2: the start of PostgreSQL's plan).
 */
async function explainQueries(
  db: Db,
  large: SeededUsers & { groupId: string },
  directory = DEFAULT_DIRECTORY,
  extra: [string, () => Promise<Record<string, unknown>>][] = [],
) {
  const users = db.collection('users');
  const memberships = db.collection('memberships');
  // As Roster sends them: every query on directory data names its directory (src/db/directoryScope.ts).
  const d = { directory };
  const queries: [string, () => Promise<Record<string, unknown>>][] = [
    ...extra,
    ['users {directory, _id}', () => users.find({ ...d, _id: large.ids[5] as never }).explain()],
    [
      'users {directory, _id: {$in: [1 id]}}',
      () => users.find({ ...d, _id: { $in: [large.ids[5]] } as never }).explain(),
    ],
    [
      'users {directory, norm.userName}',
      () => users.find({ ...d, 'norm.userName': large.first.norm.userName }).explain(),
    ],
    [
      'users {directory} sort {meta.created, _id} limit 101',
      () => users.find(d).sort({ 'meta.created': 1, _id: 1 }).limit(101).explain(),
    ],
    ['memberships {directory, memberId}', () => memberships.find({ ...d, memberId: large.ids[5] }).explain()],
    [
      'memberships {directory, _id}',
      () => memberships.find({ ...d, _id: membershipId(large.groupId, large.ids[5]) as never }).explain(),
    ],
  ];
  const rows: Record<string, unknown>[] = [];
  for (const [query, explain] of queries) {
    const t0 = performance.now();
    const plan = (await explain()) as Record<string, unknown>;
    const ms = performance.now() - t0;
    const planner = plan.queryPlanner as Record<string, unknown> | undefined;
    const winning = planner?.winningPlan as Record<string, unknown> | undefined;
    const stages: string[] = [];
    for (let stage = winning; stage; stage = stage.inputStage as Record<string, unknown> | undefined) {
      stages.push(String(stage.stage) + (stage.indexName ? `(${String(stage.indexName)})` : ''));
    }
    // FerretDB v2: PostgreSQL's plan tree, its node types and the indexes they use, depth first.
    const pgNodes = (node: unknown): string[] => {
      if (!node || typeof node !== 'object') return [];
      const n = node as Record<string, unknown>;
      const here = n['Node Type']
        ? [`${String(n['Node Type'])}${n['Index Name'] ? `(${String(n['Index Name'])})` : ''}`]
        : [];
      return [...here, ...(Array.isArray(n.Plans) ? n.Plans.flatMap(pgNodes) : [])];
    };
    if (!stages.length && planner?.Plan) stages.push(...pgNodes(planner.Plan));
    rows.push({
      query,
      plan: stages.length ? stages.join(' <- ') : JSON.stringify(planner?.Plan ?? planner ?? '').slice(0, 60),
      ...('filterPushdown' in plan ? { filterPushdown: plan.filterPushdown, sortPushdown: plan.sortPushdown } : {}),
      'explain ms': Number(ms.toFixed(0)),
    });
  }
  return rows;
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'roster-bench-'));
  onCleanup('temp dir', async () => rmSync(tmp, { recursive: true, force: true }));
  log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`,
  );

  // Database ------------------------------------------------------------------------------------
  let baseUri = process.env.MONGODB_URI;
  let kind = 'MongoDB (MONGODB_URI)';
  let analyze: (() => Promise<void>) | undefined;
  if (!baseUri) {
    const embedded = await startEmbeddedDatabase(path.join(tmp, 'db'), log);
    onCleanup('database', () => embedded.stop());
    baseUri = embedded.uri;
    databasePid = embedded.pid;
    analyze = embedded.analyze;
    kind = `embedded ${embedded.kind}`;
  }
  log(`database: ${kind}`);
  const client = new MongoClient(baseUri);
  await client.connect();
  const run = randomUUID().slice(0, 6);
  const names = ['small', 'large', 'singles', 'bulk', 'mixed', 'dirs', 'alone'].map((n) => `bench_${run}_${n}`);
  const [smallName, largeName, singlesName, bulkName, mixedName, dirsName, aloneName] = names;
  onCleanup('mongo client', async () => {
    for (const n of names)
      await client
        .db(n)
        .dropDatabase()
        .catch(() => undefined);
    await client.close();
  });

  // Seed ----------------------------------------------------------------------------------------
  log(`seeding ${SMALL} and ${LARGE} users by insertMany in batches of 1000 (plus memberships)`);
  const small = await seed(client.db(smallName), 's', SMALL, 'group-1k');
  const large = await seed(client.db(largeName), 'l', LARGE, 'group-100k');

  // Processes -----------------------------------------------------------------------------------
  log('starting Roster (small, large) and the bare Koa baseline as child processes');
  const rosterSmall = await roster('roster-small', withDatabase(baseUri, smallName), tmp);
  const bareSmall = await startNode(
    'bare-koa-small',
    'bench/bareKoa.ts',
    { MONGODB_URI: withDatabase(baseUri, smallName) },
    {
      readyPath: '/healthz',
    },
  );
  let rosterLarge = await roster('roster-large', withDatabase(baseUri, largeName), tmp);
  log('Roster started (indexes ensured)');
  if (analyze) {
    // PostgreSQL plans with statistics (also of the index expressions just built); autovacuum would
    // gather them within seconds, this does it now.
    log('ANALYZE (planner statistics after the bulk seed)');
    await analyze();
  }
  const scim = (child: Child) => `${child.baseUrl}/scim/v2`;
  const token = SCIM_TOKEN;

  // 1. Framework overhead ----------------------------------------------------------------------
  log(`scenario: framework overhead, ${SMALL}-user database (Roster and bare Koa, 8 connections, alternating)`);
  const overhead = await frameworkOverhead(small, rosterSmall, bareSmall, `${SMALL / 1000}k`, 2);
  const sameReads = await frameworkOverhead(
    small,
    rosterSmall,
    bareSmall,
    `${SMALL / 1000}k`,
    4,
    '',
    '/users-with-groups',
  );
  target(
    'framework overhead: Roster GET /Users/{id} (groups filled) ÷ bare Koa doing the same reads (req/s)',
    sameReads.roster / sameReads.bare,
    '≥ 0.8',
    sameReads.roster / sameReads.bare >= 0.8,
    `${sameReads.roster.toFixed(1)} ÷ ${sameReads.bare.toFixed(1)} req/s on the ${SMALL}-user database`,
  );
  targets.push({
    name: '(diagnostic) Roster GET /Users/{id} (groups filled) ÷ bare Koa single findOne',
    value: overhead.roster / overhead.bare,
    goal: '≥ 0.6',
    pass: overhead.roster / overhead.bare >= 0.6,
    detail: `${overhead.roster.toFixed(1)} ÷ ${overhead.bare.toFixed(1)} req/s`,
  });
  {
    // Diagnostic: the same pair when Roster does the same database work as the bare route (one
    // findOne: no `groups`, so no membership lookup). What is left is Koa, middleware and rendering.
    const same = await frameworkOverhead(
      small,
      rosterSmall,
      bareSmall,
      `${SMALL / 1000}k`,
      1,
      '?excludedAttributes=groups',
    );
    targets.push({
      name: '(diagnostic) same ratio with excludedAttributes=groups (one findOne each)',
      value: same.roster / same.bare,
      goal: '≥ 0.6',
      pass: same.roster / same.bare >= 0.6,
      detail: `${same.roster.toFixed(1)} ÷ ${same.bare.toFixed(1)} req/s`,
    });
  }
  {
    // Overload: 64 clients as fast as they can against 8; Roster's overload guard (server.overload)
    // answers 429 with Retry-After rather than letting every client's latency grow.
    log('scenario: overload, GET /Users/{id} with 8 and 64 connections as fast as they can, alternating');
    const ids = small.ids.slice(0, SMALL);
    const flood = (connections: number, round: number) =>
      cannon(`overload: ${connections} connections, GET /Users/{id} #${round}`, {
        url: rosterSmall.baseUrl,
        connections,
        seconds: 4,
        headers: { Authorization: `Bearer ${SCIM_TOKEN}` },
        path: () => `/scim/v2/Users/${pick(ids)}`,
      });
    // Two rounds of each, interleaved: the machine's speed drifts within a minute.
    const calm: Figures[] = [];
    const busy: Figures[] = [];
    for (let round = 1; round <= 2; round++) {
      calm.push(record(await flood(8, round)));
      busy.push(record(await flood(64, round)));
    }
    const count = (runs: Figures[], status: string) => runs.reduce((n, f) => n + (f.statuses?.[status] ?? 0), 0);
    const served = (runs: Figures[]) => count(runs, '200') / runs.reduce((n, f) => n + f.seconds, 0);
    const refused = count(busy, '429');
    const otherErrors = busy.reduce((n, f) => n + f.errors, 0) - refused;
    const p99 = Math.max(...busy.map((f) => f.p99));
    target(
      'overload: 64 clients, p99 ms (429 with Retry-After past the limits)',
      p99,
      '≤ 5000, no errors but 429',
      p99 <= 5000 && otherErrors === 0,
      `${refused} × 429, ${otherErrors} other errors, p50 ${busy.map((f) => f.p50).join(' and ')} ms (the worse round's p99)`,
    );
    target(
      'overload: served req/s with 64 clients ÷ with 8',
      served(busy) / served(calm),
      '≥ 0.8',
      served(busy) / served(calm) >= 0.8,
      `${served(busy).toFixed(1)} ÷ ${served(calm).toFixed(1)} req/s answered 200`,
    );
  }
  await bareSmall.stop();

  // 2-4. Growth: the small database, then the large one, then the small one again (each small figure
  // is over both runs). Work a timed-out large request leaves running in the database would slow the
  // second small run, so after a timeout there is none; Roster (large) is killed (its database
  // connections close) and started again.
  const filterRun = (
    child: () => Child,
    seeded: SeededUsers,
    n: number,
    label: string,
    limits: Parameters<typeof sequential>[2],
  ) =>
    sequential(
      label,
      async (_i, timeoutMs) => {
        const name = userName(seeded.prefix, Math.floor(Math.random() * n));
        const body = (await call('GET', `${child().baseUrl}${filterPath(name)}`, { token, timeoutMs })) as {
          totalResults: number;
        };
        if (body.totalResults !== 1) throw new Error(`expected 1 result for ${name}, got ${body.totalResults}`);
      },
      limits,
    );
  /** One GET at a time on a random seeded user: by id (groups filled) or `filter=externalId eq`. */
  const lookupRun = (
    child: () => Child,
    seeded: SeededUsers,
    n: number,
    kind: 'id' | 'externalId',
    label: string,
    limits: Parameters<typeof sequential>[2],
  ) =>
    sequential(
      label,
      async (_i, timeoutMs) => {
        const i = Math.floor(Math.random() * n);
        const filter = encodeURIComponent(`externalId eq "ext-${seeded.prefix}-${i}"`);
        const url = `${child().baseUrl}/scim/v2/Users${kind === 'id' ? `/${seeded.ids[i]}` : `?filter=${filter}`}`;
        const body = (await call('GET', url, { token, timeoutMs })) as { totalResults?: number; groups?: unknown[] };
        if (kind === 'externalId' && body.totalResults !== 1)
          throw new Error(`expected 1 result, got ${body.totalResults}`);
        if (kind === 'id' && !body.groups?.length) throw new Error('expected the user with its groups');
      },
      limits,
    );
  // Each scenario warms up first, so a fresh Roster process has compiled its code paths (otherwise
  // its first request's CPU time is mostly JIT work).
  // Users outside the group, added one per request; taken from the end (the round trip count takes
  // the first 50), shared by every run on one database.
  const sparePools = new Map<SeededUsers, string[]>();
  const sparePool = (seeded: SeededUsers) => {
    if (!sparePools.has(seeded)) sparePools.set(seeded, seeded.ids.slice(seeded.ids.length - SPARE + 50));
    return sparePools.get(seeded)!;
  };
  const addRun = (
    child: () => Child,
    seeded: SeededUsers & { groupId: string },
    label: string,
    maxSeconds: number,
    afterWarmup: () => void,
  ) => {
    const spare = sparePool(seeded);
    return sequential(
      label,
      async (_i, timeoutMs) => {
        const member = spare.pop();
        if (!member) throw new Error('no spare user left');
        await call('PATCH', `${scim(child())}/Groups/${seeded.groupId}`, {
          token,
          timeoutMs,
          expect: [200, 204],
          body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: member }] }] },
        });
      },
      // 50 warm-up adds: the large side's process is fresh, the small side's has served the overhead
      // scenario; with 2 the large side measured V8's unoptimized code (2.5× the CPU per request).
      { maxRequests: 100, maxSeconds, timeoutMs: LARGE_TIMEOUT_MS, warmup: 50, afterWarmup },
    );
  };
  // Without excludedAttributes=groups every page also looks up the groups of each of its 100 users
  // (2 queries per user); that cost is the same on every page, so the paging ratio is measured
  // without it; a diagnostic below measures the groups cost on the small database.
  const totalLarge = LARGE + SPARE;
  // The seed gives user i meta.created = EPOCH + i ms, so the order (meta.created, _id) is the seed order.
  const beforeLast = totalLarge - 101;
  const lastCursor = encodeCursor(
    { key: new Date(Date.UTC(2024, 0, 1) + beforeLast), id: large.ids[beforeLast] },
    DEFAULT_DIRECTORY,
  );
  const pageRun = (label: string, cursor: string) =>
    sequential(
      label,
      async (_i, timeoutMs) => {
        const body = (await call(
          'GET',
          `${scim(rosterLarge)}/Users?count=100&excludedAttributes=groups&cursor=${cursor}`,
          { token, timeoutMs },
        )) as { itemsPerPage: number; nextCursor?: string };
        if (body.itemsPerPage !== 100) throw new Error(`expected 100 results, got ${body.itemsPerPage}`);
        if (cursor && body.nextCursor) throw new Error('the last page has a nextCursor');
      },
      { maxRequests: 100, maxSeconds: LARGE_SECONDS, timeoutMs: LARGE_TIMEOUT_MS },
    );

  // The small side is measured before and after the large side, and each figure is over both runs:
  // this shared machine's speed drifts within minutes, by more than these few-ms figures differ.
  const smallSide = async (pass: number) => {
    const label = (what: string) => `${what}, ${SMALL} users #${pass}`;
    const limits = { maxRequests: GROWTH_REQUESTS, maxSeconds: 10, timeoutMs: 60_000, warmup: 20 };
    const filter = record(
      await withCpu(rosterSmall, (afterWarmup) =>
        filterRun(() => rosterSmall, small, SMALL, label('filter userName eq'), { ...limits, afterWarmup }),
      ),
    );
    const byId = record(
      await lookupRun(() => rosterSmall, small, SMALL, 'id', label('GET /Users/{id} with groups'), limits),
    );
    const externalId = record(
      await lookupRun(() => rosterSmall, small, SMALL, 'externalId', label('filter externalId eq'), limits),
    );
    const group = record(
      await withCpu(rosterSmall, (afterWarmup) =>
        addRun(() => rosterSmall, small, `PATCH add member, group of ${SMALL} #${pass}`, 10, afterWarmup),
      ),
    );
    return { filter, byId, externalId, group };
  };
  log('scenario: growth, small side (filter, PATCH add member, first page diagnostics)');
  const smallFirst = await smallSide(1);
  for (const attrs of ['', '&excludedAttributes=groups']) {
    record(
      await sequential(
        `(diagnostic) first page count=100${attrs ? ' without groups' : ' with groups (default)'}, ${SMALL + SPARE} users`,
        async (_i, timeoutMs) => {
          await call('GET', `${scim(rosterSmall)}/Users?count=100&cursor=${attrs}`, { token, timeoutMs });
        },
        { maxRequests: 200, maxSeconds: 8, timeoutMs: 60_000, warmup: 1 },
      ),
    );
  }
  log('diagnostic: database commands per request (in-process Roster with command monitoring)');
  const trips: RoundTrips[] = await countRoundTrips(withDatabase(baseUri, smallName), KEY_ENCRYPTION_KEY, {
    userId: small.ids[0],
    userName: userName('s', 0),
    groupId: small.groupId,
    spareUserIds: small.ids.slice(small.ids.length - SPARE, small.ids.length - SPARE + 50),
  });

  log('scenario: growth, large side (one request at a time; a timeout gives a lower bound)');
  // Roster (small) has served the overhead and overload scenarios, tens of thousands of requests;
  // Roster (large) is fresh. Its code gets the same kind of load first, so the ratios compare the
  // data's size and not how far V8 has optimised each process (measured: a fresh process spent
  // 3.3-4.2 ms of CPU per filter request where a served one spent 2.2, its database the same).
  await cannon('warm-up (not measured)', {
    url: rosterLarge.baseUrl,
    connections: 8,
    seconds: 20,
    headers: { Authorization: `Bearer ${token}` },
    path: () => `/scim/v2/Users/${pick(large.ids)}`,
  });
  const largeSide = async (f: Figures) => {
    record(f);
    if (f.timedOut) {
      log('  restarting Roster (large) to drop the work the timed-out request left in the database');
      await rosterLarge.kill();
      rosterLarge = await roster('roster-large-2', withDatabase(baseUri, largeName), tmp);
    }
    return f;
  };
  const groupLarge = await largeSide(
    await withCpu(rosterLarge, (afterWarmup) =>
      addRun(() => rosterLarge, large, `PATCH add member, group of ${LARGE}`, LARGE_SECONDS, afterWarmup),
    ),
  );
  const filterLarge = await largeSide(
    await withCpu(rosterLarge, (afterWarmup) =>
      filterRun(() => rosterLarge, large, LARGE, `filter userName eq, ${LARGE} users`, {
        maxRequests: GROWTH_REQUESTS,
        maxSeconds: LARGE_SECONDS,
        timeoutMs: LARGE_TIMEOUT_MS,
        warmup: 20,
        afterWarmup,
      }),
    ),
  );
  const largeLimits = {
    maxRequests: GROWTH_REQUESTS,
    maxSeconds: LARGE_SECONDS,
    timeoutMs: LARGE_TIMEOUT_MS,
    warmup: 20,
  };
  const byIdLarge = await largeSide(
    await lookupRun(() => rosterLarge, large, LARGE, 'id', `GET /Users/{id} with groups, ${LARGE} users`, largeLimits),
  );
  const externalIdLarge = await largeSide(
    await lookupRun(() => rosterLarge, large, LARGE, 'externalId', `filter externalId eq, ${LARGE} users`, largeLimits),
  );
  // The small side again, unless a large request timed out (its work may still load the database).
  const largeTimedOut = [groupLarge, filterLarge, byIdLarge, externalIdLarge].some((f) => f.timedOut);
  if (largeTimedOut) log('  a large-side request timed out: the small side is measured once');
  const smallAgain = largeTimedOut ? undefined : await smallSide(2);
  await rosterSmall.stop();
  const bothSmall = (key: keyof typeof smallFirst, name: string) =>
    smallAgain ? combine(`${name} (#1 and #2)`, [smallFirst[key], smallAgain[key]]) : smallFirst[key];
  const filterSmall = bothSmall('filter', `filter userName eq, ${SMALL} users`);
  const byIdSmall = bothSmall('byId', `GET /Users/{id} with groups, ${SMALL} users`);
  const externalIdSmall = bothSmall('externalId', `filter externalId eq, ${SMALL} users`);
  const groupSmall = bothSmall('group', `PATCH add member, group of ${SMALL}`);
  const firstPage = await largeSide(
    await withCpu(rosterLarge, () => pageRun(`cursor first page, ${totalLarge} users`, '')),
  );
  const lastPage = await largeSide(
    await withCpu(rosterLarge, () => pageRun(`cursor last page, ${totalLarge} users`, lastCursor)),
  );
  // Okta's import: startIndex pages read in order. The deep run starts with one jump (a skip, not
  // measured), then reads on page after page, as an import that has come that far does.
  const indexRun = (label: string, from: number) => {
    let startIndex = from;
    return sequential(
      label,
      async (_i, timeoutMs) => {
        const body = (await call(
          'GET',
          `${scim(rosterLarge)}/Users?startIndex=${startIndex}&count=100&excludedAttributes=groups`,
          { token, timeoutMs },
        )) as { itemsPerPage: number };
        if (body.itemsPerPage !== 100) throw new Error(`expected 100 results, got ${body.itemsPerPage}`);
        startIndex += 100;
      },
      { maxRequests: 20, maxSeconds: LARGE_SECONDS, timeoutMs: LARGE_TIMEOUT_MS, warmup: 1 },
    );
  };
  const firstIndexPages = await largeSide(await indexRun(`startIndex pages in order from 1, ${totalLarge} users`, 1));
  const lastIndexPages = await largeSide(
    await indexRun(`startIndex pages in order to the end, ${totalLarge} users`, totalLarge - 2099),
  );
  ratioTarget(
    `Okta import: last startIndex pages ÷ first (${LARGE / 1000}k, count=100, in order), p50`,
    lastIndexPages,
    firstIndexPages,
    2,
  );
  // Large groups: read without and with the 100k members, and 1,000 members added in one PATCH.
  log(`scenario: a group of ${LARGE} members (read with and without members), 1,000 members per PATCH`);
  const groupUrl = `${scim(rosterLarge)}/Groups/${large.groupId}`;
  const withoutMembers = record(
    await sequential(
      `GET /Groups/{id}?excludedAttributes=members, group of ${LARGE}`,
      async (_i, timeoutMs) => void (await call('GET', `${groupUrl}?excludedAttributes=members`, { token, timeoutMs })),
      { maxRequests: 50, maxSeconds: 10, timeoutMs: LARGE_TIMEOUT_MS, warmup: 2 },
    ),
  );
  const rssBefore = rssMb(rosterLarge.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(rosterLarge.pid))), 50);
  const withMembers = await largeSide(
    await sequential(
      `GET /Groups/{id} with all ${LARGE} members`,
      async (_i, timeoutMs) => {
        const body = (await call('GET', groupUrl, { token, timeoutMs })) as { members?: unknown[] };
        // The add-member scenario added spare users to this group before.
        const count = body.members?.length ?? 0;
        if (count < LARGE) throw new Error(`expected at least ${LARGE} members, got ${count}`);
      },
      { maxRequests: 3, maxSeconds: 60, timeoutMs: LARGE_TIMEOUT_MS },
    ),
  );
  clearInterval(sampler);
  targets.push({
    name: `(diagnostic) GET /Groups/{id} with ${LARGE} members: Roster RSS growth, MB`,
    value: rssPeak - rssBefore,
    goal: '< 100',
    pass: rssPeak - rssBefore < 100,
    detail: `p50 ${withMembers.p50.toFixed(0)} ms; excludedAttributes=members p50 ${withoutMembers.p50.toFixed(1)} ms`,
  });
  {
    // Member paging (/GroupMembers, draft-zollner-scim-group-members): the whole group by cursor.
    log(`scenario: every member of the ${LARGE}-member group through /GroupMembers by cursor, 1,000 a page`);
    const filter = encodeURIComponent(`group.value eq "${large.groupId}"`);
    const pageMs: number[] = [];
    const seen = new Set<string>();
    let cursor = '';
    const started = performance.now();
    // Bounded like every loop here: at most MEMBER_PAGING_SECONDS, then the rate so far is reported.
    for (let page = 0; page < LARGE / 1000 + 10 && performance.now() - started < MEMBER_PAGING_SECONDS * 1000; page++) {
      const t0 = performance.now();
      const body = (await call(
        'GET',
        `${scim(rosterLarge)}/GroupMembers?filter=${filter}&count=1000&cursor=${cursor}`,
        {
          token,
          timeoutMs: LARGE_TIMEOUT_MS,
        },
      )) as { Resources: { member: { value: string } }[]; nextCursor?: string };
      pageMs.push(performance.now() - t0);
      for (const r of body.Resources) seen.add(r.member.value);
      if (!body.nextCursor) break;
      cursor = encodeURIComponent(body.nextCursor);
    }
    const seconds = (performance.now() - started) / 1000;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const firstTen = median(pageMs.slice(0, 10));
    const lastTen = median(pageMs.slice(-10));
    log(
      `  ${seen.size} distinct members in ${pageMs.length} pages, ${seconds.toFixed(1)} s ` +
        `(${(seen.size / seconds).toFixed(0)} members/s); first pages p50 ${firstTen.toFixed(0)} ms, last pages p50 ${lastTen.toFixed(0)} ms`,
    );
    target(
      `member paging: all members of a ${LARGE}-member group by /GroupMembers cursor pages, last ÷ first page p50`,
      lastTen / firstTen,
      '≤ 2, complete',
      lastTen / firstTen <= 2 && seen.size >= LARGE,
      `${seen.size} of ${LARGE} members${seen.size < LARGE ? ` (stopped after ${MEMBER_PAGING_SECONDS} s)` : ''}, ` +
        `${pageMs.length} pages in ${seconds.toFixed(1)} s; first ${firstTen.toFixed(0)} ms, last ${lastTen.toFixed(0)} ms a page`,
    );
  }
  const emptyGroups: string[] = [];
  for (let i = 0; i < 6; i++) {
    const body = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `bench-thousand-${i}` };
    emptyGroups.push(((await call('POST', `${scim(rosterLarge)}/Groups`, { token, body })) as { id: string }).id);
  }
  const thousand = record(
    await sequential(
      'PATCH /Groups/{id} adding 1,000 members in one request',
      async (i, timeoutMs) => {
        const index = i + 1; // the warm-up is -1
        const value = large.ids.slice(index * 1000, index * 1000 + 1000).map((id) => ({ value: id }));
        await call('PATCH', `${scim(rosterLarge)}/Groups/${emptyGroups[index]}`, {
          token,
          timeoutMs,
          expect: [204],
          body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value }] },
        });
      },
      { maxRequests: 5, maxSeconds: 60, timeoutMs: LARGE_TIMEOUT_MS, warmup: 1 },
    ),
  );
  target(
    'PATCH /Groups adding 1,000 members in one request, p50 ms',
    thousand.p50,
    '< 2000',
    thousand.p50 < 2000,
    `p99 ${thousand.p99.toFixed(0)} ms over ${thousand.requests} requests`,
  );
  await rosterLarge.kill();

  ratioTarget(`growth: filter userName eq p50, ${SIZES} users`, filterLarge, filterSmall, 1.5);
  ratioTarget(`growth: GET /Users/{id} with groups p50, ${SIZES} users`, byIdLarge, byIdSmall, 1.5);
  ratioTarget(`growth: filter externalId eq p50, ${SIZES} users`, externalIdLarge, externalIdSmall, 1.5);
  ratioTarget(`growth: last page ÷ first page by cursor (${LARGE / 1000}k, count=100), p50`, lastPage, firstPage, 2);
  ratioTarget(`growth: PATCH add 1 member, group of ${SIZES}, p50`, groupLarge, groupSmall, 1.5);
  cpuGrowth('filter userName eq', filterLarge, filterSmall);
  cpuGrowth('PATCH add 1 member', groupLarge, groupSmall);
  const plans = await explainQueries(client.db(largeName), large);

  // 5. Bulk vs single POSTs ----------------------------------------------------------------------
  log(`scenario: ${BULK_USERS} users by single POST /Users (8 connections) vs /Bulk (sequential batches)`);
  const newUser = (tag: string, i: number) => ({
    schemas: [USER_SCHEMA],
    userName: `${tag}.${i}@example.com`,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    displayName: `Given${i} Family${i}`,
    emails: [{ value: `${tag}.${i}@example.com`, type: 'work', primary: true }],
    active: true,
  });
  const rosterSingles = await roster('roster-singles', withDatabase(baseUri, singlesName), tmp);
  const singles = await closedLoop(
    `POST /Users ×${BULK_USERS}, 8 connections`,
    async (i) => {
      await call('POST', `${scim(rosterSingles)}/Users`, { token, body: newUser('single', i), expect: [201] });
    },
    { workers: 8, maxTasks: BULK_USERS, maxSeconds: 60 },
  );
  record(singles);
  await rosterSingles.stop();

  const rosterBulk = await roster('roster-bulk', withDatabase(baseUri, bulkName), tmp);
  const spc = (await call('GET', `${scim(rosterBulk)}/ServiceProviderConfig`, { token })) as {
    bulk: { maxOperations: number };
  };
  const batch = Math.max(1, spc.bulk.maxOperations);
  let bulkCreated = 0;
  const bulkStarted = performance.now();
  const bulkFigures = await sequential(
    `POST /Bulk ×${Math.ceil(BULK_USERS / batch)} (${batch} users each), 1 connection`,
    async (b, timeoutMs) => {
      const from = b * batch;
      const to = Math.min(from + batch, BULK_USERS);
      const body = (await call('POST', `${scim(rosterBulk)}/Bulk`, {
        token,
        timeoutMs,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: Array.from({ length: to - from }, (_, k) => ({
            method: 'POST',
            path: '/Users',
            bulkId: `u${from + k}`,
            data: newUser('bulk', from + k),
          })),
        },
      })) as { Operations: { status: string }[] };
      bulkCreated += body.Operations.filter((o) => o.status === '201').length;
    },
    { maxRequests: Math.ceil(BULK_USERS / batch), maxSeconds: 60, timeoutMs: 180_000 },
  );
  const bulkSeconds = (performance.now() - bulkStarted) / 1000;
  record(bulkFigures);
  {
    // Security events: POST /Users with no receiver, with a push receiver that answers 202 at once,
    // and with one that never answers (then the healthy one is disabled): the stalled receiver must
    // not slow provisioning. Producing a SET (snapshot, signature, outbox write) is the request's.
    log('scenario: POST /Users one at a time without, with a healthy and with a stalled event receiver');
    const single = (tag: string) => (i: number, timeoutMs: number) =>
      call('POST', `${scim(rosterBulk)}/Users`, { token, timeoutMs, body: newUser(tag, i + 100), expect: [201] }).then(
        () => undefined,
      );
    const limits = { maxRequests: 300, maxSeconds: 20, timeoutMs: 30_000, warmup: 20 };
    const receiverServer = async (answer: boolean) => {
      const server = createServer((req, res) => {
        req.resume();
        if (answer) req.on('end', () => res.writeHead(202).end());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    };
    const admin = (method: string, url: string, body?: unknown) =>
      fetch(`${rosterBulk.baseUrl}/admin/v1${url}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const register = async (name: string, port: number) => {
      const res = await admin('POST', '/event-receivers', {
        name,
        delivery: 'push',
        endpoint: `http://127.0.0.1:${port}/events`,
        audience: 'bench',
        events: [],
        level: 'full',
      });
      if (res.status !== 201) throw new Error(`registering the receiver: HTTP ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    };
    const without = record(await sequential('POST /Users, no event receiver', single('norecv'), limits));
    const healthyServer = await receiverServer(true);
    const healthyId = await register('healthy', (healthyServer.address() as { port: number }).port);
    const healthy = record(await sequential('POST /Users, a healthy push receiver', single('healthy'), limits));
    await admin('PATCH', `/event-receivers/${healthyId}`, { enabled: false });
    const stalledServer = await receiverServer(false);
    await register('stalled', (stalledServer.address() as { port: number }).port);
    const stalled = record(await sequential('POST /Users, a stalled push receiver', single('stalled'), limits));
    for (const server of [healthyServer, stalledServer]) {
      server.closeAllConnections();
      server.close();
    }
    target(
      'security events: POST /Users p50 with a stalled push receiver ÷ with a healthy one',
      stalled.p50 / healthy.p50,
      '≤ 1.25',
      stalled.p50 / healthy.p50 <= 1.25,
      `${stalled.p50.toFixed(1)} ÷ ${healthy.p50.toFixed(1)} ms; without any receiver ${without.p50.toFixed(1)} ms (making the SET is part of the request)`,
    );
  }
  await rosterBulk.stop();
  const singlesRate = singles.completed / singles.seconds;
  const bulkRate = bulkCreated / bulkSeconds;
  log(
    `bulk: ${bulkCreated} users in ${bulkSeconds.toFixed(1)} s; singles: ${singles.completed} in ${singles.seconds.toFixed(1)} s`,
  );
  target(
    'bulk: users/s through /Bulk ÷ single POSTs (8 connections)',
    bulkRate / singlesRate,
    '≥ 5',
    bulkRate / singlesRate >= 5,
    `${bulkRate.toFixed(1)} ÷ ${singlesRate.toFixed(1)} users/s (${bulkCreated} and ${singles.completed} users; ` +
      `10k at these rates: ${(BULK_USERS / bulkRate).toFixed(0)} s vs ${(BULK_USERS / singlesRate).toFixed(0)} s)`,
  );

  // 6. Mixed Okta-like / Entra-like provisioning --------------------------------------------------
  log(`scenario: mixed Okta-like and Entra-like provisioning, 8 clients, ${MIXED_SECONDS} s or 5000 users`);
  const rosterMixed = await roster('roster-mixed', withDatabase(baseUri, mixedName), tmp);
  const base = scim(rosterMixed);
  const groupIds = await createDepartments(base, token);
  const requestsPerUser = 4;
  // Where the machine's CPU goes during the run: Roster, FerretDB, this load generator, and the rest
  // (PostgreSQL's backends, and anything else the machine runs).
  const cpuSample = () => ({
    roster: cpuMs(rosterMixed.pid),
    ferretdb: cpuMs(databasePid),
    generator: process.cpuUsage(),
    machine: machineBusyMs(),
  });
  const cpuBefore = cpuSample();
  const mixed = await closedLoop('mixed provisioning (4 requests per user)', mixedTask(base, token, groupIds, run), {
    workers: 8,
    maxTasks: 5000,
    maxSeconds: MIXED_SECONDS,
  });
  const cpuAfter = cpuSample();
  const perUser = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || !mixed.completed ? undefined : (b - a) / mixed.completed;
  const generatorMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const split = {
    roster: perUser(cpuBefore.roster, cpuAfter.roster),
    ferretdb: perUser(cpuBefore.ferretdb, cpuAfter.ferretdb),
    generator: perUser(generatorMs(cpuBefore.generator), generatorMs(cpuAfter.generator)),
    machine: perUser(cpuBefore.machine, cpuAfter.machine),
  };
  const ms = (v: number | undefined) => (v === undefined ? '?' : `${v.toFixed(1)} ms`);
  const rest =
    split.machine === undefined
      ? undefined
      : split.machine - (split.roster ?? 0) - (split.ferretdb ?? 0) - (split.generator ?? 0);
  const busy =
    cpuBefore.machine === undefined || cpuAfter.machine === undefined
      ? '?'
      : `${(((cpuAfter.machine - cpuBefore.machine) / (mixed.seconds * 1000 * os.cpus().length)) * 100).toFixed(0)}%`;
  const cpuNote =
    `CPU per user: Roster ${ms(split.roster)}, FerretDB ${ms(split.ferretdb)}, load generator ${ms(split.generator)}, ` +
    `PostgreSQL and the rest ${ms(rest)}; machine ${busy} busy`;
  record({
    ...mixed,
    note: `${((mixed.completed * requestsPerUser) / mixed.seconds).toFixed(1)} HTTP requests/s; ${cpuNote}${mixed.note ? `; ${mixed.note}` : ''}`,
  });
  await rosterMixed.stop();
  const usersPerSecond = mixed.completed / mixed.seconds;
  target(
    'mixed Okta/Entra provisioning: users provisioned per second (8 clients)',
    usersPerSecond,
    '≥ 100, no errors',
    mixed.errors === 0 && usersPerSecond >= 100,
    `${mixed.completed} users in ${mixed.seconds.toFixed(1)} s, ${mixed.errors} errors, p50 ${mixed.p50.toFixed(0)} ms per user (4 requests); ${cpuNote}`,
  );

  // 7-8. Directories: a small directory among many ÷ one large directory, and the same directory
  // among many ÷ alone in its database. Each in its own database and Roster, warmed alike; the sides
  // are measured in turns (alone, crowded, large, crowded, alone) and each figure of a side measured
  // twice is over both runs, against the machine's drift (as the growth scenarios do).
  log(
    `scenario: many directories, a ${DIR_USERS}-user directory among ${DIRECTORIES} × ${DIR_USERS} users ÷ one directory of ${LARGE} users (filter userName eq, GET /Users/{id}, PATCH add member to a group of ${DIR_USERS})`,
  );
  log(
    `scenario: same directory crowded or alone, ${DIR_USERS} users among ${DIRECTORIES} directories ÷ the same ${DIR_USERS} users alone in a database (alone measured before and after)`,
  );
  const dirsDb = client.db(dirsName);
  const rosterDirs = await roster('roster-directories', withDatabase(baseUri, dirsName), tmp);
  const crowdIndex = Math.floor(DIRECTORIES / 2);
  const crowdSlug = `crowd-${crowdIndex}`;
  let crowded: Side | undefined;
  let crowdedDirectory = '';
  const seedStarted = Date.now();
  for (let k = 0; k < DIRECTORIES; k++) {
    // Every directory has its users and a group of all of them; the measured one also has spare
    // users to add to its group, as the growth scenarios' databases do.
    const measured = k === crowdIndex;
    const dir = await createDirectory(rosterDirs.baseUrl, ADMIN_TOKEN, `crowd-${k}`, measured);
    const seeded = await seedUsers(dirsDb, `d${k}`, DIR_USERS + (measured ? SPARE : 0), undefined, dir.id);
    const groupId = await seedGroup(dirsDb, `group-${k}`, seeded.ids.slice(0, DIR_USERS), 0, dir.id);
    if (measured) {
      crowdedDirectory = dir.id;
      crowded = {
        label: `${DIR_USERS} users among ${DIRECTORIES} directories`,
        scimBase: () => dir.scimBase,
        token: dir.token,
        seeded: { ...seeded, groupId },
        lookup: Array.from({ length: DIR_USERS }, (_, i) => i),
        spare: seeded.ids.slice(DIR_USERS),
      };
    }
    if ((k + 1) % 20 === 0) log(`  ${k + 1} directories seeded`);
  }
  log(
    `seeded ${DIRECTORIES} directories × ${DIR_USERS} users (+ ${SPARE} spare in ${crowdSlug}), a group of ${DIR_USERS} in each, in ${Date.now() - seedStarted} ms`,
  );
  const rosterAlone = await roster('roster-alone', withDatabase(baseUri, aloneName), tmp);
  const aloneDir = await createDirectory(rosterAlone.baseUrl, ADMIN_TOKEN, crowdSlug);
  const aloneDb = client.db(aloneName);
  const aloneSeeded = await seedUsers(aloneDb, `d${crowdIndex}`, DIR_USERS + SPARE, undefined, aloneDir.id);
  const aloneGroup = await seedGroup(
    aloneDb,
    `group-${crowdIndex}`,
    aloneSeeded.ids.slice(0, DIR_USERS),
    0,
    aloneDir.id,
  );
  const alone: Side = {
    label: `${DIR_USERS} users alone in a database`,
    scimBase: () => aloneDir.scimBase,
    token: aloneDir.token,
    seeded: { ...aloneSeeded, groupId: aloneGroup },
    lookup: Array.from({ length: DIR_USERS }, (_, i) => i),
    spare: aloneSeeded.ids.slice(DIR_USERS),
  };
  // The large database's default directory: a group of 1,000 of its users (the last ones), and
  // users outside it to add; lookups over all its users.
  const largeGroup = await seedGroup(
    client.db(largeName),
    'group-1k-directories',
    large.ids.slice(LARGE - DIR_USERS, LARGE),
    3,
  );
  const rosterLargeDirs = await roster('roster-large-directories', withDatabase(baseUri, largeName), tmp);
  const oneLarge: Side = {
    label: `one directory of ${LARGE} users`,
    scimBase: () => scim(rosterLargeDirs),
    // A stored token, as the directories' are (the configuration's token needs no lookup).
    token: await mintToken(rosterLargeDirs.baseUrl, ADMIN_TOKEN),
    seeded: { ...large, groupId: largeGroup },
    lookup: Array.from({ length: LARGE }, (_, i) => i),
    spare: large.ids.slice(Math.max(0, LARGE - DIR_USERS - SPARE), LARGE - DIR_USERS),
  };
  if (!crowded) throw new Error('the measured directory was not seeded');
  const crowdedSide: Side = crowded;
  if (analyze) {
    log('ANALYZE (planner statistics after seeding the directories)');
    await analyze();
  }
  // Three fresh Rosters: the same kind of load first, as the growth scenario's large side gets.
  for (const s of [alone, crowdedSide, oneLarge]) {
    const url = new URL(s.scimBase());
    await cannon('warm-up (not measured)', {
      url: url.origin,
      connections: 8,
      seconds: 15,
      headers: { Authorization: `Bearer ${s.token}` },
      path: () => `${url.pathname}/Users/${s.seeded.ids[pick(s.lookup)]}`,
    });
  }
  const sideRuns = async (s: Side, pass: string, isLarge: boolean) => {
    const limits = isLarge
      ? { maxRequests: GROWTH_REQUESTS, maxSeconds: LARGE_SECONDS, timeoutMs: LARGE_TIMEOUT_MS, warmup: 20 }
      : { maxRequests: GROWTH_REQUESTS, maxSeconds: 10, timeoutMs: 60_000, warmup: 20 };
    const filter = record(await sequential(`filter userName eq, ${s.label}${pass}`, filterRequest(s), limits));
    const byId = record(await sequential(`GET /Users/{id} with groups, ${s.label}${pass}`, byIdRequest(s), limits));
    const add = record(
      await sequential(`PATCH add member, group of ${DIR_USERS}, ${s.label}${pass}`, addRequest(s), {
        ...limits,
        maxRequests: 100,
      }),
    );
    return { filter, byId, add };
  };
  const alone1 = await sideRuns(alone, ' #1', false);
  const crowded1 = await sideRuns(crowdedSide, ' #1', false);
  const largeDirs = await sideRuns(oneLarge, '', true);
  const crowded2 = await sideRuns(crowdedSide, ' #2', false);
  const alone2 = await sideRuns(alone, ' #2', false);
  for (const child of [rosterLargeDirs, rosterAlone, rosterDirs]) await child.stop();
  const both = (a: typeof alone1, b: typeof alone1, key: keyof typeof alone1) =>
    combine(`${a[key].name.replace(/ #1$/, '')} (#1 and #2)`, [a[key], b[key]]);
  const what = { filter: 'filter userName eq', byId: 'GET /Users/{id} with groups', add: 'PATCH add 1 member' };
  for (const key of ['filter', 'byId', 'add'] as const) {
    const crowdedBoth = both(crowded1, crowded2, key);
    const aloneBoth = both(alone1, alone2, key);
    ratioTarget(
      `directories: ${what[key]} p50, a ${DIR_USERS}-user directory among ${DIRECTORIES} ÷ one directory of ${LARGE}`,
      crowdedBoth,
      largeDirs[key],
      1.2,
    );
    ratioTarget(
      `directories: ${what[key]} p50, ${DIR_USERS} users among ${DIRECTORIES} directories ÷ alone in a database`,
      crowdedBoth,
      aloneBoth,
      1.2,
    );
  }
  const tokenHashHex = createHash('sha256').update(crowdedSide.token).digest('hex');
  const directoryPlans = await explainQueries(dirsDb, crowdedSide.seeded, crowdedDirectory, [
    ['directories {slug}', () => dirsDb.collection('directories').find({ slug: crowdSlug }).explain()],
    [
      'scim_tokens {directory, hash, revokedAt: {$exists: false}}',
      () =>
        dirsDb
          .collection('scim_tokens')
          .find({ directory: crowdedDirectory, hash: tokenHashHex, revokedAt: { $exists: false } })
          .explain(),
    ],
    [
      'groups {directory, _id}',
      () =>
        dirsDb
          .collection('groups')
          .find({ directory: crowdedDirectory, _id: crowdedSide.seeded.groupId as never })
          .explain(),
    ],
  ]);

  // 9. Noisy neighbour ----------------------------------------------------------------------------
  log(
    `scenario: noisy neighbour, directory A flooded by 64 clients (GET /Users?count=100) while directory B runs the mixed workload at 8 clients, ${MIXED_SECONDS} s; then B alone, ${MIXED_SECONDS} s (${SMALL}-user database's Roster)`,
  );
  const rosterNeighbours = await roster('roster-neighbours', withDatabase(baseUri, smallName), tmp);
  const dirA = await createDirectory(rosterNeighbours.baseUrl, ADMIN_TOKEN, 'noisy-a');
  const dirB = await createDirectory(rosterNeighbours.baseUrl, ADMIN_TOKEN, 'quiet-b');
  await seedUsers(client.db(smallName), 'na', DIR_USERS, undefined, dirA.id);
  const bGroups = await createDepartments(dirB.scimBase, dirB.token);
  const bLimits = { workers: 8, maxTasks: 5000, maxSeconds: MIXED_SECONDS };
  // Warm-up (not measured): the fresh process compiles the mixed workload's code paths first.
  await closedLoop('warm-up', mixedTask(dirB.scimBase, dirB.token, bGroups, `${run}-warm`), {
    ...bLimits,
    maxSeconds: 3,
  });
  const aUrl = new URL(dirA.scimBase);
  const [floodA, bWith] = await Promise.all([
    cannon('noisy neighbour: A, 64 connections, GET /Users?count=100', {
      url: aUrl.origin,
      connections: 64,
      seconds: MIXED_SECONDS,
      headers: { Authorization: `Bearer ${dirA.token}` },
      path: () => `${aUrl.pathname}/Users?count=100`,
    }),
    closedLoop(
      'noisy neighbour: B mixed provisioning (4 requests per user), 8 clients, A flooding',
      mixedTask(dirB.scimBase, dirB.token, bGroups, `${run}-with`),
      bLimits,
    ),
  ]);
  const statusesA = floodA.statuses ?? {};
  const answeredA = Object.values(statusesA).reduce((n, c) => n + c, 0);
  const count5xx = Object.entries(statusesA).reduce((n, [code, c]) => n + (code.startsWith('5') ? c : 0), 0);
  const otherA = Object.entries(statusesA).reduce((n, [code, c]) => n + (code === '200' || code === '429' ? 0 : c), 0);
  const non2xxA = Object.entries(statusesA).reduce((n, [code, c]) => n + (code.startsWith('2') ? 0 : c), 0);
  const noAnswerA = Math.max(0, floodA.errors - non2xxA);
  const refusedA = statusesA['429'] ?? 0;
  const statusText = Object.entries(statusesA)
    .map(([code, c]) => `${code}: ${c}`)
    .join(', ');
  record({ ...floodA, note: `statuses ${statusText}${noAnswerA ? `; ${noAnswerA} without an answer` : ''}` });
  log(`  A's answers by status: ${statusText || 'none'}; ${noAnswerA} errors or timeouts without an answer`);
  record(bWith);
  const bAlone = await closedLoop(
    'noisy neighbour: B mixed provisioning (4 requests per user), 8 clients, alone',
    mixedTask(dirB.scimBase, dirB.token, bGroups, `${run}-alone`),
    bLimits,
  );
  record(bAlone);
  await rosterNeighbours.stop();
  target(
    "noisy neighbour: B's mixed provisioning p99 with A flooding ÷ B alone",
    bWith.p99 / bAlone.p99,
    '≤ 2, B no errors',
    bWith.p99 / bAlone.p99 <= 2 && bWith.errors === 0 && bAlone.errors === 0,
    `${bWith.p99.toFixed(0)} ÷ ${bAlone.p99.toFixed(0)} ms per user (p50 ${bWith.p50.toFixed(0)} and ${bAlone.p50.toFixed(0)} ms); ` +
      `${bWith.completed} and ${bAlone.completed} users, ${bWith.errors} and ${bAlone.errors} errors`,
  );
  target(
    "noisy neighbour: A's answers with status 5xx (64 clients)",
    count5xx,
    // A is refused (429) or made to wait its turn (server.overload.maxInFlightPerDirectory); never a 5xx.
    '0, only 200 or 429',
    count5xx === 0 && otherA === 0 && noAnswerA === 0,
    `${answeredA} answers (${statusText}); ${refusedA} × 429, ${otherA} other than 200/429, ${noAnswerA} without an answer`,
  );

  // Summary -------------------------------------------------------------------------------------
  console.log(
    `\n=== Roster benchmark — ${kind}, ${os.cpus().length} CPUs, Node ${process.version}, ${elapsed().trim()} ===\n`,
  );
  console.log('Scenarios');
  console.table(
    results.map((f) => ({
      scenario: f.name,
      'req/s': Number(f.rps.toFixed(1)),
      'p50 ms': Number(f.p50.toFixed(1)),
      'p99 ms': Number(f.p99.toFixed(1)),
      requests: f.requests,
      errors: f.errors,
      ...(f.cpu
        ? { 'Roster CPU per req (busy)': formatCpu(f.cpu.roster), 'db CPU per req (busy)': formatCpu(f.cpu.database) }
        : {}),
      ...(f.note ? { note: f.note } : {}),
    })),
  );
  console.log('Database commands per request');
  console.table(trips.map((t) => ({ request: t.request, commands: t.commands, detail: t.detail })));
  console.log('Query plans on the large database (what the database does for the queries Roster sends)');
  console.table(plans);
  console.log(`Query plans on the many-directories database (directory ${crowdSlug}, one of ${DIRECTORIES})`);
  console.table(directoryPlans);
  console.log('Targets');
  console.table(
    targets.map((t) => ({
      target: t.name,
      value: Number(t.value.toFixed(2)),
      goal: t.goal,
      result:
        t.goal === 'diagnostic'
          ? 'INFO'
          : t.detail.includes('inconclusive')
            ? 'INCONCLUSIVE'
            : t.pass
              ? 'PASS'
              : 'MISS',
      detail: t.detail,
    })),
  );
}

let stopping = false;
async function finish(code: number) {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping everything the benchmark started`);
    void finish(130);
  });
}
const watchdog = setTimeout(() => {
  console.error(`benchmark exceeded ${HARD_LIMIT_MS / 60_000} minutes; stopping`);
  void finish(1);
}, HARD_LIMIT_MS);
watchdog.unref();

main().then(
  () => finish(0),
  (err: unknown) => {
    console.error(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
    void finish(1);
  },
);
