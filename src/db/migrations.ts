/**
 * Start-up migrations: collections renamed between versions. Each is idempotent and safe when
 * several instances start at once; they run before the indexes are made.
 */
import type { Db } from 'mongodb';
import { isDuplicateKeyError } from './mongo.js';

export const COLLECTION_RENAMES: [from: string, to: string][] = [
  // The outbox's per-email send claims were `emailClaims`, a name that read like `email_claims`
  // (the users' address uniqueness claims), a different thing.
  ['emailClaims', 'outbox_claims'],
];

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
