import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';
import type { ReceiverSettings } from './receiverInput.js';

export const RECEIVERS_COLLECTION = 'event_receivers';

/** A registered receiver (an event stream) as stored. */
export interface Receiver extends ReceiverSettings {
  _id: string;
  /** poll: SHA-256 (hex) of the receiver's bearer token; the token itself is shown once. */
  pollTokenHash?: string;
  createdAt: Date;
  updatedAt: Date;
  /** push: which delivery run holds this receiver's queue, until when (one at a time, any instance). */
  leaseId?: string | null;
  leaseUntil?: Date | null;
}

export const RECEIVER_INDEXES: IndexSpec[] = [
  { collection: RECEIVERS_COLLECTION, key: { enabled: 1 }, options: { name: 'enabled' } },
  { collection: RECEIVERS_COLLECTION, key: { pollTokenHash: 1 }, options: { name: 'pollTokenHash' } },
];

const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface ReceiverRepository {
  /** Stores a new receiver; a poll receiver's token is returned here and never again. */
  insert(settings: ReceiverSettings, at: Date): Promise<{ receiver: Receiver; pollToken?: string }>;
  list(): Promise<Receiver[]>;
  find(id: string): Promise<Receiver | undefined>;
  update(id: string, settings: ReceiverSettings, at: Date): Promise<Receiver | undefined>;
  delete(id: string): Promise<boolean>;
  /** The receivers that get SETs now. */
  enabled(): Promise<Receiver[]>;
  /** The poll receiver a bearer token belongs to. */
  byPollToken(token: string): Promise<Receiver | undefined>;
  /** Takes the receiver's push lease when free or expired (one atomic conditional write). */
  takeLease(id: string, leaseId: string, ms: number): Promise<boolean>;
  /** Extends a lease this run holds; false when it was lost (expired and taken). */
  renewLease(id: string, leaseId: string, ms: number): Promise<boolean>;
  releaseLease(id: string, leaseId: string): Promise<void>;
}

export function createReceiverRepository(db: Db): ReceiverRepository {
  const collection = db.collection<Receiver>(RECEIVERS_COLLECTION);
  return {
    async insert(settings, at) {
      const pollToken = settings.delivery === 'poll' ? randomBytes(32).toString('base64url') : undefined;
      const receiver: Receiver = {
        _id: randomUUID(),
        ...settings,
        ...(pollToken ? { pollTokenHash: tokenHash(pollToken) } : {}),
        createdAt: at,
        updatedAt: at,
      };
      await collection.insertOne(receiver);
      return { receiver, pollToken };
    },
    list: () => collection.find({}).sort({ createdAt: 1, _id: 1 }).toArray(),
    async find(id) {
      return (await collection.findOne({ _id: id })) ?? undefined;
    },
    async update(id, settings, at) {
      const unset = {
        ...(settings.endpoint === undefined ? { endpoint: '' as const } : {}),
        ...(settings.authorization === undefined ? { authorization: '' as const } : {}),
        ...(settings.client === undefined ? { client: '' as const } : {}),
      };
      const result = await collection.findOneAndUpdate(
        { _id: id },
        { $set: { ...settings, updatedAt: at }, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
        { returnDocument: 'after' },
      );
      return result ?? undefined;
    },
    async delete(id) {
      return (await collection.deleteOne({ _id: id })).deletedCount === 1;
    },
    enabled: () => collection.find({ enabled: true }).toArray(),
    async byPollToken(token) {
      return (await collection.findOne({ pollTokenHash: tokenHash(token), delivery: 'poll' })) ?? undefined;
    },
    async takeLease(id, leaseId, ms) {
      const now = new Date();
      const result = await collection.updateOne(
        { _id: id, $or: [{ leaseUntil: null }, { leaseUntil: { $exists: false } }, { leaseUntil: { $lt: now } }] },
        { $set: { leaseId, leaseUntil: new Date(now.getTime() + ms) } },
      );
      return result.modifiedCount === 1;
    },
    async renewLease(id, leaseId, ms) {
      const result = await collection.updateOne(
        { _id: id, leaseId },
        { $set: { leaseUntil: new Date(Date.now() + ms) } },
      );
      return result.matchedCount === 1;
    },
    async releaseLease(id, leaseId) {
      await collection.updateOne({ _id: id, leaseId }, { $set: { leaseId: null, leaseUntil: null } });
    },
  };
}
