import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair } from 'jose';
import { MongoClient, type Db } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, TOKENS } from '../helpers/roster.js';
import { ASSERTION_TYPE, clientAssertion } from './oauthHelpers.js';

const lines: string[] = [];
let client: MongoClient;
let db: Db;
let roster: Roster;
let request: supertest.Agent;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`t_oauth_log_${randomUUID().slice(0, 8)}`);
  const config = testConfig({ server: { publicUrl: 'http://roster.test' } });
  roster = await createRoster({ config, db, logger: createLogger('trace', sink) });
  request = supertest.agent(roster.app.callback());
});
afterAll(async () => {
  await roster.stop();
  await db.dropDatabase();
  await client.close();
});

const admin = (method: 'get' | 'post', path: string) =>
  request[method](`/admin/v1${path}`).set('Authorization', `Bearer ${TOKENS.admin}`);

describe('OAuth secrets and tokens', () => {
  it('never appear in the logs, the events or the stored clients', async () => {
    const secrets: string[] = [];
    const created = await admin('post', '/oauth/clients').send({ name: 'logged', source: 'manual' }).expect(201);
    const id = created.body.client_id as string;
    secrets.push(created.body.client_secret);
    const rotated = await admin('post', `/oauth/clients/${id}/rotate-secret`).expect(200);
    secrets.push(rotated.body.client_secret);

    const basic = Buffer.from(`${id}:${rotated.body.client_secret}`).toString('base64');
    const viaBasic = await request
      .post('/oauth/token')
      .set('Authorization', `Basic ${basic}`)
      .type('form')
      .send('grant_type=client_credentials')
      .expect(200);
    secrets.push(viaBasic.body.access_token);
    const viaPost = await request
      .post('/oauth/token')
      .type('form')
      .send(
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: id,
          client_secret: created.body.client_secret,
        }).toString(),
      )
      .expect(200);
    secrets.push(viaPost.body.access_token);
    const wrong = `rcs_${randomUUID()}-wrong`;
    secrets.push(wrong);
    await request
      .post('/oauth/token')
      .type('form')
      .send(new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: wrong }).toString())
      .expect(401);

    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwtClient = await admin('post', '/oauth/clients')
      .send({ name: 'jwt', source: 'bulk', jwk: await exportJWK(publicKey) })
      .expect(201);
    const assertion = await clientAssertion(privateKey, jwtClient.body.client_id, new Date());
    secrets.push(assertion);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
    });
    const viaJwt = await request.post('/oauth/token').type('form').send(form.toString()).expect(200);
    secrets.push(viaJwt.body.access_token);
    await request.post('/oauth/token').type('form').send(form.toString()).expect(401); // replay

    for (const token of [viaBasic.body.access_token, viaJwt.body.access_token]) {
      await request.get('/scim/v2/Users').set('Authorization', `Bearer ${token}`).expect(200);
    }
    await request.get('/scim/v2/Users').set('Authorization', `Bearer ${viaPost.body.access_token}x`).expect(401);

    const events = await db.collection('events').find({}).toArray();
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'oauth_client_created',
        'oauth_client_secret_rotated',
        'oauth_token_issued',
        'oauth_client_auth_failed',
      ]),
    );
    const stored = JSON.stringify([events, await db.collection('oauth_clients').find({}).toArray()]);
    const logged = lines.join('\n');
    expect(logged).toContain('"path":"/oauth/token"');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(20);
      // The whole value, and its signature part for JWTs (the part that makes it usable).
      for (const piece of [secret, secret.split('.').at(-1)!]) {
        expect(logged).not.toContain(piece);
        expect(stored).not.toContain(piece);
      }
    }
  });
});
