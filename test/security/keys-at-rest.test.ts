import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { MongoClient, type Db } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { ConfigError, loadConfig, PROJECT_ROOT, redactConfig } from '../../src/config/index.js';
import { developmentKeyEncryptionKey } from '../../src/keys/developmentKey.js';
import {
  createSecretBox,
  KeyEncryptionError,
  keyEncryptionKeyId,
  parseKeyEncryptionKey,
  UnknownKeyEncryptionKeyError,
} from '../../src/keys/keyEncryption.js';
import { createSigningKeys } from '../../src/keys/signingKeys.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, TOKENS } from '../helpers/roster.js';
import { FAST, startReceiver, until, USER } from '../securityEvents/receiver.js';

const newKey = () => randomBytes(32).toString('base64');
const idOf = (key: string) => keyEncryptionKeyId(parseKeyEncryptionKey(key));

describe('the secret box (jose JWE, dir + A256GCM)', () => {
  const k1 = newKey();
  const k2 = newKey();

  it('seals to a compact JWE naming the key id and the record, and opens it again', async () => {
    const box = createSecretBox({ current: k1 });
    const sealed = await box.seal('Bearer top-secret', 'event_receivers/r1/authorization');
    expect(sealed.split('.')).toHaveLength(5);
    expect(sealed).not.toContain('top-secret');
    expect(decodeProtectedHeader(sealed)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: idOf(k1),
      purpose: 'event_receivers/r1/authorization',
    });
    expect(await box.open(sealed, 'event_receivers/r1/authorization')).toBe('Bearer top-secret');
    // A fresh IV each time: the same secret never seals to the same text.
    expect(await box.seal('Bearer top-secret', 'event_receivers/r1/authorization')).not.toBe(sealed);
  });

  it('refuses a value moved to another record, an altered one, and one sealed with a key it does not have', async () => {
    const box = createSecretBox({ current: k1 });
    const sealed = await box.seal('s3cret', 'event_receivers/r1/authorization');
    await expect(box.open(sealed, 'event_receivers/r2/authorization')).rejects.toThrow(
      'event_receivers/r2/authorization: the stored value was sealed for event_receivers/r1/authorization, not for this record',
    );
    // Rewriting the header to name the other record breaks the authentication (the header is the AAD).
    const [, ...rest] = sealed.split('.');
    const header = Buffer.from(
      JSON.stringify({ ...decodeProtectedHeader(sealed), purpose: 'event_receivers/r2/authorization' }),
    ).toString('base64url');
    await expect(box.open([header, ...rest].join('.'), 'event_receivers/r2/authorization')).rejects.toThrow(
      /cannot be decrypted with key-encryption key id \w+: the stored value was altered/,
    );
    await expect(box.open('Bearer in-clear', 'x')).rejects.toThrow('x: the stored value is not a sealed secret');
    const other = createSecretBox({ current: k2 });
    const err = await other.open(sealed, 'event_receivers/r1/authorization').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownKeyEncryptionKeyError);
    expect((err as Error).message).toBe(
      `event_receivers/r1/authorization: sealed with key-encryption key id ${idOf(k1)}, which is not configured ` +
        `(ROSTER_KEY_ENCRYPTION_KEY is key id ${idOf(k2)}; ROSTER_PREVIOUS_KEY_ENCRYPTION_KEYS: none)`,
    );
  });

  it('opens with previous keys and seals with the current one (rotation)', async () => {
    const old = await createSecretBox({ current: k1 }).seal('v', 'p');
    const box = createSecretBox({ current: k2, previous: [k1] });
    expect(box.previousKeyIds).toEqual([idOf(k1)]);
    expect(await box.open(old, 'p')).toBe('v');
    expect(box.keyIdOf(await box.seal('v', 'p'))).toBe(idOf(k2));
  });

  it('reads 32-byte keys as base64 (openssl rand -base64 32), base64url or hex; refuses others without repeating them', () => {
    const bytes = randomBytes(32);
    for (const text of [
      bytes.toString('base64'),
      bytes.toString('base64url'),
      bytes.toString('hex'),
      ` ${bytes.toString('hex')}\n`,
    ]) {
      expect(Buffer.from(parseKeyEncryptionKey(text)).equals(bytes)).toBe(true);
    }
    for (const bad of [
      '',
      'too-short-a-key',
      randomBytes(16).toString('base64'),
      randomBytes(48).toString('base64'),
      'x'.repeat(64),
    ]) {
      expect(() => parseKeyEncryptionKey(bad)).toThrow(KeyEncryptionError);
      try {
        parseKeyEncryptionKey(bad);
      } catch (err) {
        if (bad) expect((err as Error).message).not.toContain(bad);
        expect((err as Error).message).toContain('openssl rand -base64 32');
      }
    }
    expect(() => createSecretBox({ current: '' })).toThrow(/no key-encryption key: set ROSTER_KEY_ENCRYPTION_KEY/);
  });
});

