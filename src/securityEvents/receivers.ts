import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';
import type { SecretBox } from '../keys/keyEncryption.js';
import type { SealedField } from '../keys/sealedSecrets.js';
import type { ReceiverSettings } from './receiverInput.js';

export const RECEIVERS_COLLECTION = 'event_receivers';

/**
 * A registered receiver (an event stream) as the repository hands it out: `authorization` in clear
 * (Roster sends it), while the database keeps it only sealed (StoredReceiver).
 */
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

/** As stored: the Authorization value sealed with the key-encryption key (README "Keys at rest"). */
type StoredReceiver = Omit<Receiver, 'authorization'> & {
  sealedAuthorization?: string;
  /** Earlier versions kept the value here in clear; start-up seals it (RECEIVER_SECRET). */
  authorization?: string;
};

/** The sealed push Authorization value, bound to its receiver. */
export const RECEIVER_SECRET: SealedField = {
  collection: RECEIVERS_COLLECTION,
  field: 'sealedAuthorization',
  legacyField: 'authorization',
  encodeLegacy: (value) => String(value),
  purpose: (id) => `${RECEIVERS_COLLECTION}/${id}/authorization`,
};

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
  /** Deletes the receiver; false when there was none. Gone when this returns. */
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

export function createReceiverRepository(db: Db, secrets: SecretBox): ReceiverRepository {
  const collection = db.collection<StoredReceiver>(RECEIVERS_COLLECTION);
  const purpose = RECEIVER_SECRET.purpose;

  /** The settings as stored: the Authorization value sealed for this receiver, never in clear. */
  async function stored(id: string, settings: ReceiverSettings) {
    const { authorization, ...rest } = settings;
    return {
      rest,
      sealedAuthorization: authorization ? await secrets.seal(authorization, purpose(id)) : undefined,
    };
  }

  /** Opens the sealed value; a value Roster cannot open fails with a KeyEncryptionError naming why. */
  async function readable(doc: StoredReceiver | null): Promise<Receiver | undefined> {
    if (!doc) return undefined;
    const { sealedAuthorization, authorization: legacy, ...rest } = doc;
    const authorization = sealedAuthorization ? await secrets.open(sealedAuthorization, purpose(doc._id)) : legacy;
    return { ...rest, ...(authorization ? { authorization } : {}) };
  }
  const readableAll = (docs: StoredReceiver[]) => Promise.all(docs.map(async (doc) => (await readable(doc))!));

  return {
    async insert(settings, at) {
      const pollToken = settings.delivery === 'poll' ? randomBytes(32).toString('base64url') : undefined;
      const id = randomUUID();
      const { rest, sealedAuthorization } = await stored(id, settings);
      const doc: StoredReceiver = {
        _id: id,
        ...rest,
        ...(sealedAuthorization ? { sealedAuthorization } : {}),
        ...(pollToken ? { pollTokenHash: tokenHash(pollToken) } : {}),
        createdAt: at,
        updatedAt: at,
      };
      await collection.insertOne(doc);
      const { sealedAuthorization: _sealed, ...receiver } = doc;
      return {
        receiver: { ...receiver, ...(settings.authorization ? { authorization: settings.authorization } : {}) },
        pollToken,
      };
    },
    list: async () => readableAll(await collection.find({}).sort({ createdAt: 1, _id: 1 }).toArray()),
    async find(id) {
      return readable(await collection.findOne({ _id: id }));
    },
    async update(id, settings, at) {
      const { rest, sealedAuthorization } = await stored(id, settings);
      const unset = {
        ...(settings.endpoint === undefined ? { endpoint: '' as const } : {}),
        ...(sealedAuthorization === undefined ? { sealedAuthorization: '' as const } : {}),
        // A clear value an earlier version stored goes whatever the new one is.
        authorization: '' as const,
        ...(settings.client === undefined ? { client: '' as const } : {}),
      };
      const result = await collection.findOneAndUpdate(
        { _id: id },
        { $set: { ...rest, ...(sealedAuthorization ? { sealedAuthorization } : {}), updatedAt: at }, $unset: unset },
        { returnDocument: 'after' },
      );
      if (!result) return undefined;
      const { sealedAuthorization: _sealed, ...receiver } = result;
      return { ...receiver, ...(settings.authorization ? { authorization: settings.authorization } : {}) };
    },
    async delete(id) {
      // A delete that reports nothing deleted is checked by a read: under load FerretDB has answered
      // n=0 for a receiver that existed (seen in the suite); it is gone, or deleted again.
      for (let attempt = 0; attempt < 3; attempt++) {
        if ((await collection.deleteOne({ _id: id })).deletedCount === 1) return true;
        if (!(await collection.findOne({ _id: id }, { projection: { _id: 1 } }))) return false;
      }
      throw new Error(`event receiver ${id} could not be deleted`);
    },
    enabled: async () => readableAll(await collection.find({ enabled: true }).toArray()),
    async byPollToken(token) {
      return readable(await collection.findOne({ pollTokenHash: tokenHash(token), delivery: 'poll' }));
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
