/**
 * The one MongoDB connection and what every repository relies on. Roster runs on MongoDB >= 6 and on
 * FerretDB v2 (PostgreSQL with DocumentDB) with the same queries: single-document atomic updates,
 * conditional writes on a version field, unique indexes, `$elemMatch`. What FerretDB v2 lacks that
 * MongoDB has, and how Roster lives with it:
 * - no multi-document transactions: email claims are written before the user and released after
 *   it, stale claims are taken over (users/emailClaimRepository.ts);
 * - `$elemMatch` uses an index only with DocumentDB's `documentdb.useNewElemMatchIndexPushdown = on`
 *   (set by the embedded engine; README says so for other PostgreSQL servers); Roster's value-path
 *   queries put an indexed shadow-field condition beside it anyway;
 * - planner statistics come from PostgreSQL's autovacuum: right after a bulk load a lookup can be
 *   slow until `ANALYZE` ran (the embedded engine runs autovacuum often; the benchmark analyzes);
 * - a sort is not read in index order (DocumentDB 0.106 sorts the matching range), so a deep page
 *   or a whole-collection count costs in proportion to what it covers;
 * - `explain` of `distinct` is not supported (test/db/engine.test.ts explains the equivalent find);
 * - a find that may continue past its first batch (a sort, a limit over 1) or an aggregate keeps its
 *   PostgreSQL connection for the cursor, and FerretDB opens a new one for the pool: about 10 ms a
 *   query where the same query in one batch takes 1 ms. Pages of a list are read in one batch
 *   (findPage) and totals by the `count` command (countMatching).
 */
import {
  BSON,
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type Collection,
  type CreateIndexesOptions,
  type Db,
  type Document,
  type Filter,
  type FindOptions,
  type IndexSpecification,
  type WithId,
} from 'mongodb';
import { DIRECTORY_COLLECTIONS, DIRECTORY_FIELD, DIRECTORY_KEY_FIELD, scopedQuery } from './directoryScope.js';

export interface IndexSpec {
  collection: string;
  key: IndexSpecification;
  options?: CreateIndexesOptions;
}

export interface ConnectOptions {
  /**
   * Also bounds each health check (hello) of the server: a database that stops answering is marked
   * unavailable within a heartbeat (5 s) plus this, its connections are closed, and the requests
   * waiting on them fail (503) instead of hanging. A long query on a healthy server is not cut off
   * (the health checks use a connection of their own).
   */
  connectTimeoutMs?: number;
  serverSelectionTimeoutMs?: number;
  /** Told when the health-check watchdog reconnects the client. */
  warn?: (message: string) => void;
}

const HEARTBEAT_MS = 5000;

export async function connectDatabase(
  uri: string,
  dbName?: string,
  options: ConnectOptions = {},
): Promise<{ client: MongoClient; db: Db }> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5000,
    connectTimeoutMS: connectTimeoutMs,
    heartbeatFrequencyMS: HEARTBEAT_MS,
    appName: 'roster',
  });
  await client.connect();
  reconnectOnStuckHealthCheck(client, connectTimeoutMs + 2 * HEARTBEAT_MS, options.warn ?? (() => undefined));
  return { client, db: client.db(dbName) };
}

/**
 * Works around a hang in the mongodb driver (7.9): when a server closes a connection while the
 * driver's health check is writing its handshake, the check can wait forever for the socket to
 * drain. The server then stays "unknown" and every operation fails, even after the database is
 * back, until the process restarts (seen when a database restarts under load). When a check outlives
 * `limitMs`, this closes the client and connects it again, retrying until it succeeds; the Db and
 * Collection objects taken from it keep working. It stops when the client is closed by its owner.
 */
