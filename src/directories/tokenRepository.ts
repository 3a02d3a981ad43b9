/**
 * A directory's static bearer tokens minted through the admin API (`/admin/v1/directories/{id}/tokens`,
 * README "Directories"): SCIM tokens for its IdP connections, admin tokens of its own admins, and
 * verify tokens of the applications that check its users' passwords (POST /auth/verify).
 * Only the token's SHA-256 is kept; it is shown once, when made. Directory data: every read is
 * the current directory's (src/db/directoryScope.ts), so another directory's token is never found.
 */
import type { Db } from 'mongodb';
import { findPage, type IndexSpec } from '../db/mongo.js';
import type { Actor, TokenSource } from '../principals.js';

export const SCIM_TOKENS_COLLECTION = 'scim_tokens';

export interface StoredToken {
  _id: string;
  directory?: string;
  name: string;
  /** `scim` for an IdP connection, `admin` for the directory's own admin API, `verify` for its credential check. */
  kind: 'scim' | 'admin' | 'verify';
  source: TokenSource;
  /** Hex SHA-256 of the token. */
  hash: string;
  createdAt: Date;
  createdBy: Actor;
  revokedAt?: Date;
}

export const TOKEN_INDEXES: IndexSpec[] = [
  { collection: SCIM_TOKENS_COLLECTION, key: { hash: 1 }, options: { name: 'hash' } },
  { collection: SCIM_TOKENS_COLLECTION, key: { name: 1, kind: 1 }, options: { name: 'name_kind' } },
];

export function createTokenRepository(db: Db) {
  const tokens = db.collection<StoredToken>(SCIM_TOKENS_COLLECTION);
  return {
    insert: async (token: StoredToken) => void (await tokens.insertOne(token)),
    byHash: async (hash: string) => (await tokens.findOne({ hash, revokedAt: { $exists: false } })) ?? undefined,
    activeByName: async (name: string, kind: StoredToken['kind']) =>
      (await tokens.findOne({ name, kind, revokedAt: { $exists: false } })) ?? undefined,
    list: () => findPage(tokens, {}, 1000, { sort: { createdAt: 1 }, projection: { hash: 0 } }),
    async revoke(id: string, at: Date): Promise<StoredToken | undefined> {
      return (
        (await tokens.findOneAndUpdate(
          { _id: id, revokedAt: { $exists: false } },
          { $set: { revokedAt: at } },
          { returnDocument: 'after', projection: { hash: 0 } },
        )) ?? undefined
      );
    },
  };
}

export type TokenRepository = ReturnType<typeof createTokenRepository>;
