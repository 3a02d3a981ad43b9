import type { Db } from 'mongodb';
import { countMatching, findPage, insertUnordered, type IndexSpec } from '../db/mongo.js';

export const SET_OUTBOX_COLLECTION = 'security_event_outbox';
const COUNTERS_COLLECTION = 'security_event_counters';

export type SetStatus = 'pending' | 'delivered' | 'failed';

/**
 * Why a SET failed. `err` and `description` are Roster's words: `err` is an RFC 8935 error code the
 * receiver answered with (SET_ERROR_CODES), or Roster's own `receiver_refused` (the receiver refused it
 * with anything else), `delivery_failed` (given up) or `destination_refused` (never sent: the
 * destination is not allowed, README "Outbound requests"). What the receiver itself said is kept
 * apart, bounded, as data: `receiverSaid`.
 */
export interface SetError {
  err: string;
  description?: string;
  /** The receiver's own `err` and `description` (RFC 8935 section 2.3 / RFC 8936 setErrs), as it sent them. */
  receiverSaid?: { err?: string; description?: string };
}

/** The error codes RFC 8935 section 7.1 registers for SET delivery (RFC 8936 uses the same). */
export const SET_ERROR_CODES: readonly string[] = [
  'invalid_request',
  'invalid_key',
  'invalid_issuer',
  'invalid_audience',
  'authentication_failed',
  'access_denied',
];

/** A receiver's text as stored: at most `max` characters, control characters made spaces. */
const bounded = (text: string, max: number) =>
  [...text.slice(0, max)].map((c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('');

/**
 * A receiver's error report (a push answer's body, a poll's setErrs entry) as Roster records it:
 * its `err` becomes Roster's `err` only when it is an RFC 8935 code; its words go under `receiverSaid`.
 * `how` is Roster's description of what happened.
 */
export function receiverError(report: unknown, how: string): SetError {
  const { err, description } = (typeof report === 'object' && report !== null ? report : {}) as Record<string, unknown>;
  const said = {
    ...(typeof err === 'string' ? { err: bounded(err, 100) } : {}),
    ...(typeof description === 'string' ? { description: bounded(description, 1000) } : {}),
  };
  const known = typeof err === 'string' && SET_ERROR_CODES.includes(err);
  return {
    err: known ? err : 'receiver_refused',
    description: known ? how : `${how}, without an RFC 8935 error code`,
    ...(Object.keys(said).length ? { receiverSaid: said } : {}),
  };
}

/**
 * One SET for one receiver. `_id` is `<event id>:<receiver id>`, so writing the SETs of an event
 * twice (a repair after a crash) never makes a second one. Delivered and failed SETs keep their
 * document (without the token) for `securityEvents.retainDays`, which is what keeps that true.
 */
export interface OutboxSet {
  _id: string;
  receiverId: string;
  eventId: string;
  /** Order of delivery within the receiver (one counter for all). */
  seq: number;
  jti: string;
  /** The signed token; null once delivered or failed. */
  set: string | null;
  status: SetStatus;
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  doneAt?: Date;
  error?: SetError;
  lastError?: string;
}

/** A SET waiting for its first delivery attempt (an event's SET, or an asynchronous response's). */
export function pendingSet(
  fields: Pick<OutboxSet, '_id' | 'receiverId' | 'eventId' | 'seq' | 'jti' | 'createdAt'> & { set: string },
): OutboxSet {
  return { ...fields, status: 'pending', attempts: 0, nextAttemptAt: new Date() };
}

export const SET_OUTBOX_INDEXES: IndexSpec[] = [
  {
    collection: SET_OUTBOX_COLLECTION,
    key: { receiverId: 1, status: 1, seq: 1 },
    options: { name: 'receiverId_status_seq' },
  },
  { collection: SET_OUTBOX_COLLECTION, key: { receiverId: 1, jti: 1 }, options: { name: 'receiverId_jti' } },
  { collection: SET_OUTBOX_COLLECTION, key: { status: 1, doneAt: 1 }, options: { name: 'status_doneAt' } },
];

export interface Counts {
  pending: number;
  delivered: number;
  failed: number;
}

export function createSetOutbox(db: Db) {
  const sets = db.collection<OutboxSet>(SET_OUTBOX_COLLECTION);
  const counters = db.collection<{ _id: string; value: number }>(COUNTERS_COLLECTION);
  const finished = (status: 'delivered' | 'failed', extra: Partial<OutboxSet> = {}) => ({
    $set: { status, set: null, doneAt: new Date(), ...extra },
  });

  return {
    /** Reserves `n` consecutive sequence numbers; returns the first. */
    async reserve(n: number): Promise<number> {
      const doc = await counters.findOneAndUpdate(
        { _id: 'seq' },
        { $inc: { value: n } },
        { upsert: true, returnDocument: 'after' },
      );
      return doc!.value - n + 1;
    },

    /** Stores SETs; those already stored (same event and receiver) are left as they are. */
    async insert(docs: OutboxSet[]): Promise<void> {
      await insertUnordered(sets, docs);
    },

    /** The receiver's oldest undelivered SET. */
    async head(receiverId: string): Promise<OutboxSet | undefined> {
      const [doc] = await findPage(sets, { receiverId, status: 'pending' }, 1, { sort: { seq: 1 } });
      return doc;
    },

    /** The receiver's undelivered SETs in order, up to `limit`. */
    pending: (receiverId: string, limit: number) =>
      findPage(sets, { receiverId, status: 'pending' }, limit, { sort: { seq: 1 } }),

    async delivered(id: string): Promise<void> {
      await sets.updateOne({ _id: id, status: 'pending' }, finished('delivered'));
    },

    async failed(id: string, error: SetError): Promise<void> {
      await sets.updateOne({ _id: id, status: 'pending' }, finished('failed', { error }));
    },

    async retryLater(id: string, attempts: number, nextAttemptAt: Date, lastError: string): Promise<void> {
      await sets.updateOne({ _id: id, status: 'pending' }, { $set: { attempts, nextAttemptAt, lastError } });
    },

    /** Poll acknowledgements: the receiver's SETs with these jtis are delivered. */
    async acknowledge(receiverId: string, jtis: string[]): Promise<void> {
      if (jtis.length)
        await sets.updateMany({ receiverId, jti: { $in: jtis }, status: 'pending' }, finished('delivered'));
    },

    async reportErrors(receiverId: string, errors: Record<string, SetError>): Promise<void> {
      for (const [jti, error] of Object.entries(errors)) {
        await sets.updateMany({ receiverId, jti, status: 'pending' }, finished('failed', { error }));
      }
    },

    async counts(receiverId: string): Promise<Counts> {
      const [pending, delivered, failed] = await Promise.all(
        (['pending', 'delivered', 'failed'] as const).map((status) => countMatching(sets, { receiverId, status })),
      );
      return { pending, delivered, failed };
    },

    recentFailures: (receiverId: string, limit: number) =>
      findPage(sets, { receiverId, status: 'failed' }, limit, { sort: { seq: -1 } }),

    /** Undelivered SETs over all receivers (the /metrics backlog gauge). */
    backlog: () => countMatching(sets, { status: 'pending' }),

    async removeReceiver(receiverId: string): Promise<void> {
      await sets.deleteMany({ receiverId });
    },

    /** Forgets delivered and failed SETs finished before `before`. */
    async forget(before: Date): Promise<number> {
      const result = await sets.deleteMany({ status: { $in: ['delivered', 'failed'] }, doneAt: { $lt: before } });
      return result.deletedCount;
    },
  };
}

export type SetOutbox = ReturnType<typeof createSetOutbox>;
