/**
 * Start-up migrations: collections renamed and indexes retired between versions. Each is
 * idempotent and safe when several instances start at once; they run before the indexes are made.
 */
import { MongoServerError, type Db, type Document } from 'mongodb';
import { SCIM_PRINCIPAL_ID } from '../principals.js';
import { DEFAULT_DIRECTORY } from '../directory.js';
import {
  DIRECTORY_COLLECTIONS,
  DIRECTORY_FIELD,
  DIRECTORY_KEY_FIELD,
  DIRECTORY_KEYS,
  directoryKeysOf,
} from './directoryScope.js';
import { insertUnordered, isDuplicateKeyError, retryDeadlocks } from './mongo.js';

export const COLLECTION_RENAMES: [from: string, to: string][] = [
  // The outbox's per-email send claims were `emailClaims`, a name that read like `email_claims`
  // (the users' address uniqueness claims), a different thing.
  ['emailClaims', 'outbox_claims'],
];

/**
 * Indexes older versions made and this one no longer uses: every write still paid for them.
 * Their names are never used again, so dropping one by name cannot drop a current index.
 */
export const RETIRED_INDEXES: { collection: string; name: string }[] = [
  // The users' `state, passwordStatus` index serves state filters by its first key.
  { collection: 'users', name: 'state' },
];

/** Server codes for a drop that has nothing to do: no such collection, no such index. */
const NOTHING_TO_DROP = new Set([26, 27]);

export async function dropRetiredIndexes(db: Db, retired = RETIRED_INDEXES): Promise<void> {
  for (const { collection, name } of retired) {
    await db
      .collection(collection)
      .dropIndex(name)
      .catch((err: unknown) => {
        if (!(err instanceof MongoServerError && NOTHING_TO_DROP.has(Number(err.code)))) throw err;
      });
  }
}

async function exists(db: Db, name: string): Promise<boolean> {
  return (await db.listCollections({ name }, { nameOnly: true }).toArray()).length > 0;
}

/** Renames `from` to `to`; when both exist (a newer instance already wrote `to`), moves what `to` lacks and drops `from`. */
export async function renameCollection(db: Db, from: string, to: string): Promise<void> {
  if (!(await exists(db, from))) return;
  if (!(await exists(db, to))) {
    try {
      await db.renameCollection(from, to);
      return;
    } catch (err) {
      // Another instance renamed it meanwhile, or created `to` meanwhile (then: move below).
      if (!(await exists(db, from))) return;
      if (!(await exists(db, to))) throw err;
    }
  }
  const source = db.collection<{ _id: unknown }>(from);
  const target = db.collection<{ _id: unknown }>(to);
  for await (const doc of source.find()) {
    await target.insertOne(doc).catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err; // `to` already has it: the newer document wins
    });
  }
  await source.drop().catch(async (err: unknown) => {
    if (await exists(db, from)) throw err; // dropped by another instance meanwhile: done
  });
}

export async function renameCollections(db: Db, renames = COLLECTION_RENAMES): Promise<void> {
  for (const [from, to] of renames) await renameCollection(db, from, to);
}

/**
 * Security-event receivers bound to a SCIM client by its name (before principal ids): the name
 * becomes the id of the static SCIM token of that name, else of the one OAuth client of that name.
 * A name matching neither, or several clients, is left as it was: it binds nothing, and the admin
 * API shows it to be fixed. Idempotent: a bound id is never a bare name.
 */
export async function bindReceiversByPrincipalId(db: Db, scimTokenNames: readonly string[]): Promise<number> {
  const receivers = db.collection<{ _id: string; client?: string }>('event_receivers');
  const clients = db.collection<{ _id: string; name: string; revokedAt?: Date }>('oauth_clients');
  let bound = 0;
  for await (const receiver of receivers.find({ client: { $exists: true, $not: SCIM_PRINCIPAL_ID } })) {
    const name = receiver.client!;
    let id = scimTokenNames.includes(name) ? `token:${name}` : undefined;
    if (!id) {
      const named = await clients.find({ name, revokedAt: { $exists: false } }, { limit: 2 }).toArray();
      if (named.length === 1) id = `oauth:${named[0]._id}`;
    }
    if (
      id &&
      (await receivers.updateOne({ _id: receiver._id, client: name }, { $set: { client: id } })).modifiedCount
    ) {
      bound++;
    }
  }
  return bound;
}

