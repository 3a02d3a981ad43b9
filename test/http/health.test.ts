import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { engineAvailable, startPostgresEngine, type EmbeddedDatabase } from '../../src/devdb/embedded.js';
import { createLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/roster.js';

// A database server of this file's own, so stopping it does not disturb other test files.
let stateDir: string;
let database: EmbeddedDatabase;
let client: MongoClient;
let roster: Roster;
beforeAll(async () => {
  if (!engineAvailable()) throw new Error('the database engine is needed for this test: run scripts/setup-engine.sh');
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'roster-health-'));
  database = await startPostgresEngine(stateDir);
  client = new MongoClient(database.uri, { serverSelectionTimeoutMS: 1000 });
  await client.connect();
  const config = testConfig();
  roster = await createRoster({ config, db: client.db('health'), logger: createLogger('silent') });
});
afterAll(async () => {
  await client.close();
  await database.stop();
  rmSync(stateDir, { recursive: true, force: true }); // a PostgreSQL cluster: tens of MB
});

describe('health and readiness', () => {
  it('is live and ready while the database answers', async () => {
    const request = supertest(roster.app.callback());
    expect((await request.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.database).toBe('ok');
  });

  it('stays live but not ready when the database is stopped', async () => {
    await database.stop();
    const request = supertest(roster.app.callback());
    expect((await request.get('/healthz')).status).toBe(200);
    const ready = await request.get('/readyz');
    expect(ready.status).toBe(503);
    // Unauthenticated: no driver message (it names hosts and ports), only the state.
    expect(ready.body).toEqual({ status: 'unavailable', database: 'unreachable' });
  });

  it('is not ready once shutdown has begun', async () => {
    roster.setAccepting(false);
    const ready = await supertest(roster.app.callback()).get('/readyz');
    expect(ready.status).toBe(503);
  });
});
