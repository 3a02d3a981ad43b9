/**
 * Directory data reached only through its directory (docs/ARCHITECTURE.md "Directories"): the
 * collections listed here are handed to repositories wrapped so that every query carries the
 * current directory (src/directory.ts) as an equality on `directory`, and every document written
 * gets it. A repository therefore cannot read or change another directory's documents, whatever its
 * query says; outside a directory such an operation throws (a bug, never a client's doing), and
 * only a sweep that said so (acrossDirectories) reads across all of them.
 *
 * Every index on these collections starts with `directory` (each repository's *_INDEXES), so a
 * lookup in one directory never scans another's, and a sharded MongoDB can shard them on
 * `{ directory: 1 }` (README "Databases"). The `_id` index is the one exception: ids are random
 * UUIDs, and a lookup by id still carries the directory.
 */
import type { AnyBulkWriteOperation, Collection, Db, Document, Filter } from 'mongodb';
import { currentDirectory, isAcrossDirectories, NoDirectoryError } from '../directory.js';
import { hasEmptyIn } from './emptyIn.js';

/** The collections of directory data. */
export const DIRECTORY_COLLECTIONS = new Set([
  'users',
  'groups',
  'memberships',
  'email_claims',
  'events',
  'link_tokens',
  'schedules',
  'emails',
  'outbox_claims',
  'oauth_clients',
  'event_receivers',
  'security_event_outbox',
  'scim_tokens',
]);

/** The field every document of directory data carries. */
export const DIRECTORY_FIELD = 'directory';

/**
 * Values unique within a directory, per collection: each is also kept as `dkey.<name>`, the
 * directory and the value in one string, under a unique index of that one field. FerretDB
 * (DocumentDB) checks a compound unique index by scanning every entry of its first key, so
 * `{directory, norm.userName}` made each insert cost in proportion to the directory's size (15 ms
 * at 20k users, 9 s for 5,000 inserts); one field is checked by a lookup. On MongoDB the index is
 * `{directory, dkey.<name>}`, which a collection sharded on the directory can enforce
 * (ensureIndexes in src/db/mongo.ts). Written by the scoped collections on every insert and
 * replacement (users and groups are written whole), never by a repository.
 */
export const DIRECTORY_KEYS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  users: { userName: 'norm.userName' },
  groups: { displayName: 'norm.displayName' },
};
export const DIRECTORY_KEY_FIELD = 'dkey';

const valueAt = (doc: Document, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Document | undefined)?.[key], doc);

/** `dkey` of a document of `collection` in `directory`, when the collection has directory keys. */
export function directoryKeysOf(collection: string, directory: string, doc: Document): Document | undefined {
  const keys = DIRECTORY_KEYS[collection];
  if (!keys) return undefined;
  const out: Document = {};
  for (const [name, path] of Object.entries(keys)) {
    const value = valueAt(doc, path);
    if (typeof value === 'string') out[name] = `${directory}:${value}`;
  }
  return out;
}

const SCOPE = Symbol('directory scope');

/** The condition the current work adds to a query: its directory, or nothing in a sweep across all. */
function scopeCondition(collection: string): Document {
  const directory = currentDirectory();
  if (directory !== undefined) return { [DIRECTORY_FIELD]: directory };
  if (isAcrossDirectories()) return {};
  throw new NoDirectoryError(`a query on ${collection}`);
}

/**
 * Development check (ROSTER_ASSERT_QUERIES=1, set by the test suite): a query with an empty `$in`
 * is refused, so a caller that forgot to answer it without a query fails its tests (src/db/emptyIn.ts).
 */
const assertQueries = process.env.ROSTER_ASSERT_QUERIES === '1';

function scoped<T>(collection: string, filter: Filter<T> | undefined): Filter<T> {
  if (assertQueries && hasEmptyIn(filter)) throw new Error(`a query on ${collection} with an empty $in`);
  return { ...(filter ?? {}), ...scopeCondition(collection) } as Filter<T>;
}

/** A document to write, with its directory: the current one; in a sweep, the one it names. */
function stamped<T extends Document>(collection: string, doc: T): T {
  const directory = currentDirectory();
  const named = doc[DIRECTORY_FIELD] as string | undefined;
  if (directory === undefined) {
    if (isAcrossDirectories() && typeof named === 'string') {
      const keys = directoryKeysOf(collection, named, doc);
      return keys ? { ...doc, [DIRECTORY_KEY_FIELD]: keys } : doc;
    }
    throw new NoDirectoryError(`a write to ${collection}`);
  }
  if (named !== undefined && named !== directory) {
    throw new NoDirectoryError(`a write of directory ${named}'s document to ${collection} from another`);
  }
  const keys = directoryKeysOf(collection, directory, doc);
  return { ...doc, [DIRECTORY_FIELD]: directory, ...(keys ? { [DIRECTORY_KEY_FIELD]: keys } : {}) };
}

