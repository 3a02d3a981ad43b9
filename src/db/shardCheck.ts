/**
 * The start-up check of a sharded database (README "Scaling out"): every unique index Roster relies
 * on must be one the engine enforces. A sharded cluster checks uniqueness on each shard alone, so a
 * unique index is enforced only where equal keys always land on one shard: when the index starts
 * with the shard key's fields (MongoDB and DocumentDB alike), or is `_id` (Roster's ids never repeat
 * across directories), or is a one-field directory key (`dkey.<name>`, whose values hold the
 * directory) on a collection sharded by directory alone. Roster refuses to start otherwise: a
 * userName that is unique on one node and not on the cluster would silently duplicate people.
 */
import type { Db, Document } from 'mongodb';
import { DIRECTORY_FIELD, DIRECTORY_KEY_FIELD } from './directoryScope.js';

export interface IndexOnRecord {
  name: string;
  key: Document;
  unique?: boolean;
}

/** Why the engine would not enforce this unique index under this shard key; undefined when it would. */
export function unenforcedReason(shardKey: Document, index: IndexOnRecord): string | undefined {
  if (!index.unique) return undefined;
  const shardFields = Object.keys(shardKey);
  const indexFields = Object.keys(index.key);
  if (indexFields.length === 1 && indexFields[0] === '_id') return undefined;
  if (shardFields.every((field, i) => indexFields[i] === field)) return undefined;
  const directoryKey = indexFields.length === 1 && indexFields[0].startsWith(`${DIRECTORY_KEY_FIELD}.`);
  if (directoryKey && shardFields.length === 1 && shardFields[0] === DIRECTORY_FIELD) return undefined;
  return (
    `unique index ${index.name} (${indexFields.join(', ')}) does not start with the shard key ` +
    `(${shardFields.join(', ')}): each shard would check it alone, so duplicates on two shards would go in`
  );
}

/**
 * The shard key of each sharded collection of this database, as the engine reports it: MongoDB's
 * config.collections (through mongos). An unsharded deployment reports none.
 */
export async function shardKeysOf(db: Db): Promise<Map<string, Document>> {
  const keys = new Map<string, Document>();
  const prefix = `${db.databaseName}.`;
  const sharded = await db.client
    .db('config')
    .collection<{ _id: string; key?: Document; dropped?: boolean }>('collections')
    .find({}, { projection: { key: 1, dropped: 1 } })
    .toArray()
    .catch(() => []);
  for (const entry of sharded) {
    if (entry.dropped || !entry.key || !String(entry._id).startsWith(prefix)) continue;
    keys.set(String(entry._id).slice(prefix.length), entry.key);
  }
  return keys;
}

export class UnenforcedUniqueIndexes extends Error {
  override name = 'UnenforcedUniqueIndexes';
}

/** Refuses (throws) when a sharded collection has a unique index the engine would not enforce. */
export async function checkShardedUniqueIndexes(db: Db, shardKeys: Map<string, Document>): Promise<void> {
  const problems: string[] = [];
  for (const [collection, shardKey] of shardKeys) {
    const indexes = (await db.collection(collection).listIndexes().toArray()) as IndexOnRecord[];
    for (const index of indexes) {
      const reason = unenforcedReason(shardKey, index);
      if (reason) problems.push(`${collection}: ${reason}`);
    }
  }
  if (problems.length) {
    throw new UnenforcedUniqueIndexes(
      `refusing to start: ${problems.join('; ')}. Shard directory data on {directory: "hashed"} or ` +
        '{directory: 1} (README "Scaling out").',
    );
  }
}