export function reconnectOnStuckHealthCheck(
  client: MongoClient,
  limitMs: number,
  warn: (message: string) => void,
): void {
  const checks = new Map<string, number>();
  let reconnecting = false;
  let connected = true;
  client.on('serverHeartbeatStarted', (e) => checks.set(e.connectionId, Date.now()));
  client.on('serverHeartbeatSucceeded', (e) => checks.delete(e.connectionId));
  client.on('serverHeartbeatFailed', (e) => checks.delete(e.connectionId));
  client.on('topologyClosed', () => {
    if (!reconnecting) clearInterval(timer); // closed by its owner (shutdown)
  });
  const timer = setInterval(() => {
    const stuck = [...checks.values()].some((since) => Date.now() - since > limitMs);
    if (reconnecting || (connected && !stuck)) return;
    reconnecting = true;
    checks.clear();
    if (connected) warn(`database health check stuck for over ${limitMs} ms; reconnecting`);
    void (async () => {
      try {
        if (connected) await client.close();
        connected = false;
        await client.connect();
        connected = true;
      } catch {
        // still unreachable: the next tick tries again
      } finally {
        reconnecting = false;
      }
    })();
  }, 1000);
  timer.unref();
}

/** True when the database is FerretDB (it says so in buildInfo). */
async function isFerretDb(db: Db): Promise<boolean> {
  const info = await db.command({ buildInfo: 1 });
  return 'ferretdb' in info;
}

/**
 * Creates every index idempotently; run at every start-up. An index on directory data starts with
 * the directory (src/db/directoryScope.ts), whatever its spec lists after it: `directory_<name>`;
 * on FerretDB a unique index of a directory key (`dkey.<name>`, which holds the directory) stays
 * one field (DIRECTORY_KEYS says why).
 */
export async function ensureIndexes(db: Db, specs: IndexSpec[]): Promise<void> {
  const ferretDb = await isFerretDb(db);
  for (const spec of specs) {
    const scoped = DIRECTORY_COLLECTIONS.has(spec.collection);
    const fields = Object.keys(spec.key as Record<string, 1 | -1>);
    const oneFieldKey = ferretDb && fields.length === 1 && fields[0].startsWith(`${DIRECTORY_KEY_FIELD}.`);
    const key = scoped && !oneFieldKey ? { [DIRECTORY_FIELD]: 1, ...(spec.key as Record<string, 1 | -1>) } : spec.key;
    const options = scoped ? { ...spec.options, name: `directory_${spec.options?.name ?? 'index'}` } : spec.options;
    await retryDeadlocks(() => db.collection(spec.collection).createIndex(key, options ?? {}));
  }
}

/**
 * Runs a schema change (an index made or dropped) again when PostgreSQL broke a deadlock by
 * cancelling it: instances starting at once on a database they migrate make and drop indexes at
 * the same time, and FerretDB answers one of them "deadlock detected". The change is idempotent,
 * so doing it again is safe; at most 5 attempts, a short random pause between them.
 */
export async function retryDeadlocks<T>(change: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await change();
    } catch (err) {
      const deadlock = err instanceof MongoServerError && /deadlock detected/i.test(err.message);
      if (!deadlock || attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt));
    }
  }
}

/** A unique-index violation (11000 on MongoDB and FerretDB v2, for inserts and updates alike). */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

/** insertMany(ordered: false): the indexes of the documents refused as duplicates; other errors throw. */
export async function insertUnordered<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<number[]> {
  if (!docs.length) return [];
  try {
    await collection.insertMany(docs as never, { ordered: false });
    return [];
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    if (errors.some((e) => e.code !== 11000)) throw err;
    return errors.map((e) => e.index);
  }
}

/** A reply batch stops at 16 MiB; a short batch above half of that may have been cut there. */
const BATCH_CUT_SUSPECT_BYTES = 8 * 1024 * 1024;

/**
 * Up to `limit` documents of a query, read in one batch (see the top of this file for why). A batch
 * also stops at 16 MiB: a short batch that large is read again through an ordinary cursor.
 */
