import { type Collection, type Db } from 'mongodb';
import { insertUnordered, isDuplicateKeyError } from '../db/mongo.js';
import { requireDirectory } from '../directory.js';
import { DuplicateError } from './errors.js';
import { uniqueEmails, type StoredUser } from './mapping.js';

/**
 * One document per claimed address: the directory-wide uniqueness space of company and alternate
 * emails ("email claims" everywhere; the outbox's send claims are `outbox_claims`).
 */
export const EMAIL_CLAIMS_COLLECTION = 'email_claims';

interface EmailClaim {
  /** `<directory>:<email>` (claimId): an address is unique within a directory, not across them. */
  _id: string;
  email: string;
  userId: string;
  at?: Date;
}

/** The claim of an address in the current directory (src/directory.ts). */
export const claimId = (email: string, directory = requireDirectory('an email claim')) => `${directory}:${email}`;

/**
 * A claim younger than this may belong to a write in flight (its user not inserted yet), so it is
 * never taken over; an older one whose user does not hold the address is stale (a crash, or an
 * outage between the steps) and is.
 */
export const CLAIM_GRACE_MS = 5_000;

export type EmailClaims = ReturnType<typeof createEmailClaims>;

/**
 * The email claims, for the user repository only (which writes them around the user). No
 * multi-document transactions: claims are written before the user and released after it, and a
 * claim whose user no longer holds the address is stale and is taken over, so a crash between the
 * steps never blocks an address for good. `holds`: whether the user exists and has this address as
 * company or alternate email (then its claim is not stale).
 */
export function createEmailClaims(db: Db, holds: (userId: string, email: string) => Promise<boolean>) {
  const emailClaims: Collection<EmailClaim> = db.collection<EmailClaim>(EMAIL_CLAIMS_COLLECTION);

  async function claim(userId: string, email: string): Promise<void> {
    try {
      await emailClaims.insertOne({ _id: claimId(email), email, userId, at: new Date() });
      return;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const holder = await emailClaims.findOne({ _id: claimId(email) });
    if (!holder || holder.userId === userId) return;
    const ownerHolds = await holds(holder.userId, email);
    const young = holder.at !== undefined && Date.now() - holder.at.getTime() < CLAIM_GRACE_MS;
    if (ownerHolds || young) throw new DuplicateError('email', email);
    // Stale claim left by a crash or an interrupted write: take it over if nobody else did meanwhile.
    const taken = await emailClaims.updateOne(
      { _id: claimId(email), userId: holder.userId },
      { $set: { userId, at: new Date() } },
    );
    if (taken.modifiedCount !== 1) throw new DuplicateError('email', email);
  }

  async function release(userId: string, emails: string[]): Promise<void> {
    if (emails.length) await emailClaims.deleteMany({ _id: { $in: emails.map((e) => claimId(e)) }, userId });
  }

  return {
    claim,
    release,

    /** Claims every address for the user, or none (what it had claimed is released on a refusal). */
    async claimAll(userId: string, emails: string[]): Promise<void> {
      const done: string[] = [];
      try {
        for (const email of emails) {
          await claim(userId, email);
          done.push(email);
        }
      } catch (err) {
        await release(userId, done);
        throw err;
      }
    },

    /**
     * Claims the addresses of many users in one write (a refused claim may be stale: the one-by-one
     * path decides and takes stale claims over); a refused user's claims are released. Per user,
     * undefined or the error that refused it.
     */
    async claimMany(batch: StoredUser[]): Promise<(DuplicateError | undefined)[]> {
      const results: (DuplicateError | undefined)[] = batch.map(() => undefined);
      const wanted = batch.map((user) =>
        uniqueEmails(user).map((email) => ({ _id: claimId(email), email, userId: user._id, at: new Date() })),
      );
      const flat = wanted.flatMap((list, i) => list.map((claimDoc) => ({ claimDoc, i })));
      const failedClaims = await insertUnordered(
        emailClaims,
        flat.map((f) => f.claimDoc),
      );
      for (const index of failedClaims) {
        const { claimDoc, i } = flat[index];
        if (results[i]) continue;
        try {
          await claim(claimDoc.userId, claimDoc.email);
        } catch (err) {
          if (!(err instanceof DuplicateError)) throw err;
          results[i] = err;
        }
      }
      for (const [i, refused] of results.entries()) {
        if (refused) await release(batch[i]._id, uniqueEmails(batch[i]));
      }
      return results;
    },

    /** The first of these addresses another existing user holds (read without writing, for dry runs). */
    async heldByOther(userId: string, emails: string[]): Promise<string | undefined> {
      for (const email of emails) {
        const holder = await emailClaims.findOne({ _id: claimId(email) });
        if (holder && holder.userId !== userId && (await holds(holder.userId, email))) return email;
      }
      return undefined;
    },

    /** Releases every address of a deleted user. */
    async releaseAll(userId: string): Promise<void> {
      await emailClaims.deleteMany({ userId });
    },
  };
}
