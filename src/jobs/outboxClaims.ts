/**
 * The outbox's send claims (collection `outbox_claims`): one document per email being or having
 * been sent, so that only one attempt at a time, on any instance, may send an email.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';

/**
 * One document per email being or having been sent: the atomic claim (see takeClaim). Not the
 * users' `email_claims` (address uniqueness). Was `emailClaims` (src/db/migrations.ts renames it).
 */
export const OUTBOX_CLAIMS_COLLECTION = 'outbox_claims';

/** Claims are read by id only; this index gives a sharded cluster one that starts with the directory (the shard key). */
export const OUTBOX_CLAIM_INDEXES: IndexSpec[] = [
  { collection: OUTBOX_CLAIMS_COLLECTION, key: { claimedAt: 1 }, options: { name: 'claimedAt' } },
];

export interface OutboxClaim {
  /** The email's id. */
  _id: string;
  leaseId: string;
  leaseUntil: Date;
  /** true once the email is sent or failed: the claim is never given up again. */
  done: boolean;
  claimedAt: Date;
}

export function createOutboxClaims(db: Db) {
  const claims: Collection<OutboxClaim> = db.collection<OutboxClaim>(OUTBOX_CLAIMS_COLLECTION);

  /**
   * Takes the email's claim: inserting a document with the email's id into `outbox_claims`, which
   * fails for every caller but one. A claim whose lease expired (its owner died) is deleted and
   * taken once more.
   */
  async function takeClaim(emailId: string, leaseId: string, leaseUntil: Date): Promise<boolean> {
    for (let round = 0; round < 2; round++) {
      try {
        await claims.insertOne({ _id: emailId, leaseId, leaseUntil, done: false, claimedAt: new Date() });
        return true;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      const existing = await claims.findOne({ _id: emailId });
      if (!existing) continue; // released meanwhile: try again
      if (existing.done || existing.leaseUntil.getTime() >= Date.now()) return false;
      await claims.deleteOne({ _id: emailId, leaseId: existing.leaseId, done: false });
    }
    return false;
  }

  const releaseClaim = (emailId: string, leaseId: string) => claims.deleteOne({ _id: emailId, leaseId, done: false });
  const closeClaim = (emailId: string, leaseId: string) =>
    claims.updateOne({ _id: emailId, leaseId }, { $set: { done: true } });

  return { takeClaim, releaseClaim, closeClaim };
}