/**
 * Directories (README "Directories"): a database written before them becomes the default
 * directory's. Every document of directory data without a directory gets the default one; email
 * claims, once keyed by the address alone, are keyed by directory and address; pending jobs of the
 * kinds that work on one directory's data name it. Each step touches only what is not migrated
 * yet, so it is idempotent, resumable after an interruption, and safe with instances starting at
 * once (the claims are copied before the old ones are removed; a copy made twice is one).
 */
export async function moveIntoDefaultDirectory(
  db: Db,
  jobs: { collection: string; names: readonly string[] },
): Promise<void> {
  const claims = db.collection<{ _id: string; email?: string; userId: string; at?: Date; directory?: string }>(
    'email_claims',
  );
  for (;;) {
    const old = await claims.find({ email: { $exists: false } }, { limit: 1000 }).toArray();
    if (!old.length) break;
    const moved = old.map((c) => ({
      ...c,
      _id: `${DEFAULT_DIRECTORY}:${c._id}`,
      email: c._id,
      directory: DEFAULT_DIRECTORY,
    }));
    await insertUnordered(claims, moved);
    await claims.deleteMany({ _id: { $in: old.map((c) => c._id) }, email: { $exists: false } });
  }
  for (const name of DIRECTORY_COLLECTIONS) {
    await db
      .collection(name)
      .updateMany({ [DIRECTORY_FIELD]: { $exists: false } }, { $set: { [DIRECTORY_FIELD]: DEFAULT_DIRECTORY } });
  }
  // The directory keys of users and groups (DIRECTORY_KEYS), before their unique indexes are made.
  for (const name of Object.keys(DIRECTORY_KEYS)) {
    const collection = db.collection<Document>(name);
    for (;;) {
      const batch = await collection.find({ [DIRECTORY_KEY_FIELD]: { $exists: false } }, { limit: 1000 }).toArray();
      if (!batch.length) break;
      await collection.bulkWrite(
        batch.map((doc) => ({
          updateOne: {
            filter: { _id: doc._id, [DIRECTORY_KEY_FIELD]: { $exists: false } },
            update: { $set: { [DIRECTORY_KEY_FIELD]: directoryKeysOf(name, doc[DIRECTORY_FIELD] as string, doc) } },
          },
        })),
        { ordered: false },
      );
    }
  }
  await db
    .collection(jobs.collection)
    .updateMany(
      { name: { $in: [...jobs.names] }, [`data.${DIRECTORY_FIELD}`]: { $exists: false } },
      { $set: { [`data.${DIRECTORY_FIELD}`]: DEFAULT_DIRECTORY } },
    );
}

/**
 * Indexes of directory data that do not start with the directory (those of older versions, before
 * directories): dropped once the directory-first ones exist. Unique ones among them would refuse
 * the same userName in two directories.
 */
export async function dropIndexesWithoutDirectory(db: Db): Promise<void> {
  for (const name of DIRECTORY_COLLECTIONS) {
    if (!(await exists(db, name))) continue;
    for (const index of await db.collection(name).listIndexes().toArray()) {
      const first = Object.keys(index.key as object)[0];
      if (index.name === '_id_' || first === DIRECTORY_FIELD || first.startsWith(`${DIRECTORY_KEY_FIELD}.`)) continue;
      await retryDeadlocks(() => db.collection(name).dropIndex(index.name as string)).catch((err: unknown) => {
        if (!(err instanceof MongoServerError && NOTHING_TO_DROP.has(Number(err.code)))) throw err;
      });
    }
  }
}
