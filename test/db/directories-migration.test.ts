/**
 * Upgrading a database of the release before directories (commit a434ff6) in place: it becomes the
 * default directory's (src/db/migrations.ts moveIntoDefaultDirectory, dropIndexesWithoutDirectory).
 *
 * test/fixtures/pre-directories.json was written by THAT release's code through its HTTP API (a
 * one-off script run in a checkout of a434ff6, not kept in this repository): six users (ACTIVE,
 * STAGED, one with an alternate email), two groups (one nested in the other), two pending
 * scheduled activations a day ahead, one activation email enqueued while jobs were not started (its
 * outbox document and Agenda job pending), a poll security-event receiver, an OAuth client, events;
 * every collection with its documents (EJSON canonical) and its indexes, the key-encryption key and
 * tokens of that Roster, and what its SCIM API answered (`expected`).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BSON, MongoClient, type Db, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import type { Config, Json } from '../../src/config/index.js';
import { moveIntoDefaultDirectory } from '../../src/db/migrations.js';
import { DIRECTORY_COLLECTIONS } from '../../src/db/directoryScope.js';
import { AGENDA_COLLECTION, SEND_EMAIL_JOB } from '../../src/jobs/index.js';
import { STATE_CHANGE_JOB } from '../../src/lifecycle/service.js';
import { createLogger } from '../../src/logger.js';
import { PUSH_JOB } from '../../src/securityEvents/index.js';
import { createTestDirectory } from '../helpers/directories.js';
import { QUICK_JOBS, testConfig, testRosterOn, TOKENS, type TestRoster } from '../helpers/roster.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';

interface Fixture {
  keyEncryptionKey: string;
  tokens: typeof TOKENS & { oauthClient: { client_id: string; client_secret: string }; pollToken: string };
  ids: {
    users: Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin' | 'frank', string>;
    groups: { engineering: string; allStaff: string };
    schedules: { dave: string; erin: string };
    receiver: string;
  };
  pendingEmail: { to: string; kind: string };
  collections: Record<string, { documents: Document[]; indexes: Document[] }>;
  expected: {
    scim: Record<string, { path: string; status: number; body: Json }>;
    schedules: { schedules: Json[] };
  };
}

const { EJSON } = BSON;

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/pre-directories.json', import.meta.url), 'utf8'),
) as Fixture;
const ids = fixture.ids;
const DEFAULT = 'default';
const DIRECTORY_JOB_NAMES = [SEND_EMAIL_JOB, STATE_CHANGE_JOB, PUSH_JOB];
/** Several job polls at 200 ms: a second run would have happened by then. */
const SETTLE_MS = 1500;

/** The collection's documents as the old release stored them (Int32, Long, Date, ObjectId kept). */
const documentsOf = (name: string): Document[] =>
  EJSON.deserialize(fixture.collections[name].documents, { relaxed: false }) as Document[];
/** Every index of the collection as the old release made it (its `key`, `name`, options), but `_id_`. */
const oldIndexesOf = (name: string) =>
  (EJSON.deserialize(fixture.collections[name].indexes, { relaxed: false }) as Document[]).filter(
    (index) => index.name !== '_id_',
  ) as { name: string; key: Record<string, number> }[];

/** The fixture's database restored into `db`: its documents, and its indexes as the old release made them. */
async function restore(db: Db): Promise<void> {
  for (const name of Object.keys(fixture.collections)) {
    await db.createCollection(name);
    const documents = documentsOf(name);
    if (documents.length) await db.collection(name).insertMany(documents);
    for (const index of oldIndexesOf(name)) {
      const { key, v: _v, ns: _ns, ...options } = index as Document;
      await db.collection(name).createIndex(key as Document, options);
    }
  }
}

function configFor(overrides: Json = {}): Config {
  return testConfig({ keyEncryption: { key: fixture.keyEncryptionKey }, ...overrides }, {}, fixture.tokens);
}

const clients: MongoClient[] = [];
const dbs: Db[] = [];
const rosters: Roster[] = [];

async function freshDb(label: string): Promise<Db> {
  const client = new MongoClient(inject('mongoUri'));
  await client.connect();
  clients.push(client);
  const db = client.db(`t_mig_${label}_${randomUUID().replace(/-/g, '').slice(0, 10)}`);
  dbs.push(db);
  return db;
}

