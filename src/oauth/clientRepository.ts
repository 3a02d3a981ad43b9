import type { JWK } from 'jose';
import type { Db } from 'mongodb';
import type { TokenSource } from '../config/index.js';
import { findPage, isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import type { Scope } from '../scopes.js';

/** A client secret as stored: only its scrypt hash; a rotated-out secret carries its end. */
export interface StoredSecret {
  hash: string;
  createdAt: Date;
  expiresAt?: Date;
}

export interface OAuthClientDoc {
  _id: string; // the client_id
  /** The directory it belongs to (written by the directory scope, src/db/directoryScope.ts). */
  directory?: string;
  name: string;
  source: TokenSource;
  scopes: Scope[];
  /** Secret clients (client_secret_basic / client_secret_post); empty for private_key_jwt clients. */
  secrets: StoredSecret[];
  /** The public key of a private_key_jwt client (RFC 7523). */
  publicJwk?: JWK;
  createdAt: Date;
  revokedAt?: Date;
  /** Bumped by every change: secrets are replaced only over the version that was read. */
  version: number;
}

const CLIENTS = 'oauth_clients';
const ASSERTIONS = 'oauth_used_assertions';

export const OAUTH_INDEXES: IndexSpec[] = [
  { collection: CLIENTS, key: { createdAt: 1 }, options: { name: 'created' } },
  { collection: ASSERTIONS, key: { expiresAt: 1 }, options: { name: 'expires' } },
];

export function createClientRepository(db: Db) {
  const clients = db.collection<OAuthClientDoc>(CLIENTS);
  return {
    insert: async (doc: OAuthClientDoc) => void (await clients.insertOne(doc)),
    find: (id: string) => clients.findOne({ _id: id }),
    list: () => findPage(clients, {}, 10_000, { sort: { createdAt: 1 } }),
    /** False when the client changed since `version` was read (or is gone or revoked). */
    async replaceSecrets(id: string, version: number, secrets: StoredSecret[]): Promise<boolean> {
      const result = await clients.updateOne(
        { _id: id, version, revokedAt: { $exists: false } },
        { $set: { secrets }, $inc: { version: 1 } },
      );
      return result.modifiedCount === 1;
    },
    /** Sets revokedAt once; the client as revoked, or null when there is no such client. */
    async revoke(id: string, at: Date): Promise<OAuthClientDoc | null> {
      await clients.updateOne(
        { _id: id, revokedAt: { $exists: false } },
        { $set: { revokedAt: at }, $inc: { version: 1 } },
      );
      return clients.findOne({ _id: id });
    },
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;

/**
 * The jti of every private_key_jwt assertion seen, kept until the assertion expires, so a replay is
 * refused (RFC 7523 §3, item 7). Expired entries are deleted as new ones arrive.
 */
export function createAssertionLog(db: Db) {
  const used = db.collection<{ _id: string; expiresAt: Date }>(ASSERTIONS);
  return {
    /** True the first time a (client, jti) is seen, false for a replay. */
    async firstUse(clientId: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
      await used.deleteMany({ expiresAt: { $lt: now } });
      try {
        await used.insertOne({ _id: `${clientId} ${jti}`, expiresAt });
        return true;
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
    },
  };
}

export type AssertionLog = ReturnType<typeof createAssertionLog>;
