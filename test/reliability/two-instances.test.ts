import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, TOKENS } from '../helpers/roster.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';
import { LIFECYCLE, sleep, SCIM_JSON, uniqueName, userBody, waitUntil } from './support.js';

/**
 * Issue 6 "Reliability": two Roster instances on one database (two processes' worth: each its own
 * MongoClient, Koa app and Agenda). Uniqueness holds across them; each scheduled change and each
 * email happens exactly once.
 */

interface Instance {
  name: string;
  client: MongoClient;
  roster: Roster;
  request: supertest.Agent;
}

let sink: SmtpSink;
let dbName: string;
let db: Db;
const instances: Instance[] = [];
/** Several job polls at 200 ms: a duplicate run would have happened by then. */
const SETTLE_MS = 1500;

async function startInstance(name: string): Promise<Instance> {
  const config = testConfig({
    mail: { smtpUrl: sink.url },
    jobs: { processEvery: '200 milliseconds' },
    users: { defaultState: { manual: 'STAGED', integration: 'ACTIVE', bulk: 'STAGED' } },
  });
  const client = new MongoClient(inject('mongoUri'));
  await client.connect();
  const roster = await createRoster({ config, db: client.db(dbName), logger: createLogger(config.log.level) });
  await roster.start();
  const instance = { name, client, roster, request: supertest.agent(roster.app.callback()) };
  instances.push(instance);
  return instance;
}

const scimPost = (i: Instance, path: string, body: unknown, token: string = TOKENS.scim) =>
  i.request
    .post(`/scim/v2${path}`)
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', SCIM_JSON)
    .send(JSON.stringify(body))
    .timeout(10_000);

const adminPost = (i: Instance, path: string, body: unknown) =>
  i.request
    .post(`/admin/v1${path}`)
    .set('Authorization', `Bearer ${TOKENS.admin}`)
    .send(body as object)
    .timeout(10_000);

async function eventCount(type: string, userId: string): Promise<number> {
  return db.collection('events').countDocuments({ type, 'resource.id': userId });
}

const mailsTo = (address: string) =>
  sink.messages.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));

/** Who holds an address (company or alternate) and its claim: evidence when uniqueness breaks. */
async function holdersOf(email: string): Promise<string> {
  const address = email.toLowerCase();
  const users = await db
    .collection('users')
    .find({ $or: [{ 'norm.companyEmail': address }, { 'norm.alternateEmail': address }] })
    .project({ userName: 1, 'norm.companyEmail': 1, 'norm.alternateEmail': 1, 'meta.created': 1 })
    .toArray();
  const claims = await db
    .collection('email_claims')
    .find({ _id: address as never })
    .toArray();
  return `users holding ${address}: ${JSON.stringify(users)}; claim: ${JSON.stringify(claims)}`;
}

let a: Instance;
let b: Instance;