/** A new Roster on `db` (not started), as a TestRoster so the helpers work with it. */
async function startOn(db: Db, overrides: Json = {}): Promise<TestRoster> {
  const config = configFor(overrides);
  const roster = await createRoster({ config, db, logger: createLogger(config.log.level) });
  rosters.push(roster);
  return testRosterOn(roster, config, db, clients[clients.length - 1], fixture.tokens, () => roster.stop());
}

/** Every collection: its documents (EJSON canonical, by _id) and its indexes (name, key, unique). */
async function dump(db: Db): Promise<Record<string, { documents: string[]; indexes: string[] }>> {
  const out: Record<string, { documents: string[]; indexes: string[] }> = {};
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    const documents = await db.collection(name).find().sort({ _id: 1 }).toArray();
    const indexes = await db.collection(name).listIndexes().toArray();
    out[name] = {
      documents: documents.map((d) => EJSON.stringify(d, { relaxed: false })),
      indexes: indexes.map((i) => JSON.stringify({ name: i.name, key: i.key, unique: i.unique ?? false })).sort(),
    };
  }
  return out;
}

/** A dump without what differs between two databases migrated at different times: the default directory's dates. */
async function migratedState(db: Db) {
  const state = await dump(db);
  if (state.directories) {
    state.directories.documents = state.directories.documents.map((d) =>
      JSON.stringify(JSON.parse(d), (key, value: unknown) => (['createdAt', 'updatedAt'].includes(key) ? '*' : value)),
    );
  }
  return state;
}

const counts = (state: Awaited<ReturnType<typeof dump>>) =>
  Object.fromEntries(Object.entries(state).map(([name, c]) => [name, c.documents.length]));

/** What must hold of a database migrated from the fixture (whatever route it took there). */
async function expectMigrated(db: Db): Promise<void> {
  for (const name of DIRECTORY_COLLECTIONS) {
    const documents = await db.collection(name).find().toArray();
    expect(
      documents.filter((d) => d.directory !== DEFAULT).map((d) => d._id),
      `documents of ${name} outside the default directory`,
    ).toEqual([]);
    if (fixture.collections[name] && name !== 'email_claims') {
      expect(documents.length, `documents of ${name}`).toBe(fixture.collections[name].documents.length);
    }
    const made = (await db.listCollections({ name }, { nameOnly: true }).toArray()).length > 0;
    const indexes = made
      ? ((await db.collection(name).listIndexes().toArray()) as { name: string; key: object }[])
      : [];
    expect(
      // A directory key's unique index (dkey.<name>, which holds the directory) is one field on FerretDB.
      indexes
        .filter(
          (i) =>
            i.name !== '_id_' && Object.keys(i.key)[0] !== 'directory' && !Object.keys(i.key)[0].startsWith('dkey.'),
        )
        .map((i) => i.name),
      `indexes of ${name} not starting with directory`,
    ).toEqual([]);
    for (const old of fixture.collections[name] ? oldIndexesOf(name) : []) {
      expect(
        indexes.filter((i) => JSON.stringify(i.key) === JSON.stringify(old.key)).map((i) => i.name),
        `the old index ${name}.${old.name} ${JSON.stringify(old.key)}`,
      ).toEqual([]);
    }
  }
  const oldClaims = documentsOf('email_claims') as { _id: string; userId: string; at?: Date }[];
  const claims = await db.collection<{ _id: string }>('email_claims').find().sort({ _id: 1 }).toArray();
  expect(claims).toEqual(
    oldClaims
      .map((c) => ({ ...c, _id: `${DEFAULT}:${c._id}`, email: c._id, directory: DEFAULT }))
      .sort((a, b) => (a._id < b._id ? -1 : 1)),
  );
  const jobs = await db
    .collection(AGENDA_COLLECTION)
    .find({ name: { $in: DIRECTORY_JOB_NAMES } })
    .toArray();
  expect(jobs.map((j) => [j.name, j.data?.directory])).toEqual(jobs.map((j) => [j.name, DEFAULT]));
}

afterAll(async () => {
  for (const roster of rosters) await roster.stop().catch(() => undefined);
  for (const db of dbs) await db.dropDatabase().catch(() => undefined);
  for (const client of clients) await client.close().catch(() => undefined);
});

