import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import supertest from 'supertest';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, TOKENS } from '../helpers/roster.js';
import { startReceiver, until, USER, verifySet } from './receiver.js';

/** Two Roster instances on one database share the receivers, the outbox and each receiver's queue. */
const dbName = `t_sets2_${randomUUID().slice(0, 8)}`;
const started: { client: MongoClient; roster: Roster }[] = [];

async function instance() {
  const config = testConfig({
    jobs: { processEvery: '200 milliseconds' },
    securityEvents: {
      push: { timeoutMs: 2000, retryBaseSeconds: 0.05, retryMaxMinutes: 0.01, giveUpAfterHours: 1 },
      poll: { longPollSeconds: 1, maxEvents: 100 },
      sweepEvery: '1 second',
      retainDays: 1,
    },
  });
  const client = new MongoClient(inject('mongoUri'));
  await client.connect();
  const roster = await createRoster({ config, db: client.db(dbName), logger: createLogger(config.log.level) });
  await roster.start();
  started.push({ client, roster });
  return { roster, request: supertest.agent(roster.app.callback()) };
}

afterAll(async () => {
  for (const { roster } of started) await roster.stop();
  await started[0]?.client.db(dbName).dropDatabase();
  for (const { client } of started) await client.close();
});

describe('two instances', () => {
  it('every change reaches a push receiver once (no duplicate jti), whichever instance made it', async () => {
    const a = await instance();
    // The first signing key made before the second instance starts: two instances making the first
    // key at once each sign with their own for up to 30 s (src/keys/signingKeys.ts cache).
    await a.roster.signingKeys.jwks();
    const b = await instance();
    // Some failures on the way, so retries run on both instances' jobs too.
    const receiver = await startReceiver((n) => (n % 4 === 0 ? { status: 503 } : { status: 202 }));
    await a.request
      .post('/admin/v1/event-receivers')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ name: 'shared', delivery: 'push', endpoint: receiver.url, audience: 'shared' })
      .expect(201);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the other instance's receiver list is at most 1 s old
    const ids = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const via = i % 2 ? a : b;
        const res = await via.request
          .post('/scim/v2/Users')
          .set('Authorization', `Bearer ${TOKENS.scim}`)
          .send(USER(`two${i}`))
          .expect(201);
        return res.body.id as string;
      }),
    );
    await until(() => receiver.received.length >= 16, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // sweeps and job polls on both
    const jtis: string[] = [];
    const subjects = new Set<string>();
    const test = { request: a.request } as never;
    for (const got of receiver.received) {
      const claims = await verifySet(test, got.token, 'shared');
      jtis.push(claims.jti!);
      subjects.add((claims.sub_id as { id: string }).id);
    }
    expect(jtis).toHaveLength(16);
    expect(new Set(jtis).size).toBe(16);
    expect([...subjects].sort()).toEqual([...ids].sort());
    await receiver.close();
  });
});