function scopedBulk<T extends Document>(name: string, op: AnyBulkWriteOperation<T>): AnyBulkWriteOperation<T> {
  if ('insertOne' in op) return { insertOne: { document: stamped(name, op.insertOne.document as T) } } as never;
  const [kind, body] = Object.entries(op)[0] as [string, { filter: Filter<T>; replacement?: T }];
  const next = { ...body, filter: scoped(name, body.filter) };
  if (body.replacement) next.replacement = stamped(name, body.replacement);
  return { [kind]: next } as never;
}

const FILTER_FIRST = [
  'find',
  'findOne',
  'countDocuments',
  'deleteOne',
  'deleteMany',
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'findOneAndDelete',
];
const REFUSED = ['estimatedDocumentCount', 'watch', 'drop', 'rename', 'mapReduce'];
const WRAPPED = new Set([
  ...FILTER_FIRST,
  ...REFUSED,
  'distinct',
  'replaceOne',
  'findOneAndReplace',
  'insertOne',
  'insertMany',
  'bulkWrite',
  'aggregate',
]);

/** The collection wrapped as described at the top of this file. */
export function scopeCollection<T extends Document>(collection: Collection<T>): Collection<T> {
  const name = collection.collectionName;
  const wrap = (method: string): ((...args: unknown[]) => unknown) | undefined => {
    if (!WRAPPED.has(method)) return undefined;
    const call = (...args: unknown[]) =>
      (collection as unknown as Record<string, (...a: unknown[]) => unknown>)[method].apply(collection, args);
    if (FILTER_FIRST.includes(method)) return (filter, ...rest) => call(scoped(name, filter as Filter<T>), ...rest);
    switch (method) {
      case 'distinct':
        return (key, filter, ...rest) => call(key, scoped(name, filter as Filter<T>), ...rest);
      case 'replaceOne':
      case 'findOneAndReplace':
        return (filter, doc, ...rest) => call(scoped(name, filter as Filter<T>), stamped(name, doc as T), ...rest);
      case 'insertOne':
        return (doc, ...rest) => call(stamped(name, doc as T), ...rest);
      case 'insertMany':
        return (docs, ...rest) =>
          call(
            (docs as T[]).map((d) => stamped(name, d)),
            ...rest,
          );
      case 'bulkWrite':
        return (ops, ...rest) =>
          call(
            (ops as AnyBulkWriteOperation<T>[]).map((op) => scopedBulk(name, op)),
            ...rest,
          );
      case 'aggregate':
        return (pipeline, ...rest) =>
          call([{ $match: scopeCondition(name) }, ...((pipeline as Document[]) ?? [])], ...rest);
    }
    if (REFUSED.includes(method)) {
      return () => {
        throw new Error(`${method} is not available on directory data (${name})`);
      };
    }
    return undefined;
  };
  // Made once per method: the scope is read when a method is called, not when it is looked up.
  const wrapped = new Map<string, ((...args: unknown[]) => unknown) | undefined>();
  return new Proxy(collection, {
    get(target, key, receiver) {
      if (key === SCOPE) return (filter: Filter<T>) => scoped(name, filter);
      if (typeof key === 'string') {
        if (!wrapped.has(key)) wrapped.set(key, wrap(key));
        const method = wrapped.get(key);
        if (method) return method;
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/** The query as the collection runs it (with its directory when it is directory data), for raw commands. */
export function scopedQuery<T extends Document>(collection: Collection<T>, query: Filter<T>): Filter<T> {
  const scope = (collection as unknown as Record<symbol, ((f: Filter<T>) => Filter<T>) | undefined>)[SCOPE];
  return scope ? scope(query) : query;
}

/** The database as repositories get it: directory data wrapped (scopeCollection), the rest as is. */
export function scopedDb(db: Db): Db {
  const cache = new Map<string, Collection<Document>>();
  return new Proxy(db, {
    get(target, key, receiver) {
      if (key !== 'collection') return Reflect.get(target, key, receiver);
      return (name: string, options?: object) => {
        if (!DIRECTORY_COLLECTIONS.has(name)) return target.collection(name, options);
        let collection = cache.get(name);
        if (!collection) cache.set(name, (collection = scopeCollection(target.collection(name))));
        return collection;
      };
    },
  });
}

/**
 * Removes every document of `directory` from the directory collections and the jobs that name it
 * (`jobs`: a collection and the field holding the directory). Idempotent: an interrupted purge is
 * run again by the next sweep.
 */
export async function purgeDirectoryData(
  db: Db,
  directory: string,
  jobs: { collection: string; field: string },
): Promise<void> {
  for (const name of DIRECTORY_COLLECTIONS) await db.collection(name).deleteMany({ [DIRECTORY_FIELD]: directory });
  await db.collection(jobs.collection).deleteMany({ [jobs.field]: directory });
}