describe('the fixture (written by the release before directories)', () => {
  it('holds what the migration has to move', () => {
    const names = Object.keys(fixture.collections);
    expect(names).toEqual(expect.arrayContaining(['users', 'groups', 'memberships', 'email_claims', 'emails']));
    expect(documentsOf('users')).toHaveLength(6);
    expect(documentsOf('users').some((u) => 'directory' in u)).toBe(false);
    expect(JSON.parse(JSON.stringify(oldIndexesOf('users')))).toContainEqual(
      expect.objectContaining({ name: 'userName_unique', key: { 'norm.userName': 1 }, unique: true }),
    );
    expect(documentsOf('email_claims').map((c) => c._id)).toContain('bob@home.example');
    expect(
      documentsOf(AGENDA_COLLECTION)
        .map((j) => j.name)
        .sort(),
    ).toEqual([SEND_EMAIL_JOB, STATE_CHANGE_JOB, STATE_CHANGE_JOB]);
    expect(documentsOf('emails').map((e) => [e.to, e.status])).toEqual([[fixture.pendingEmail.to, 'pending']]);
    expect(JSON.stringify(fixture).length).toBeLessThan(200_000);
  });

  it('is not what a migrated database looks like (the checks below can fail)', async () => {
    const db = await freshDb('unmigrated');
    await restore(db);
    await expect(expectMigrated(db)).rejects.toThrow(/outside the default directory/);
    for (const name of DIRECTORY_COLLECTIONS) {
      await db.collection(name).updateMany({}, { $set: { directory: DEFAULT } });
    }
    await expect(expectMigrated(db)).rejects.toThrow(/not starting with directory/);
  });
});

