import { createHash, randomBytes } from 'node:crypto';

/**
 * Single-use link tokens (activation and password reset). The raw token goes only into the
 * emailed link; the database stores its SHA-256 hash, so a database read does not yield usable
 * links. 32 random bytes make the token unguessable, so a fast hash is enough (no salt needed).
 */
export interface LinkToken {
  /** 32 random bytes, base64url (43 characters): put this in the link. */
  token: string;
  /** SHA-256 of the token, lower-case hex (64 characters): store this. */
  hash: string;
}

export function createLinkToken(): LinkToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashLinkToken(token) };
}

/** The stored form of a token; look tokens up by this hash. */
export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Cheap shape check before a database look-up (43 base64url characters). */
export function looksLikeLinkToken(token: unknown): token is string {
  return typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token);
}
