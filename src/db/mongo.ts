import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type Collection,
  type CreateIndexesOptions,
  type Db,
  type IndexSpecification,
} from 'mongodb';

export interface IndexSpec {
  collection: string;
  key: IndexSpecification;
  options?: CreateIndexesOptions;
}

export async function connectDatabase(uri: string, dbName?: string): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 5000,
    appName: 'roster',
  });
  await client.connect();
  return { client, db: client.db(dbName) };
}

/** Creates every index idempotently; run at every start-up. */
export async function ensureIndexes(db: Db, specs: IndexSpec[]): Promise<void> {
  for (const spec of specs) {
    await db.collection(spec.collection).createIndex(spec.key, spec.options ?? {});
  }
}

/**
 * A unique-index violation. MongoDB answers 11000; FerretDB 1.24 does too for inserts, but reports a
 * violation on replace/update as InternalError "UNIQUE constraint failed".
 */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && (err.code === 11000 || /UNIQUE constraint failed/i.test(err.message));
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
