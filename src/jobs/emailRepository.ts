/**
 * The email outbox's storage (collection `emails`, README "Emails"): each operation one
 * conditional write, so an attempt that lost its lease changes nothing. Directory data: every
 * query is the current directory's (src/db/directoryScope.ts).
 */
import type { Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';
import { OUTBOX_CLAIM_INDEXES } from './outboxClaims.js';
import { EMAILS_COLLECTION, type OutboxEmail } from './types.js';

export const EMAIL_INDEXES: IndexSpec[] = [
  { collection: EMAILS_COLLECTION, key: { status: 1, nextAttemptAt: 1 }, options: { name: 'status_nextAttemptAt' } },
  { collection: EMAILS_COLLECTION, key: { userId: 1, createdAt: -1 }, options: { name: 'userId_createdAt' } },
  { collection: EMAILS_COLLECTION, key: { eventRecorded: 1, status: 1 }, options: { name: 'eventRecorded_status' } },
  ...OUTBOX_CLAIM_INDEXES,
];

/** A sent or failed email keeps no body: bodies hold single-use links. */
const CLEARED = { subject: null, text: null, html: null, leaseId: null, leaseUntil: null };

/** How many emails one repair pass looks at. */
const SWEEP_BATCH = 500;

export function createEmailRepository(db: Db) {
  const emails = db.collection<OutboxEmail>(EMAILS_COLLECTION);
  return {
    insert: async (email: OutboxEmail) => void (await emails.insertOne(email)),
    get: async (id: string) => (await emails.findOne({ _id: id })) ?? undefined,

    async markSending(id: string, claim: { attempts: number; leaseId: string; leaseUntil: Date }) {
      await emails.updateOne({ _id: id }, { $set: { status: 'sending', ...claim, updatedAt: new Date() } });
    },
    /** Sent: the body cleared, the event still to record. */
    async markSent(id: string, sent: { sentAt: Date; messageId: string }) {
      await emails.updateOne(
        { _id: id },
        { $set: { status: 'sent', ...sent, updatedAt: new Date(), eventRecorded: false, ...CLEARED } },
      );
    },
    /** Failed for good, if the lease is still this attempt's. */
    async markFailed(id: string, leaseId: string | null, failed: { failedAt: Date; lastError: string }) {
      await emails.updateOne(
        { _id: id, leaseId },
        { $set: { status: 'failed', ...failed, updatedAt: new Date(), eventRecorded: false, ...CLEARED } },
      );
    },
    /** Pending again for a later attempt, if the lease is still this attempt's. */
    async markRetry(id: string, leaseId: string | null, retry: { nextAttemptAt: Date; lastError: string }) {
      await emails.updateOne(
        { _id: id, leaseId },
        { $set: { status: 'pending', ...retry, leaseId: null, leaseUntil: null, updatedAt: new Date() } },
      );
    },
    markRecorded: async (id: string) => void (await emails.updateOne({ _id: id }, { $set: { eventRecorded: true } })),

    /** Pending emails overdue since `cutoff`, and attempts whose lease ended before `now` (the repair). */
    stuck: (cutoff: Date, now: Date) =>
      emails
        .find(
          {
            $or: [
              { status: 'pending', nextAttemptAt: { $lte: cutoff } },
              { status: 'sending', leaseUntil: { $lt: now } },
            ],
          },
          { projection: { _id: 1, status: 1, nextAttemptAt: 1, leaseUntil: 1 } },
        )
        .limit(SWEEP_BATCH)
        .toArray(),
    /** Moves a pending email's next attempt to `to`, unless another repair did first; true when this one did. */
    async postpone(email: Pick<OutboxEmail, '_id' | 'nextAttemptAt'>, to: Date): Promise<boolean> {
      const res = await emails.updateOne(
        { _id: email._id, status: 'pending', nextAttemptAt: email.nextAttemptAt },
        { $set: { nextAttemptAt: to } },
      );
      return res.modifiedCount === 1;
    },
    /** Sent or failed emails whose event is not recorded, last written before `cutoff`. */
    unrecorded: (cutoff: Date) =>
      emails
        .find({ eventRecorded: false, status: { $in: ['sent', 'failed'] }, updatedAt: { $lte: cutoff } })
        .limit(SWEEP_BATCH)
        .toArray(),
  };
}

export type EmailRepository = ReturnType<typeof createEmailRepository>;