describe('configuration of the key-encryption key', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'roster-kek-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('comes from ROSTER_KEY_ENCRYPTION_KEY or a file; previous keys comma-separated; never shown', () => {
    const key = newKey();
    const previous = [newKey(), randomBytes(32).toString('hex')];
    const config = loadConfig({
      env: { ROSTER_KEY_ENCRYPTION_KEY: key, ROSTER_PREVIOUS_KEY_ENCRYPTION_KEYS: previous.join(', ') },
    });
    expect(config.keyEncryption).toEqual({ key, previousKeys: previous });
    const shown = JSON.stringify(redactConfig(config));
    for (const k of [key, ...previous]) expect(shown).not.toContain(k);
    expect(redactConfig(config).keyEncryption).toEqual({ keyId: idOf(key), previousKeyIds: previous.map(idOf) });

    const file = path.join(dir, 'kek');
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    expect(loadConfig({ env: { ROSTER_KEY_ENCRYPTION_KEY_FILE: file } }).keyEncryption.key).toBe(key);
    expect(() => loadConfig({ env: { ROSTER_KEY_ENCRYPTION_KEY_FILE: file, ROSTER_KEY_ENCRYPTION_KEY: key } })).toThrow(
      /set one of ROSTER_KEY_ENCRYPTION_KEY and ROSTER_KEY_ENCRYPTION_KEY_FILE/,
    );
    expect(() => loadConfig({ env: { ROSTER_KEY_ENCRYPTION_KEY_FILE: path.join(dir, 'missing') } })).toThrow(
      /cannot read ROSTER_KEY_ENCRYPTION_KEY_FILE/,
    );
  });

  it('a malformed key stops start-up naming the setting, not the value', () => {
    const bad = 'not-a-32-byte-key-but-long-enough-to-look-secret';
    let err: unknown;
    try {
      loadConfig({ env: { ROSTER_KEY_ENCRYPTION_KEY: bad } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/keyEncryption\.key: a key-encryption key must be 32 random bytes/);
    expect((err as Error).message).not.toContain(bad);
  });

  it('development keeps a generated key in the data folder (mode 0600) and reuses it', () => {
    const dataDir = path.join(dir, 'data');
    const first = developmentKeyEncryptionKey(dataDir);
    expect(first.created).toBe(true);
    expect(first.file).toBe(path.join(dataDir, 'key-encryption-key'));
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(() => parseKeyEncryptionKey(first.key)).not.toThrow();
    expect(readFileSync(first.file, 'utf8').trim()).toBe(first.key);
    expect(developmentKeyEncryptionKey(dataDir)).toEqual({ ...first, created: false });
  });

  it('production without a key refuses to start, naming ROSTER_KEY_ENCRYPTION_KEY', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: PROJECT_ROOT,
      // Nothing inherited: no key may leak in from the shell running the tests.
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        MONGODB_URI: 'mongodb://127.0.0.1:9/unused',
        ROSTER_ADMIN_TOKEN: 'an-admin-token-long-enough',
        ROSTER_DATA_DIR: path.join(dir, 'production-data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(output).toContain('no key-encryption key: set ROSTER_KEY_ENCRYPTION_KEY');
    expect(output).toContain('refusing to start in production');
    // No key was made up for production.
    expect(() => statSync(path.join(dir, 'production-data', 'key-encryption-key'))).toThrow();
  }, 60_000);
});