describe('a database of the release before directories, started by this one', () => {
  let db: Db;
  let t: TestRoster;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
    db = await freshDb('main');
    await restore(db);
    // A day has passed: Dave's scheduled activation is due (Agenda reads the real clock). Erin's is not.
    const daveJob = await db
      .collection(AGENDA_COLLECTION)
      .updateOne(
        { name: STATE_CHANGE_JOB, 'data.scheduleId': ids.schedules.dave },
        { $set: { nextRunAt: new Date() } },
      );
    expect(daveJob.modifiedCount).toBe(1);
    t = await startOn(db, { jobs: QUICK_JOBS, mail: { smtpUrl: sink.url } });
  });

  afterAll(async () => {
    await t?.roster.stop();
    await sink?.close();
  });

  it('answers every SCIM read as the old release did', async () => {
    for (const [name, { path, status, body }] of Object.entries(fixture.expected.scim)) {
      const res = await t.scim().get(path);
      expect({ name, status: res.status, body: res.body }).toEqual({ name, status, body });
    }
    const schedules = await t.admin().get('/schedules');
    expect(schedules.status).toBe(200);
    expect(schedules.body).toEqual(fixture.expected.schedules);
  });

  it('moved every document into the default directory, re-made the indexes with it first, keyed the claims by it', async () => {
    await expectMigrated(db);
    expect(await db.collection('directories').countDocuments({ _id: DEFAULT } as never)).toBe(1);
  });

  it('still refuses a taken email (company or alternate) in the default directory', async () => {
    const taken = await t.scim().post('/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'alice2',
      emails: [{ value: 'ALICE@corp.example', type: 'work', primary: true }],
    });
    expect(taken.status, JSON.stringify(taken.body)).toBe(409);
    const alternate = await t.scim().post('/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'bob2',
      emails: [{ value: 'bob@home.example', type: 'work', primary: true }],
    });
    expect(alternate.status, JSON.stringify(alternate.body)).toBe(409);
    const sameName = await t.scim().post('/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'Carol',
    });
    expect(sameName.status, JSON.stringify(sameName.body)).toBe(409);
    expect(await db.collection('users').countDocuments()).toBe(6);
  });

  it('lets a second directory have the same userName and email', async () => {
    const second = await createTestDirectory(t, 'second');
    const res = await second.scim().post('/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'alice',
      emails: [{ value: 'alice@corp.example', type: 'work', primary: true }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await db.collection('users').countDocuments({ 'norm.userName': 'alice' })).toBe(2);
    expect(
      (await db.collection('email_claims').find({ email: 'alice@corp.example' }).toArray()).map((c) => c._id).sort(),
    ).toEqual(['default:alice@corp.example', `${second.id}:alice@corp.example`].sort());
    // ...and the default directory's alice is the one it had.
    const old = await t.scim().get(fixture.expected.scim.userNested.path);
    expect(old.body).toEqual(fixture.expected.scim.userNested.body);
  });

  it('sends the pending email exactly once, and fires the due schedule exactly once, once jobs start', async () => {
    await t.roster.start();
    await sink.waitFor(1);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const dave = await db.collection('users').findOne({ _id: ids.users.dave } as never);
      if (dave?.lifecycle.state === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    expect(sink.messages.map((m) => [m.to, m.subject.length > 0])).toEqual([[[fixture.pendingEmail.to], true]]);
    const email = await db.collection('emails').findOne({ to: fixture.pendingEmail.to });
    expect(email?.status).toBe('sent');
    expect(email?.directory).toBe(DEFAULT);
    const events = db.collection('events');
    expect(
      await events.countDocuments({ type: 'user_activation_email', 'resource.id': ids.users.frank }),
      'activation email events of the pending email',
    ).toBe(1);
    const dave = await db.collection('users').findOne({ _id: ids.users.dave } as never);
    expect(dave?.lifecycle.state).toBe('ACTIVE');
    expect(await events.countDocuments({ type: 'user_activated', 'resource.id': ids.users.dave })).toBe(1);
    expect(await events.countDocuments({ type: 'user_activation_schedule_fired', 'resource.id': ids.users.dave })).toBe(
      1,
    );
    expect((await db.collection('schedules').find().toArray()).map((s) => s._id)).toEqual([ids.schedules.erin]);
    const erin = await db.collection('users').findOne({ _id: ids.users.erin } as never);
    expect(erin?.lifecycle.state).toBe('STAGED');
  });

  it("finds the pending schedule's job to cancel it", async () => {
    const job = { name: STATE_CHANGE_JOB, 'data.scheduleId': ids.schedules.erin };
    expect((await db.collection(AGENDA_COLLECTION).findOne(job))?.data).toEqual({
      scheduleId: ids.schedules.erin,
      directory: DEFAULT,
    });
    const res = await t.admin().delete(`/schedules/${ids.schedules.erin}`);
    expect(res.status, res.text).toBe(204);
    expect(await db.collection(AGENDA_COLLECTION).countDocuments(job)).toBe(0);
    expect(await db.collection('schedules').countDocuments()).toBe(0);
    const erin = await t.scim().get(`/Users/${ids.users.erin}`);
    expect(
      erin.body['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User'].scheduledActivation,
    ).toBeUndefined();
  });

  it('gives the OAuth client a token that works on /scim/v2', async () => {
    const { client_id, client_secret } = fixture.tokens.oauthClient;
    const token = await t.request
      .post('/oauth/token')
      .type('form')
      .send(new URLSearchParams({ grant_type: 'client_credentials', client_id, client_secret }).toString());
    expect(token.status, token.text).toBe(200);
    const res = await t.scim(token.body.access_token as string).get(`/Users/${ids.users.carol}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.userName).toBe('carol');
  });

  it("lets the poll receiver read the old release's security events", async () => {
    const res = await t.request
      .post('/security-events/poll')
      .set('Authorization', `Bearer ${fixture.tokens.pollToken}`)
      .send({ returnImmediately: true, maxEvents: 100 });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.sets ?? {}).length).toBeGreaterThanOrEqual(
      fixture.collections.security_event_outbox.documents.length,
    );
  });
});

/** The state one start makes of the fixture (the first test below), which every other route must end in. */
let reference: Awaited<ReturnType<typeof migratedState>>;

describe('the migration, again and at once', () => {
  it('a second start on a migrated database changes nothing', async () => {
    const db = await freshDb('again');
    await restore(db);
    await (await startOn(db)).close();
    await expectMigrated(db);
    reference = await migratedState(db);
    await (await startOn(db)).close();
    expect(await migratedState(db)).toEqual(reference);
  });

  /**
   * Two instances (each its own client, as two processes) start on one old database at once. A race
   * does not lose every time, so it is run a few times over, each on its own copy of the fixture.
   */
  describe('two instances starting at once', () => {
    const ROUNDS = 3;
    const rounds: { db: Db; outcomes: string[] }[] = [];

    beforeAll(async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const db = await freshDb(`race${round}`);
        await restore(db);
        const other = new MongoClient(inject('mongoUri'));
        await other.connect();
        clients.push(other);
        const settled = await Promise.allSettled([startOn(db), startOn(other.db(db.databaseName))]);
        const outcomes: string[] = [];
        for (const o of settled) {
          if (o.status === 'fulfilled') {
            await o.value.close();
            outcomes.push('started');
          } else {
            const err = o.reason as Error;
            const at = String(err.stack)
              .split('\n')
              .find((line) => line.includes('/src/'))
              ?.trim();
            outcomes.push(`${err.message} (${at})`);
          }
        }
        rounds.push({ db, outcomes });
      }
    });

    it('both start, every time', () => {
      expect(rounds.map((r) => r.outcomes)).toEqual(rounds.map(() => ['started', 'started']));
    });

    it('end as one start does, nothing duplicated', async () => {
      for (const { db } of rounds) {
        // The one that started (at least) migrated everything by itself: no third start here.
        await expectMigrated(db);
        const state = await migratedState(db);
        expect(counts(state)).toEqual(counts(reference));
        expect(state).toEqual(reference);
      }
    });
  });
});

describe('an interrupted migration, resumed by the next start', () => {
  it('resumes after moveIntoDefaultDirectory failed part-way (after the claims, users and groups)', async () => {
    const db = await freshDb('cut');
    await restore(db);
    // The database connection drops when the migration reaches the events.
    const cut = new Proxy(db, {
      get(target, key, receiver) {
        if (key !== 'collection') return Reflect.get(target, key, receiver) as unknown;
        return (name: string) => {
          const collection = target.collection(name);
          if (name !== 'events') return collection;
          return new Proxy(collection, {
            get(c, k, r) {
              if (k === 'updateMany') return () => Promise.reject(new Error('connection lost'));
              return Reflect.get(c, k, r) as unknown;
            },
          });
        };
      },
    });
    await expect(
      moveIntoDefaultDirectory(cut, { collection: AGENDA_COLLECTION, names: DIRECTORY_JOB_NAMES }),
    ).rejects.toThrow('connection lost');
    // Part-way indeed: users moved, events not.
    expect(await db.collection('users').countDocuments({ directory: { $exists: false } })).toBe(0);
    expect(await db.collection('events').countDocuments({ directory: { $exists: false } })).toBeGreaterThan(0);
    await (await startOn(db)).close();
    await expectMigrated(db);
    expect(await migratedState(db)).toEqual(reference);
  });

  it('resumes with some claims copied but their old ones not removed, and half the users moved', async () => {
    const db = await freshDb('half');
    await restore(db);
    const claims = db.collection<{ _id: string }>('email_claims');
    const old = await claims.find().sort({ _id: 1 }).toArray();
    // Interrupted between the copy of the first three claims and the removal of their old ones.
    await claims.insertMany(
      old.slice(0, 3).map((c) => ({ ...c, _id: `${DEFAULT}:${c._id}`, email: c._id, directory: DEFAULT })),
    );
    const users = await db.collection('users').find().sort({ _id: 1 }).toArray();
    await db
      .collection('users')
      .updateMany({ _id: { $in: users.slice(0, 3).map((u) => u._id) } }, { $set: { directory: DEFAULT } });
    await (await startOn(db)).close();
    await expectMigrated(db);
    expect(await migratedState(db)).toEqual(reference);
  });

  it('resumes after the new indexes were made but the old ones not yet dropped', async () => {
    const db = await freshDb('idx');
    await restore(db);
    const first = await startOn(db);
    await first.close();
    // As if the previous start stopped before dropping the old indexes.
    for (const name of ['users', 'groups', 'email_claims']) {
      for (const index of oldIndexesOf(name)) {
        const { key, v: _v, ns: _ns, ...options } = index as Document;
        await db.collection(name).createIndex(key as Document, options);
      }
    }
    await (await startOn(db)).close();
    await expectMigrated(db);
    expect(await migratedState(db)).toEqual(reference);
  });
});
