import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { testConfig, TOKENS } from '../helpers/roster.js';

let lines: string[] = [];
let client: MongoClient;
let roster: Roster;
beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  roster = await createRoster({
    config: testConfig(),
    db: client.db(`t_log_${randomUUID().slice(0, 8)}`),
    logger: createLogger('debug', sink),
  });
});
afterAll(async () => {
  await roster.stop();
  await client.close();
});

describe('structured logs', () => {
  it('write one JSON line per request with a request id, and never a token or a password', async () => {
    lines = [];
    const password = 'Very-Secret-Passw0rd-42';
    const request = supertest(roster.app.callback());
    await request
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify({ userName: 'logged@example.com', password }));
    await request.get('/scim/v2/Users').set('Authorization', 'Bearer a-wrong-token-that-must-not-be-logged');
    await request
      .post('/auth/verify')
      .set('Authorization', `Bearer ${TOKENS.verify}`)
      .send({ username: 'logged@example.com', password });
    await request.get('/activate?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; requestId?: string });
    const requests = parsed.filter((l) => l.msg === 'request');
    expect(requests.length).toBe(4);
    for (const line of requests) expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const all = lines.join('\n');
    for (const secret of [
      TOKENS.scim,
      TOKENS.verify,
      'a-wrong-token-that-must-not-be-logged',
      password,
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
