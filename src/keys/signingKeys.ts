import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import type { Db } from 'mongodb';
import { findPage, isDuplicateKeyError, type IndexSpec } from '../db/mongo.js';
import { KeyEncryptionError, type SecretBox } from './keyEncryption.js';
import type { SealedField } from './sealedSecrets.js';

/** The one algorithm Roster signs with (OAuth access tokens, security event tokens). */
export const SIGNING_ALG = 'ES256';

/**
 * A signing key pair as stored: the private half never leaves the database and this module, and is
 * stored sealed with the key-encryption key (README "Keys at rest"): a copy of the database cannot sign.
 */
interface SigningKeyDoc {
  _id: string; // the kid
  alg: typeof SIGNING_ALG;
  publicJwk: JWK;
  /** The private JWK as JSON, sealed by the SecretBox for SIGNING_KEY_SECRET.purpose(kid). */
  sealedPrivateJwk: string;
  createdAt: Date;
  /** 1 for the first key, then one more per rotation: unique, so two instances never both rotate. */
  generation: number;
}

export const SIGNING_KEY_INDEXES: IndexSpec[] = [
  { collection: 'signing_keys', key: { generation: 1 }, options: { name: 'generation', unique: true } },
];

/** The sealed private half; versions before keys were sealed kept it in clear as `privateJwk`. */
export const SIGNING_KEY_SECRET: SealedField = {
  collection: 'signing_keys',
  field: 'sealedPrivateJwk',
  legacyField: 'privateJwk',
  encodeLegacy: (jwk) => JSON.stringify(jwk),
  purpose: (kid) => `signing_keys/${kid}/privateJwk`,
};

export interface SigningKeyOptions {
  /** A new key is made when the newest is this old; tokens are then signed with the new one. */
  rotateAfterDays: () => number;
  /** Seals the private halves in the database (the key-encryption key). */
  secrets: SecretBox;
  /** A superseded key stays published (JWKS) this long, so tokens it signed still verify. */
  publishRetiredForDays: () => number;
  now?: () => Date;
}

export interface SigningKeys {
  /** Signs the claims as a compact JWS with the current key; `typ` per profile (at+jwt, secevent+jwt). */
  sign(claims: JWTPayload, typ: string): Promise<string>;
  /** The public keys a verifier may need: the current key and those retired recently. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Makes a new current key now (admin rotation); the previous one stays published. */
  rotate(): Promise<string>;
}

const DAY_MS = 86_400_000;
/** Keys are re-read at most this often: a rotation on another instance is seen within it. */
const CACHE_MS = 30_000;

/**
 * Signing keys kept in the database, so every instance signs with the same key and publishes the same
 * JWKS. Two instances creating the first key at once both succeed (distinct kids), and both are
 * published; the newest signs.
 */
export function createSigningKeys(db: Db, options: SigningKeyOptions): SigningKeys {
  const collection = db.collection<SigningKeyDoc>('signing_keys');
  const now = options.now ?? (() => new Date());
  let cache: { at: number; docs: SigningKeyDoc[] } | undefined;
  const privateKeys = new Map<string, CryptoKey>();

  /**
   * Makes the key of the next generation. Of instances doing so at once, one insert wins the unique
   * generation and the others take its key, so every instance signs with the same key.
   */
  async function create(previous: SigningKeyDoc | undefined): Promise<SigningKeyDoc> {
    const pair = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const privateJwk = JSON.stringify(await exportJWK(pair.privateKey));
    const doc: SigningKeyDoc = {
      _id: kid,
      alg: SIGNING_ALG,
      publicJwk,
      sealedPrivateJwk: await options.secrets.seal(privateJwk, SIGNING_KEY_SECRET.purpose(kid)),
      createdAt: now(),
      generation: (previous?.generation ?? 0) + 1,
    };
    cache = undefined;
    try {
      await collection.insertOne(doc);
      return doc;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const [winner] = await published();
      return winner;
    }
  }

  /** Newest first, limited to those still published; `fresh` skips the cache. */
  async function published(fresh = false): Promise<SigningKeyDoc[]> {
    const t = now().getTime();
    if (!fresh && cache && t - cache.at < CACHE_MS) return cache.docs;
    const docs = await findPage(collection, {}, 20, { sort: { generation: -1 } });
    const keep = docs.filter((doc, i) => {
      if (i === 0) return true;
      const supersededAt = docs[i - 1].createdAt.getTime();
      return t - supersededAt < options.publishRetiredForDays() * DAY_MS;
    });
    cache = { at: t, docs: keep };
    return keep;
  }

  async function current(): Promise<SigningKeyDoc> {
    const [newest] = await published();
    if (newest && now().getTime() - newest.createdAt.getTime() < options.rotateAfterDays() * DAY_MS) return newest;
    return create(newest);
  }

  async function privateKeyOf(doc: SigningKeyDoc): Promise<CryptoKey> {
    let key = privateKeys.get(doc._id);
    if (!key) {
      if (!doc.sealedPrivateJwk) {
        // Written in clear by an earlier version running beside this one: the next start seals it.
        throw new KeyEncryptionError(`cannot sign with signing key ${doc._id}: it is not sealed yet; restart Roster`);
      }
      let jwk: JWK;
      try {
        jwk = JSON.parse(await options.secrets.open(doc.sealedPrivateJwk, SIGNING_KEY_SECRET.purpose(doc._id))) as JWK;
      } catch (err) {
        if (!(err instanceof KeyEncryptionError)) throw err;
        throw new KeyEncryptionError(`cannot sign with signing key ${doc._id}: ${err.message}`);
      }
      key = (await importJWK(jwk, doc.alg)) as CryptoKey;
      privateKeys.set(doc._id, key);
    }
    return key;
  }

  return {
    async sign(claims, typ) {
      const doc = await current();
      return new SignJWT(claims).setProtectedHeader({ alg: doc.alg, kid: doc._id, typ }).sign(await privateKeyOf(doc));
    },
    async jwks() {
      await current();
      // Read afresh: a key another instance just made must verify at once (JWKS is fetched rarely).
      return { keys: (await published(true)).map((doc) => doc.publicJwk) };
    },
    async rotate() {
      const [newest] = await published(true);
      return (await create(newest))._id;
    },
  };
}
