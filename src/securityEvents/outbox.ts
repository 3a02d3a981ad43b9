import type { Db } from 'mongodb';
import { countMatching, findPage, insertUnordered, type IndexSpec } from '../db/mongo.js';

export const SET_OUTBOX_COLLECTION = 'security_event_outbox';
const COUNTERS_COLLECTION = 'security_event_counters';

export type SetStatus = 'pending' | 'delivered' | 'failed';

/** A receiver's error report (RFC 8935 section 2.3 / RFC 8936 setErrs). */
export interface SetError {
  err: string;
  description?: string;
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
