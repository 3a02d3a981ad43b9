import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';

/**
 * Secrets at rest (README "Keys at rest"): the signing keys' private halves and the push receivers'
 * Authorization values are kept in the database sealed with a key-encryption key that lives outside
 * it (ROSTER_KEY_ENCRYPTION_KEY), so a copy of the database alone can neither mint tokens nor call
 * receivers.
 *
 * The envelope is jose's JWE, not crypto of our own: compact serialization, `alg: dir` (the
 * key-encryption key is the content key), `enc: A256GCM` (authenticated, a random 96-bit IV per
 * value). The protected header, which AES-GCM authenticates as additional data, carries
 *   - `kid`: which key-encryption key sealed it (derived from the key, so operators name nothing),
 *   - `purpose`: the record and field it belongs to (e.g. `signing_keys/<kid>/privateJwk`);
 * `open` checks both, so a sealed value copied into another record, or sealed under another key,
 * is refused rather than used.
 */

export const KEY_ENCRYPTION_ENV = 'ROSTER_KEY_ENCRYPTION_KEY';
export const KEY_ENCRYPTION_FILE_ENV = 'ROSTER_KEY_ENCRYPTION_KEY_FILE';
export const PREVIOUS_KEY_ENCRYPTION_ENV = 'ROSTER_PREVIOUS_KEY_ENCRYPTION_KEYS';
/** How to make a key, for messages and docs. */
export const GENERATE_KEY_HINT = 'openssl rand -base64 32';

const ALG = 'dir';
const ENC = 'A256GCM';

/** A key-encryption key problem an operator must fix (missing, malformed, or not the one the data was sealed with). */
export class KeyEncryptionError extends Error {
  override name = 'KeyEncryptionError';
}

/** A value sealed with a key-encryption key that is not configured; `keyId` names it. */
export class UnknownKeyEncryptionKeyError extends KeyEncryptionError {
  override name = 'UnknownKeyEncryptionKeyError';
  constructor(
    message: string,
    readonly keyId: string,
  ) {
    super(message);
  }
}

/**
 * Reads a key-encryption key: exactly 32 bytes, written as 64 hex digits or as base64 / base64url
 * (`openssl rand -base64 32`, padding optional). Errors never repeat the value.
 */
export function parseKeyEncryptionKey(text: string): Uint8Array {
  const value = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) {
    bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  }
  if (!bytes || bytes.length !== 32) {
    throw new KeyEncryptionError(
      `a key-encryption key must be 32 random bytes written as base64 (44 characters) or hex (64 digits); generate one with: ${GENERATE_KEY_HINT}`,
    );
  }
  return new Uint8Array(bytes);
}

/** A key's id: the first 8 bytes (hex) of a SHA-256 over a label and the key. Not secret. */
export function keyEncryptionKeyId(key: Uint8Array): string {
  return createHash('sha256').update('roster key-encryption key id\0').update(key).digest('hex').slice(0, 16);
}

export interface KeyEncryptionKeys {
  /** The key new values are sealed with (encoded as parseKeyEncryptionKey reads it). */
  current: string;
  /** Older keys, accepted for opening only (rotation). */
  previous?: readonly string[];
}

export interface SecretBox {
  /** Id of the current key-encryption key. */
  readonly currentKeyId: string;
  /** Ids of the previous keys still accepted for opening. */
  readonly previousKeyIds: readonly string[];
  /** Seals `plaintext` for `purpose` (the record and field it is stored in) with the current key. */
  seal(plaintext: string, purpose: string): Promise<string>;
  /** Opens a sealed value of `purpose`; throws KeyEncryptionError naming the problem. */
  open(sealed: string, purpose: string): Promise<string>;
  /** The id of the key a value was sealed with (read from its header, not verified). */
  keyIdOf(sealed: string): string | undefined;
}

function headerOf(sealed: string): { kid?: unknown; purpose?: unknown; alg?: unknown; enc?: unknown } | undefined {
  try {
    return decodeProtectedHeader(sealed) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Seals and opens stored secrets with the configured key-encryption keys (see the top of this file). */
export function createSecretBox(keys: KeyEncryptionKeys): SecretBox {
  if (!keys.current) {
    throw new KeyEncryptionError(
      `no key-encryption key: set ${KEY_ENCRYPTION_ENV} (or ${KEY_ENCRYPTION_FILE_ENV}) to 32 random bytes; generate one with: ${GENERATE_KEY_HINT}`,
    );
  }
  const byId = new Map<string, Uint8Array>();
  const current = parseKeyEncryptionKey(keys.current);
  const currentKeyId = keyEncryptionKeyId(current);
  byId.set(currentKeyId, current);
  const previousKeyIds: string[] = [];
  for (const text of keys.previous ?? []) {
    const key = parseKeyEncryptionKey(text);
    const id = keyEncryptionKeyId(key);
    if (byId.has(id)) continue;
    byId.set(id, key);
    previousKeyIds.push(id);
  }
  const configured = () =>
    `${KEY_ENCRYPTION_ENV} is key id ${currentKeyId}; ${PREVIOUS_KEY_ENCRYPTION_ENV}: ${
      previousKeyIds.length ? previousKeyIds.join(', ') : 'none'
    }`;

  return {
    currentKeyId,
    previousKeyIds,
    async seal(plaintext, purpose) {
      return new CompactEncrypt(new TextEncoder().encode(plaintext))
        .setProtectedHeader({ alg: ALG, enc: ENC, kid: currentKeyId, purpose })
        .encrypt(current);
    },
    async open(sealed, purpose) {
      const header = headerOf(sealed);
      if (!header || header.alg !== ALG || header.enc !== ENC || typeof header.kid !== 'string') {
        throw new KeyEncryptionError(`${purpose}: the stored value is not a sealed secret`);
      }
      const key = byId.get(header.kid);
      if (!key) {
        throw new UnknownKeyEncryptionKeyError(
          `${purpose}: sealed with key-encryption key id ${header.kid}, which is not configured (${configured()})`,
          header.kid,
        );
      }
      let result;
      try {
        result = await compactDecrypt(sealed, key, {
          keyManagementAlgorithms: [ALG],
          contentEncryptionAlgorithms: [ENC],
        });
      } catch {
        throw new KeyEncryptionError(
          `${purpose}: cannot be decrypted with key-encryption key id ${header.kid}: the stored value was altered`,
        );
      }
      // The header is authenticated: a purpose read here is the one it was sealed for.
      if (result.protectedHeader.purpose !== purpose) {
        throw new KeyEncryptionError(
          `${purpose}: the stored value was sealed for ${String(result.protectedHeader.purpose)}, not for this record`,
        );
      }
      return new TextDecoder().decode(result.plaintext);
    },
    keyIdOf(sealed) {
      const kid = headerOf(sealed)?.kid;
      return typeof kid === 'string' ? kid : undefined;
    },
  };
}