beforeAll(async () => {
  sink = await startSmtpSink();
  dbName = `t_two_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  a = await startInstance('A');
  b = await startInstance('B');
  db = a.client.db(dbName);
});

afterAll(async () => {
  for (const i of instances) await i.roster.stop().catch(() => undefined);
  await db?.dropDatabase().catch(() => undefined);
  for (const i of instances) await i.client.close().catch(() => undefined);
  await sink?.close();
});

describe('two Roster instances on one database', () => {
  it('20 parallel creates of one userName (in varying case) across both: exactly one 201', async () => {
    const userName = uniqueName('twin');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) => {
        const name = n % 3 === 0 ? userName.toUpperCase() : userName;
        return scimPost(n % 2 ? b : a, '/Users', userBody(name, `${userName}-${n}@corp.example`));
      }),
    );
    const statuses = results.map((r) => r.status);
    expect(
      statuses.filter((s) => s === 201),
      JSON.stringify(statuses),
    ).toHaveLength(1);
    const others = results.filter((r) => r.status !== 201);
    expect(
      others.filter((r) => r.status !== 409 || r.body.scimType !== 'uniqueness').map((r) => [r.status, r.body]),
      'the others are 409 uniqueness',
    ).toEqual([]);
    expect(await db.collection('users').countDocuments({ 'norm.userName': userName.toLowerCase() })).toBe(1);
  });

  it('20 parallel creates with one company email across both: exactly one 201', async () => {
    const email = `${uniqueName('shared')}@corp.example`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        scimPost(n % 2 ? b : a, '/Users', userBody(uniqueName(`mail${n}`), n % 4 === 1 ? email.toUpperCase() : email)),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(
      statuses.filter((s) => s === 201),
      `${JSON.stringify(statuses)}; ${await holdersOf(email)}`,
    ).toHaveLength(1);
    expect(
      results
        .filter((r) => r.status !== 201 && (r.status !== 409 || r.body.scimType !== 'uniqueness'))
        .map((r) => [r.status, r.body]),
      'the others are 409 uniqueness',
    ).toEqual([]);
    expect(await db.collection('users').countDocuments({ 'norm.emails': email.toLowerCase() })).toBe(1);
  });

  it('one address as company email on one instance and alternate email on the other: exactly one 201', async () => {
    const email = `${uniqueName('alt')}@home.example`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) => {
        const userName = uniqueName(`alt${n}`);
        const body =
          n % 2
            ? userBody(userName, email)
            : {
                ...userBody(userName),
                schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', LIFECYCLE],
                [LIFECYCLE]: { alternateEmail: email },
              };
        return scimPost(n % 2 ? a : b, '/Users', body);
      }),
    );
    const statuses = results.map((r) => r.status);
    expect(
      statuses.filter((s) => s === 201),
      `${JSON.stringify(statuses)}; ${await holdersOf(email)}`,
    ).toHaveLength(1);
    expect(
      statuses.filter((s) => s !== 201 && s !== 409),
      JSON.stringify(statuses),
    ).toEqual([]);
  });

  it('a due scheduled activation with email: one state change, one email, across both instances', async () => {
    const users: { id: string; email: string }[] = [];
    for (let n = 0; n < 5; n++) {
      const userName = uniqueName(`due${n}`);
      const email = `${userName}@corp.example`;
      const res = await scimPost(n % 2 ? b : a, '/Users', userBody(userName, email));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body[LIFECYCLE].state).toBe('STAGED');
      users.push({ id: res.body.id as string, email });
    }
    const at = new Date(Date.now() + 1000).toISOString();
    for (const [n, user] of users.entries()) {
      const res = await adminPost(n % 2 ? a : b, `/users/${user.id}/schedules`, { state: 'ACTIVE', at });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    await waitUntil(
      'every scheduled user to get the activation email',
      async () => (users.every((u) => mailsTo(u.email).length >= 1) ? true : undefined),
      15_000,
    );
    await sleep(SETTLE_MS);
    for (const user of users) {
      expect(await eventCount('user_activated', user.id), `user_activated of ${user.email}`).toBe(1);
      expect(await eventCount('user_activation_email', user.id), `user_activation_email of ${user.email}`).toBe(1);
      expect(mailsTo(user.email), `emails to ${user.email}`).toHaveLength(1);
      const stored = await db.collection('users').findOne({ _id: user.id as never });
      expect(stored?.lifecycle.state).toBe('ACTIVE');
    }
    expect(await db.collection('schedules').countDocuments({ userId: { $in: users.map((u) => u.id) } })).toBe(0);
  });

  it('each resent activation email is sent once', async () => {
    const userName = uniqueName('resend');
    const email = `${userName}@corp.example`;
    // Integration source: created ACTIVE with a pending password, so the activation email goes out.
    const created = await scimPost(a, '/Users', userBody(userName, email), TOKENS.integration);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await waitUntil('the first activation email', async () => (mailsTo(email).length >= 1 ? true : undefined), 15_000);

    const resends = await Promise.all([
      adminPost(b, `/users/${id}/activation-email`, {}),
      adminPost(a, `/users/${id}/activation-email`, {}),
    ]);
    for (const r of resends) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const more = await adminPost(b, `/users/${id}/activation-email`, {});
    expect(more.status, JSON.stringify(more.body)).toBe(200);

    await waitUntil('the three resent emails', async () => (mailsTo(email).length >= 4 ? true : undefined), 15_000);
    await sleep(SETTLE_MS);
    expect(mailsTo(email), 'one first email and three resends').toHaveLength(4);
    expect(await eventCount('user_activation_email', id)).toBe(4);
    const outbox = await db.collection('emails').find({ userId: id }).toArray();
    expect(outbox.map((e) => e.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
  });
});
