import { currentDirectory } from '../directory.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import type { TokenSource } from '../config/index.js';
import type { Env } from '../events/env.js';
import type { Actor, NewEvent } from '../events/types.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import { hashPassword, verifyPassword } from '../lifecycle/passwords.js';
import { looksLikePrincipalId, PRINCIPAL_ID_NAME_RULE } from '../principals.js';
import type { Slots } from '../slots.js';
import type { ClientRepository, OAuthClientDoc, StoredSecret } from './clientRepository.js';
import { DEFAULT_CLIENT_SCOPES, isScope, SCOPES, type Scope } from '../scopes.js';

const SOURCES: TokenSource[] = ['manual', 'bulk', 'integration'];
/** Key types a client may register for private_key_jwt (asymmetric only). */
const KEY_TYPES = ['RSA', 'EC', 'OKP'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const HOUR_MS = 3_600_000;
/** The form of the client ids Roster issues (random UUIDs): anything else is refused before any look-up. */
const ISSUED_CLIENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const isIssuedClientId = (id: string) => ISSUED_CLIENT_ID.test(id);

/** What the admin API shows of a client: never a secret or its hash. */
export function clientView(doc: OAuthClientDoc) {
  return {
    client_id: doc._id,
    name: doc.name,
    source: doc.source,
    scopes: doc.scopes,
    token_endpoint_auth_method: doc.publicJwk ? 'private_key_jwt' : 'client_secret_basic',
    ...(doc.publicJwk && { jwk: doc.publicJwk }),
    secrets: doc.secrets.map((s) => ({ created_at: s.createdAt, ...(s.expiresAt && { expires_at: s.expiresAt }) })),
    created_at: doc.createdAt,
    ...(doc.revokedAt && { revoked_at: doc.revokedAt }),
  };
}

export interface ClientServiceDeps {
  repository: ClientRepository;
  /** Clock and event recorder (src/events/env.ts). */
  env: Pick<Env, 'now' | 'recordEvent'>;
  secretOverlapHours: () => number;
  clientCacheSeconds: () => number;
  /** Slots for secret verifications (scrypt): a burst waits or is refused instead of taking every core. */
  secretChecks: Slots;
  /** Called once per secret verified (a metric). */
  countSecretCheck?: () => void;
}

/** The algorithm a JWK without `alg` is checked with: the one its key type and curve imply. */
function defaultAlg(key: JWK): string {
  if (key.kty === 'RSA') return 'RS256';
  if (key.kty === 'OKP') return 'EdDSA';
  return { 'P-384': 'ES384', 'P-521': 'ES512' }[key.crv ?? ''] ?? 'ES256';
}

const MIN_RSA_BITS = 2048;
/** The size of an RSA public key's modulus (its `n`, big-endian, leading zero bytes not counted). */
function rsaModulusBits(key: JWK): number {
  const n = Buffer.from(typeof key.n === 'string' ? key.n : '', 'base64url');
  const first = n.findIndex((byte) => byte !== 0);
  return first < 0 ? 0 : (n.length - first - 1) * 8 + Math.floor(Math.log2(n[first])) + 1;
}

const newSecret = () => `rcs_${randomBytes(32).toString('base64url')}`;
const invalid = (message: string) => new InvalidError(message, { code: 'invalid_request' });

async function parseRegistration(body: Record<string, unknown>) {
  const { name, source, scopes, jwk } = body;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
    throw invalid('name is required (1 to 200 characters)');
  }
  if (looksLikePrincipalId(name.trim())) {
    throw invalid(`name ${PRINCIPAL_ID_NAME_RULE} (those name other credentials)`);
  }
  if (!SOURCES.includes(source as TokenSource)) throw invalid(`source must be one of ${SOURCES.join(', ')}`);
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every(isScope))) {
    throw invalid(`scopes must be a non-empty list of ${SCOPES.join(', ')}`);
  }
  let publicJwk: JWK | undefined;
  if (jwk !== undefined) {
    const key = jwk as JWK;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || !KEY_TYPES.includes(key.kty ?? '')) {
      throw invalid('jwk must be a public JWK of type RSA, EC or OKP');
    }
    if (PRIVATE_MEMBERS.some((m) => m in key)) throw invalid('jwk must be the public key only (no private members)');
    // jose refuses to verify with a shorter RSA key, so such a client could never authenticate.
    if (key.kty === 'RSA' && rsaModulusBits(key) < MIN_RSA_BITS) {
      throw invalid(`jwk: an RSA key needs a modulus of at least ${MIN_RSA_BITS} bits`);
    }
    try {
      await importJWK(key, key.alg ?? defaultAlg(key));
    } catch (err) {
      throw invalid(`jwk is not a usable public key: ${(err as Error).message}`);
    }
    publicJwk = key;
  }
  return {
    name: name.trim(),
    source: source as TokenSource,
    scopes: [...new Set((scopes as Scope[] | undefined) ?? DEFAULT_CLIENT_SCOPES)],
    publicJwk,
  };
}

/**
 * The clients in use, each read at most every clientCacheSeconds. An id not of the form Roster
 * issues is not looked up, and a failed look-up is not cached, so made-up ids take no memory.
 */