export async function findPage<T extends Document>(
  collection: Collection<T>,
  query: Filter<T>,
  limit: number,
  options: Omit<FindOptions, 'limit' | 'batchSize' | 'singleBatch'> = {},
): Promise<WithId<T>[]> {
  const docs = await collection.find(query, { ...options, limit, batchSize: limit, singleBatch: true }).toArray();
  if (docs.length >= limit) return docs;
  const bytes = docs.reduce((sum, doc) => sum + BSON.calculateObjectSize(doc), 0);
  if (bytes < BATCH_CUT_SUSPECT_BYTES) return docs;
  return collection.find(query, { ...options, limit }).toArray();
}

/** A value of a dotted path; undefined where it crosses an array (MongoDB sorts by an array's least element). */
function scalarAt(doc: Document, field: string): unknown {
  let node: unknown = doc;
  for (const key of field.split('.')) node = Array.isArray(node) ? undefined : (node as Document | undefined)?.[key];
  return Array.isArray(node) ? undefined : node;
}

/** Orders sort keys as MongoDB does (strings by UTF-8 bytes, dates); undefined for other types. */
function compareKeys(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  return undefined;
}

/**
 * The first `limit` documents of a query in ascending (field, _id) order, at the cost of the page
 * wherever it starts. FerretDB/DocumentDB sorts every match before it applies a limit (the first
 * page of a 1M-member group: 1.5 s, of 1M users: 1.2 s), but an unsorted read stops after `limit`
 * matches, and it reads them in the order of what it scans: an _id range by the _id index, a table
 * filled in creation order. When that read is short it holds every match (sorted here: no second
 * query for an existence check); otherwise its largest key bounds a window holding at least `limit`
 * matches, and the sorted read of that window is the page, whatever order the probe came in. When
 * the scan's order is far from the list's, the window is large and the page costs what a plain
 * sorted read does.
 */
export async function findPageInOrder<T extends Document>(
  collection: Collection<T>,
  query: Filter<T>,
  limit: number,
  field = '_id',
): Promise<WithId<T>[]> {
  const sort = field === '_id' ? { _id: 1 as const } : { [field]: 1 as const, _id: 1 as const };
  const probe = await findPage(collection, query, limit);
  const compare = (a: WithId<T>, b: WithId<T>) => {
    const byKey = compareKeys(scalarAt(a, field), scalarAt(b, field));
    return byKey === 0 ? compareKeys(a._id, b._id) : byKey;
  };
  const comparable = probe.every(
    (doc) =>
      compareKeys(scalarAt(doc, field), scalarAt(probe[0], field)) !== undefined &&
      compareKeys(doc._id, probe[0]._id) !== undefined,
  );
  if (!comparable) return findPage(collection, query, limit, { sort });
  if (probe.length < limit) return probe.sort((a, b) => compare(a, b)!);
  const last = probe.reduce((max, doc) => (compare(doc, max)! > 0 ? doc : max));
  const [key, id] = [scalarAt(last, field), last._id];
  const window =
    field === '_id' ? { _id: { $lte: id } } : { $or: [{ [field]: { $lt: key } }, { [field]: key, _id: { $lte: id } }] };
  return findPage(collection, { $and: [query, window] } as Filter<T>, limit, { sort });
}

/**
 * How many documents match, exactly: the `count` command for a query. Without one `count` would
 * read MongoDB's collection metadata (inexact after a crash), and a query that matches everything
 * costs more than the whole count, so the whole collection is counted by countDocuments.
 */
export async function countMatching<T extends Document>(collection: Collection<T>, query: Filter<T>): Promise<number> {
  // A raw command passes the collection's directory scope by: it is added here (src/db/directoryScope.ts).
  const scoped = scopedQuery(collection, query);
  if (!Object.keys(scoped).length) return collection.countDocuments({});
  const reply = await collection.db.command({ count: collection.collectionName, query: scoped });
  return Number(reply.n);
}
