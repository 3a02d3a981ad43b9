import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import supertest from 'supertest';
import { inject } from 'vitest';
import { DIRECTORY_COLLECTIONS } from '../../src/db/directoryScope.js';
import { shardCollections } from '../../src/devdb/distributedEngine.js';
import { createRoster, type Roster } from '../../src/compose.js';
import { loadConfig, type Config, type Json } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { Resolve } from '../../src/net/outbound.js';
import { useFixture } from './fixture.js';
import { startSmtpSink, type SmtpSink } from './smtpSink.js';

export const TOKENS = {
  scim: 'test-scim-token-manual-0001',
  integration: 'test-scim-token-integration-0001',
  bulk: 'test-scim-token-bulk-0001',
  admin: 'test-admin-token-0001',
  verify: 'test-verify-token-0001',
} as const;

export const SCIM_JSON = 'application/scim+json';

/** The key-encryption key of this test file's Rosters (one per file, so a restart on the same database reads its secrets). */
export const TEST_KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64url');

export interface TestRoster {
  roster: Roster;
  config: Config;
  db: Db;
  client: MongoClient;
  request: supertest.Agent;
  /** supertest agent with the manual SCIM token and SCIM content type preset. */
  scim: (token?: string) => {
    get(path: string): supertest.Test;
    post(path: string, body?: unknown): supertest.Test;
    put(path: string, body?: unknown): supertest.Test;
    patch(path: string, body?: unknown): supertest.Test;
    delete(path: string): supertest.Test;
  };
  admin: (token?: string) => {
    get(path: string): supertest.Test;
    post(path: string, body?: unknown): supertest.Test;
    delete(path: string): supertest.Test;
  };
  close(): Promise<void>;
}

/** The test configuration; `tokens` are the credentials it lists (a fixture's may differ). */
export function testConfig(
  overrides: Json = {},
  env: NodeJS.ProcessEnv = {},
  tokens: Record<keyof typeof TOKENS, string> = TOKENS,
): Config {
  return loadConfig({
    env: { ...env },
    overrides: {
      server: { publicUrl: 'http://roster.test' },
      auth: {
        scimTokens: [
          { name: 'okta', token: tokens.scim, source: 'manual' },
          { name: 'hr-integration', token: tokens.integration, source: 'integration' },
          { name: 'bulk-loader', token: tokens.bulk, source: 'bulk' },
        ],
        adminTokens: [{ name: 'admin', token: tokens.admin }],
        verifyTokens: [{ name: 'portal', token: tokens.verify }],
        // Tests send bursts on purpose; test/security sets real limits.
        verifyRateLimit: { perClientPerMinute: 1e6, perUsernamePerMinute: 1e6, perIpPerMinute: 1e6 },
      },
      log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
      // Receivers and JWKS servers of the tests listen on loopback; test/security shows the default.
      outbound: { allowedDestinations: ['127.0.0.1', '::1'] },
      keyEncryption: { key: TEST_KEY_ENCRYPTION_KEY },
      ...overrides,
    },
  });
}

export interface TestRosterOptions {
  /** The clock Roster reads (default: the real one). */
  now?: () => Date;
  /** Start the jobs (Agenda) and the background work, as `roster serve` does. */
  start?: boolean;
  resolve?: Resolve;
  /** Default: a logger at the configured level (silent unless TEST_LOG_LEVEL). */
  logger?: Logger;
  /** Another database server than the run's: its URI, and its coordinator when it is distributed. */
  database?: { uri: string; coordinatorPort?: number };
}

