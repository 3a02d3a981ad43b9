import type { Db } from 'mongodb';
import {
  GENERATE_KEY_HINT,
  KEY_ENCRYPTION_ENV,
  KeyEncryptionError,
  PREVIOUS_KEY_ENCRYPTION_ENV,
  UnknownKeyEncryptionKeyError,
  type SecretBox,
} from './keyEncryption.js';

/** A field of a collection that holds a secret sealed with the key-encryption key. */
export interface SealedField {
  collection: string;
  /** Where the sealed value is kept. */
  field: string;
  /** Where earlier versions kept the value in clear; it is sealed into `field` and removed. */
  legacyField: string;
  /** The plaintext a legacy clear value seals to. */
  encodeLegacy(value: unknown): string;
  /** What a sealed value of this record is bound to (checked when opened). */
  purpose(id: string): string;
}

interface Problem {
  collection: string;
  id: string;
  error: Error;
}

/**
 * Start-up migration for secrets at rest (like those of src/db/migrations.ts: idempotent, safe when
 * several instances start at once). Every stored secret is opened, which proves the configured
 * key-encryption keys can read it, and
 *   - one stored in clear by an earlier version is sealed with the current key (its clear field removed),
 *   - one sealed with a previous key is sealed again with the current key,
 * each by a write conditioned on the value read, so a value changed meanwhile is left to its writer.
 * Once this has run, values sealed with an older key are gone and the operator may drop that key.
 *
 * A value that cannot be opened (sealed with a key that is not configured, altered, or moved to
 * another record) stops the start with a KeyEncryptionError naming the key id and what to do:
 * Roster never replaces secrets it cannot read with new ones.
 */
export async function resealStoredSecrets(
  db: Db,
  box: SecretBox,
  fields: readonly SealedField[],
): Promise<{ sealed: number; resealed: number }> {
  let sealed = 0;
  let resealed = 0;
  const problems: Problem[] = [];
  for (const spec of fields) {
    const collection = db.collection<{ _id: string } & Record<string, unknown>>(spec.collection);
    const docs = collection.find({}, { projection: { _id: 1, [spec.field]: 1, [spec.legacyField]: 1 } });
    for await (const doc of docs) {
      const id = String(doc._id);
      const purpose = spec.purpose(id);
      const legacy = doc[spec.legacyField];
      const value = doc[spec.field];
      try {
        // A clear value wins over a sealed one: only an earlier version writes the clear field.
        if (legacy !== undefined && legacy !== null) {
          const next = await box.seal(spec.encodeLegacy(legacy), purpose);
          const result = await collection.updateOne(
            { _id: doc._id, [spec.legacyField]: { $exists: true } },
            { $set: { [spec.field]: next }, $unset: { [spec.legacyField]: '' } },
          );
          sealed += result.modifiedCount;
        } else if (typeof value === 'string') {
          const plaintext = await box.open(value, purpose);
          if (box.keyIdOf(value) !== box.currentKeyId) {
            const next = await box.seal(plaintext, purpose);
            const result = await collection.updateOne(
              { _id: doc._id, [spec.field]: value },
              { $set: { [spec.field]: next } },
            );
            resealed += result.modifiedCount;
          }
        }
      } catch (err) {
        if (!(err instanceof KeyEncryptionError)) throw err;
        problems.push({ collection: spec.collection, id, error: err });
      }
    }
  }
  if (problems.length) throw new KeyEncryptionError(describeProblems(problems, box));
  return { sealed, resealed };
}

function describeProblems(problems: Problem[], box: SecretBox): string {
  const unknownKeys = new Map<string, Map<string, number>>();
  const others: Problem[] = [];
  for (const p of problems) {
    if (p.error instanceof UnknownKeyEncryptionKeyError) {
      const counts = unknownKeys.get(p.error.keyId) ?? new Map<string, number>();
      counts.set(p.collection, (counts.get(p.collection) ?? 0) + 1);
      unknownKeys.set(p.error.keyId, counts);
    } else others.push(p);
  }
  const lines = ['stored secrets cannot be opened with the configured key-encryption keys:'];
  for (const [keyId, counts] of unknownKeys) {
    const where = [...counts].map(([collection, n]) => `${n} in ${collection}`).join(', ');
    lines.push(`  ${where} sealed with key id ${keyId}, which is not configured`);
  }
  for (const p of others.slice(0, 10)) lines.push(`  ${p.error.message}`);
  if (others.length > 10) lines.push(`  … and ${others.length - 10} more`);
  lines.push(
    `  configured: ${KEY_ENCRYPTION_ENV} is key id ${box.currentKeyId}; ${PREVIOUS_KEY_ENCRYPTION_ENV}: ${
      box.previousKeyIds.length ? box.previousKeyIds.join(', ') : 'none'
    }`,
  );
  if (unknownKeys.size) {
    lines.push(
      `  Start Roster with the key they were sealed with: as ${KEY_ENCRYPTION_ENV}, or in ${PREVIOUS_KEY_ENCRYPTION_ENV}` +
        ` beside a new ${KEY_ENCRYPTION_ENV} (made with: ${GENERATE_KEY_HINT}) to move them to it.` +
        ' Roster does not replace secrets it cannot open.',
    );
  }
  return lines.join('\n');
}