describe('secrets at rest in the database', () => {
  let client: MongoClient;
  const databases: Db[] = [];
  const running: Roster[] = [];
  const receivers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    client = new MongoClient(inject('mongoUri'));
    await client.connect();
  });
  afterAll(async () => {
    for (const roster of running) await roster.stop();
    for (const receiver of receivers) await receiver.close();
    for (const db of databases) await db.dropDatabase().catch(() => undefined);
    await client.close();
  });

  const freshDb = () => {
    const db = client.db(`t_kek_${randomUUID().replace(/-/g, '').slice(0, 12)}`);
    databases.push(db);
    return db;
  };

  /** A Roster on `db` with these key-encryption keys (as a restart or a second instance would be). */
  async function rosterOn(db: Db, key: string, previousKeys: string[] = []) {
    const config = testConfig({ ...FAST, keyEncryption: { key, previousKeys } });
    const roster = await createRoster({ config, db, logger: createLogger('silent') });
    running.push(roster);
    await roster.start();
    const request = supertest.agent(roster.app.callback());
    return {
      roster,
      request,
      admin: (p: string, body: object) =>
        request.post(`/admin/v1${p}`).set('Authorization', `Bearer ${TOKENS.admin}`).send(body),
      createUser: (name: string) =>
        request
          .post('/scim/v2/Users')
          .set('Authorization', `Bearer ${TOKENS.scim}`)
          .set('Content-Type', 'application/scim+json')
          .send(JSON.stringify(USER(name)))
          .expect(201),
      /** Signs an access-token-shaped JWT and verifies it with the published JWKS; returns its kid. */
      async signAndVerify(): Promise<string> {
        const token = await roster.signingKeys.sign({ sub: 'probe', iss: 'http://roster.test' }, 'at+jwt');
        const jwks = (await request.get('/.well-known/jwks.json').expect(200)).body as { keys: JWK[] };
        await jwtVerify(token, createLocalJWKSet(jwks));
        return decodeProtectedHeader(token).kid!;
      },
    };
  }

  const stopAll = async () => {
    for (const roster of running.splice(0)) await roster.stop();
  };

  async function startPushReceiver() {
    const receiver = await startReceiver();
    receivers.push(receiver);
    return receiver;
  }

  /** Every value in a raw document, keys included, as one string; and whether a member named `d` is anywhere. */
  function hasMember(value: unknown, name: string): boolean {
    if (Array.isArray(value)) return value.some((v) => hasMember(v, name));
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      return Object.entries(value).some(([k, v]) => k === name || hasMember(v, name));
    }
    return false;
  }

  it('a database copy holds no private key or push authorization in clear; only the right key makes Roster work', async () => {
    const db = freshDb();
    const keyA = newKey();
    const receiver = await startPushReceiver();
    const a = await rosterOn(db, keyA);
    const kid = await a.signAndVerify();
    const registered = await a
      .admin('/event-receivers', {
        name: 'mirror',
        delivery: 'push',
        endpoint: receiver.url,
        authorization: 'Bearer push-secret-value-1',
        audience: 'https://mirror.example',
      })
      .expect(201);
    await a.createUser('ann');
    await until(() => receiver.received.length >= 1);
    expect(receiver.received[0].authorization).toBe('Bearer push-secret-value-1');

    // What a database copy holds: no JWK private member `d`, no Authorization value, only JWEs under key A.
    const keys = await db.collection('signing_keys').find({}).toArray();
    expect(keys).toHaveLength(1);
    for (const doc of keys) {
      expect(hasMember(doc, 'd')).toBe(false);
      expect(doc.privateJwk).toBeUndefined();
      expect(decodeProtectedHeader(doc.sealedPrivateJwk as string)).toMatchObject({
        alg: 'dir',
        enc: 'A256GCM',
        kid: idOf(keyA),
        purpose: `signing_keys/${kid}/privateJwk`,
      });
    }
    const stored = await db.collection('event_receivers').findOne({ _id: registered.body.id });
    expect(JSON.stringify(stored)).not.toContain('push-secret-value-1');
    expect(stored!.authorization).toBeUndefined();
    expect(decodeProtectedHeader(stored!.sealedAuthorization as string)).toMatchObject({ kid: idOf(keyA) });
    // The admin API still only says that one is set.
    const shown = await a.request
      .get(`/admin/v1/event-receivers/${registered.body.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .expect(200);
    expect(shown.body.authorization).toBe('set');
    await stopAll();

    // Another key-encryption key on the same database (a stolen copy, or a misconfigured instance):
    // the start fails and says why, and nothing is replaced.
    const keyB = newKey();
    const before = await db.collection('signing_keys').find({}).toArray();
    const refused = await rosterOn(db, keyB).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(KeyEncryptionError);
    const message = (refused as Error).message;
    expect(message).toContain('stored secrets cannot be opened with the configured key-encryption keys');
    expect(message).toContain(
      `1 in signing_keys, 1 in event_receivers sealed with key id ${idOf(keyA)}, which is not configured`,
    );
    expect(message).toContain(`ROSTER_KEY_ENCRYPTION_KEY is key id ${idOf(keyB)}`);
    expect(message).toContain('Start Roster with the key they were sealed with');
    expect(await db.collection('signing_keys').find({}).toArray()).toEqual(before);
    // Below start-up too: the key store cannot sign with what it cannot open, and makes no new key.
    const store = createSigningKeys(db, {
      rotateAfterDays: () => 90,
      publishRetiredForDays: () => 7,
      secrets: createSecretBox({ current: keyB }),
    });
    await expect(store.sign({ sub: 'admin', scope: 'admin' }, 'at+jwt')).rejects.toThrow(
      `cannot sign with signing key ${kid}: signing_keys/${kid}/privateJwk: sealed with key-encryption key id ${idOf(keyA)}, which is not configured`,
    );
    expect(await db.collection('signing_keys').countDocuments()).toBe(1);

    // The right key: same signing key, and the push authorization is opened and sent.
    const again = await rosterOn(db, keyA);
    expect(await again.signAndVerify()).toBe(kid);
    await again.createUser('bob');
    await until(() => receiver.received.length >= 2);
    expect(receiver.received[1].authorization).toBe('Bearer push-secret-value-1');
    await stopAll();
  });

  it('rotation: a start with the new key and the old one as previous re-seals everything; then the old key can go', async () => {
    const db = freshDb();
    const oldKey = newKey();
    const newKeyText = randomBytes(32).toString('hex');
    const receiver = await startPushReceiver();
    const first = await rosterOn(db, oldKey);
    const kid = await first.signAndVerify();
    await first
      .admin('/event-receivers', {
        name: 'r',
        delivery: 'push',
        endpoint: receiver.url,
        authorization: 'Bearer rotating-secret',
        audience: 'r',
      })
      .expect(201);
    await stopAll();

    await rosterOn(db, newKeyText, [oldKey]);
    await stopAll();
    const sealedWith = async () => [
      ...(await db.collection('signing_keys').find({}).toArray()).map(
        (d) => decodeProtectedHeader(d.sealedPrivateJwk as string).kid,
      ),
      ...(await db.collection('event_receivers').find({}).toArray()).map(
        (d) => decodeProtectedHeader(d.sealedAuthorization as string).kid,
      ),
    ];
    expect(await sealedWith()).toEqual([idOf(newKeyText), idOf(newKeyText)]);

    const after = await rosterOn(db, newKeyText);
    expect(await after.signAndVerify()).toBe(kid);
    await after.createUser('cy');
    await until(() => receiver.received.length >= 1);
    expect(receiver.received[0].authorization).toBe('Bearer rotating-secret');
    await stopAll();
    // The old key alone no longer opens anything.
    await expect(rosterOn(db, oldKey)).rejects.toThrow(
      `sealed with key id ${idOf(newKeyText)}, which is not configured`,
    );
  });

  it('seals what an earlier version stored in clear (the migration of existing databases)', async () => {
    const db = freshDb();
    const receiver = await startPushReceiver();
    const pair = await generateKeyPair('ES256', { extractable: true });
    const kid = randomUUID();
    await db.collection<{ _id: string } & Record<string, unknown>>('signing_keys').insertOne({
      _id: kid,
      alg: 'ES256',
      publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' },
      privateJwk: await exportJWK(pair.privateKey),
      createdAt: new Date(),
      generation: 1,
    });
    const receiverId = randomUUID();
    await db.collection<{ _id: string } & Record<string, unknown>>('event_receivers').insertOne({
      _id: receiverId,
      name: 'legacy',
      delivery: 'push',
      endpoint: receiver.url,
      authorization: 'Bearer legacy-clear-secret',
      audience: 'legacy',
      events: [],
      level: 'notice',
      attributes: [],
      enabled: true,
      createdAt: new Date(),
      updatedAt: new Date(),
    });

    const key = newKey();
    const roster = await rosterOn(db, key);
    const keyDoc = await db.collection('signing_keys').findOne({ _id: kid as never });
    expect(keyDoc!.privateJwk).toBeUndefined();
    expect(hasMember(keyDoc, 'd')).toBe(false);
    expect(decodeProtectedHeader(keyDoc!.sealedPrivateJwk as string).kid).toBe(idOf(key));
    const receiverDoc = await db.collection('event_receivers').findOne({ _id: receiverId as never });
    expect(receiverDoc!.authorization).toBeUndefined();
    expect(JSON.stringify(receiverDoc)).not.toContain('legacy-clear-secret');

    // The migrated key still signs (same kid), the migrated authorization is still sent.
    expect(await roster.signAndVerify()).toBe(kid);
    await roster.createUser('dee');
    await until(() => receiver.received.length >= 1);
    expect(receiver.received[0].authorization).toBe('Bearer legacy-clear-secret');
    await stopAll();
  });

  it('a sealed value copied onto another record is refused at start, naming both records', async () => {
    const db = freshDb();
    const key = newKey();
    const first = await rosterOn(db, key);
    const ids: string[] = [];
    for (const name of ['one', 'two']) {
      const res = await first
        .admin('/event-receivers', {
          name,
          delivery: 'push',
          endpoint: 'http://127.0.0.1:9/events',
          authorization: `Bearer ${name}-secret`,
          audience: name,
          enabled: false,
        })
        .expect(201);
      ids.push(res.body.id as string);
    }
    await stopAll();
    const receiversRaw = db.collection<{ _id: string; sealedAuthorization?: string }>('event_receivers');
    const one = await receiversRaw.findOne({ _id: ids[0] });
    await receiversRaw.updateOne({ _id: ids[1] }, { $set: { sealedAuthorization: one!.sealedAuthorization } });
    await expect(rosterOn(db, key)).rejects.toThrow(
      `event_receivers/${ids[1]}/authorization: the stored value was sealed for event_receivers/${ids[0]}/authorization, not for this record`,
    );
  });

  it('createRoster without a key refuses, naming the variable', async () => {
    const config = testConfig({ keyEncryption: { key: '' } });
    await expect(createRoster({ config, db: freshDb(), logger: createLogger('silent') })).rejects.toThrow(
      /no key-encryption key: set ROSTER_KEY_ENCRYPTION_KEY \(or ROSTER_KEY_ENCRYPTION_KEY_FILE\)/,
    );
  });
});