function createClientCache(repository: ClientRepository, now: () => Date, clientCacheSeconds: () => number) {
  const cache = new Map<string, { at: number; doc: OAuthClientDoc }>();
  return {
    /** The client if it exists and is not revoked. */
    async active(id: string): Promise<OAuthClientDoc | undefined> {
      if (!isIssuedClientId(id)) return undefined;
      const t = now().getTime();
      let entry = cache.get(id);
      if (!entry || t - entry.at >= clientCacheSeconds() * 1000 || t < entry.at) {
        const doc = await repository.find(id);
        if (!doc) {
          cache.delete(id);
          return undefined;
        }
        entry = { at: t, doc };
        cache.set(id, entry);
        if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
      }
      // A client belongs to one directory: one cached while another directory served it is not this one's.
      if (entry.doc.directory !== currentDirectory()) return undefined;
      return entry.doc.revokedAt ? undefined : entry.doc;
    },
    /** A client just changed: the next use reads it again. */
    forget: (id: string) => cache.delete(id),
  };
}

/** OAuth clients: registration, secret rotation with an overlap, revocation, and the checks on use. */
export function createClientService(deps: ClientServiceDeps) {
  const { repository } = deps;
  const { recordEvent, now } = deps.env;
  const cache = createClientCache(repository, now, deps.clientCacheSeconds);
  // What an unknown client's secret is checked against, so it costs what a known client's does.
  let dummyHash: Promise<string> | undefined;
  const verify = (secret: string, hash: string) =>
    deps.secretChecks.run(() => {
      deps.countSecretCheck?.();
      return verifyPassword(secret, hash);
    });
  const event = (type: NewEvent['type'], doc: OAuthClientDoc, actor: Actor) =>
    recordEvent({
      type,
      initiatedBy: actor,
      resource: { type: 'OAuthClient', id: doc._id },
      details: { name: doc.name, source: doc.source, scopes: doc.scopes },
    });

  async function existing(id: string): Promise<OAuthClientDoc> {
    const doc = await repository.find(id);
    if (!doc) throw new NotFoundError(`No OAuth client ${id}`, { code: 'not_found' });
    return doc;
  }

  return {
    async create(body: Record<string, unknown>, actor: Actor) {
      const registration = await parseRegistration(body);
      const secret = registration.publicJwk ? undefined : newSecret();
      const doc: OAuthClientDoc = {
        _id: randomUUID(),
        name: registration.name,
        source: registration.source,
        scopes: registration.scopes,
        secrets: secret ? [{ hash: await hashPassword(secret), createdAt: now() }] : [],
        ...(registration.publicJwk && { publicJwk: registration.publicJwk }),
        createdAt: now(),
        version: 1,
      };
      await repository.insert(doc);
      await event('oauth_client_created', doc, actor);
      return { ...clientView(doc), ...(secret && { client_secret: secret }) };
    },

    list: async () => (await repository.list()).map(clientView),

    get: async (id: string) => clientView(await existing(id)),

    /** A new secret; the ones before it keep working for secretOverlapHours (shortened, never lengthened). */
    async rotate(id: string, actor: Actor) {
      const doc = await existing(id);
      if (doc.revokedAt) throw new ConflictError('A revoked client cannot get a new secret', { code: 'revoked' });
      if (doc.publicJwk)
        throw new ConflictError('This client authenticates with private_key_jwt', { code: 'no_secret' });
      const t = now();
      const overlapEnd = new Date(t.getTime() + deps.secretOverlapHours() * HOUR_MS);
      const secret = newSecret();
      const kept: StoredSecret[] = doc.secrets
        .filter((s) => !s.expiresAt || s.expiresAt > t)
        .map((s) => ({ ...s, expiresAt: s.expiresAt && s.expiresAt < overlapEnd ? s.expiresAt : overlapEnd }));
      const secrets = [...kept, { hash: await hashPassword(secret), createdAt: t }];
      if (!(await repository.replaceSecrets(id, doc.version, secrets))) {
        throw new ConflictError('The client changed meanwhile; retry', { code: 'conflict' });
      }
      cache.forget(id);
      const updated = { ...doc, secrets, version: doc.version + 1 };
      await event('oauth_client_secret_rotated', updated, actor);
      return { ...clientView(updated), client_secret: secret };
    },

    /** Revoked at once: no new tokens, and the tokens it holds are refused on their next use. */
    async revoke(id: string, actor: Actor) {
      const before = await existing(id);
      const doc = (await repository.revoke(id, now()))!;
      cache.forget(id);
      if (!before.revokedAt) await event('oauth_client_revoked', doc, actor);
      return clientView(doc);
    },

    active: cache.active,

    /**
     * True when the secret matches one of the client's secrets still in force. Without a client (or
     * a secret in force) it is checked against a dummy hash, so a known and an unknown client id take
     * the same time. Throws SlotsBusy when too many checks run and wait already.
     */
    async secretMatches(doc: OAuthClientDoc | undefined, secret: string): Promise<boolean> {
      const t = now();
      const inForce = (doc?.publicJwk ? [] : (doc?.secrets ?? [])).filter((s) => !s.expiresAt || s.expiresAt > t);
      if (inForce.length === 0) {
        dummyHash ??= hashPassword(randomBytes(32).toString('base64url'));
        await verify(secret, await dummyHash);
        return false;
      }
      let matched = false;
      for (const stored of inForce) {
        if (await verify(secret, stored.hash)) matched = true;
      }
      return matched;
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