/** A Roster on its own fresh database in the shared test server. */
export async function startTestRoster(overrides: Json = {}, options: TestRosterOptions = {}): Promise<TestRoster> {
  const config = testConfig(overrides);
  // Commands are observable (commandStarted) so tests can count what a request reads.
  const client = new MongoClient(options.database?.uri ?? inject('mongoUri'), { monitorCommands: true });
  await client.connect();
  const db = client.db(`t_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
  const roster = await createRoster({
    config,
    db,
    logger: options.logger ?? createLogger(config.log.level),
    now: options.now,
    resolve: options.resolve,
  });
  // On the distributed engine (npm run test:distributed) directory data is sharded by directory,
  // as README "Scaling out" says to, once Roster has made its collections and indexes.
  const coordinatorPort = options.database
    ? options.database.coordinatorPort
    : inject('databaseKind') === 'distributed'
      ? inject('coordinatorPort')
      : undefined;
  if (coordinatorPort !== undefined) {
    await shardCollections(coordinatorPort, db.databaseName, [...DIRECTORY_COLLECTIONS]);
  }
  if (options.start) await roster.start();
  return testRosterOn(roster, config, db, client, TOKENS, async () => {
    await roster.stop();
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });
}

/** The TestRoster shape (agents for its SCIM and admin APIs) around a Roster made elsewhere. */
export function testRosterOn(
  roster: Roster,
  config: Config,
  db: Db,
  client: MongoClient,
  tokens: { scim: string; admin: string },
  close: () => Promise<void>,
): TestRoster {
  const request = supertest.agent(roster.app.callback());
  const bearer = (token: string) => `Bearer ${token}`;
  const withBody = (test: supertest.Test, body: unknown) =>
    body === undefined ? test : test.set('Content-Type', SCIM_JSON).send(JSON.stringify(body));
  return {
    roster,
    config,
    db,
    client,
    request,
    scim: (token = tokens.scim) => ({
      get: (p) => request.get(`/scim/v2${p}`).set('Authorization', bearer(token)),
      post: (p, body) => withBody(request.post(`/scim/v2${p}`).set('Authorization', bearer(token)), body),
      put: (p, body) => withBody(request.put(`/scim/v2${p}`).set('Authorization', bearer(token)), body),
      patch: (p, body) => withBody(request.patch(`/scim/v2${p}`).set('Authorization', bearer(token)), body),
      delete: (p) => request.delete(`/scim/v2${p}`).set('Authorization', bearer(token)),
    }),
    admin: (token = tokens.admin) => ({
      get: (p) => request.get(`/admin/v1${p}`).set('Authorization', bearer(token)),
      post: (p, body) => {
        const test = request.post(`/admin/v1${p}`).set('Authorization', bearer(token));
        return body === undefined ? test : test.send(body as object);
      },
      delete: (p) => request.delete(`/admin/v1${p}`).set('Authorization', bearer(token)),
    }),
    close,
  };
}

/**
 * This test file's Roster, started before its tests and closed after them (see useFixture). The
 * overrides may be a function, called when the Roster starts, to use fixtures declared above.
 */
export function useTestRoster(overrides: Json | (() => Json) = {}, options: TestRosterOptions = {}): TestRoster {
  return useFixture(
    () => startTestRoster(typeof overrides === 'function' ? overrides() : overrides, options),
    (t) => t.close(),
  );
}

/** `jobs` settings that let emails, schedules and pushes happen within a test: the queue is polled every 200 ms. */
export const QUICK_JOBS = { processEvery: '200 milliseconds' };

/**
 * A started Roster (jobs running, polled every 200 ms) whose emails go over SMTP to a sink in this
 * process. `mail` overrides are added to the sink's address; everything else as in useTestRoster.
 */
export function useMailRoster(
  overrides: Json | (() => Json) = {},
  options: TestRosterOptions = {},
): { t: TestRoster; sink: SmtpSink } {
  const sink = useFixture(startSmtpSink, (s) => s.close());
  const t = useTestRoster(
    () => {
      const given = typeof overrides === 'function' ? overrides() : overrides;
      return { jobs: QUICK_JOBS, ...given, mail: { smtpUrl: sink.url, ...(given.mail as Json | undefined) } };
    },
    { start: true, ...options },
  );
  return { t, sink };
}
