import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { createRoster, type Roster } from '../../src/compose.js';
import type { Config } from '../../src/config/index.js';
import { freePort, startPostgresEngine, type EmbeddedDatabase } from '../../src/devdb/embedded.js';
import { connectDatabase, type ConnectOptions } from '../../src/db/mongo.js';
import { createLogger } from '../../src/logger.js';
import { serve } from './support.js';

/**
 * A database engine of the test's own (FerretDB v2 on PostgreSQL), so the test can stop, restart or
 * pause it, and a Roster on Roster's own kind of connection to it (db/mongo.ts: health-check limits
 * and watchdog), served on loopback.
 */
export interface OwnDatabaseRoster {
  /** Undefined while stopped. */
  database: EmbeddedDatabase | undefined;
  client: MongoClient;
  roster: Roster;
  http: Awaited<ReturnType<typeof serve>>;
  stopDatabase(): Promise<void>;
  /** Starts it again where the clients expect it: same port, same state. */
  startDatabase(): Promise<void>;
  close(): Promise<void>;
}

export async function rosterOnOwnDatabase(
  name: string,
  config: Config,
  connect: ConnectOptions,
): Promise<OwnDatabaseRoster> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `roster-${name}-`));
  const port = await freePort();
  const database = await startPostgresEngine(stateDir, { port });
  const { client } = await connectDatabase(database.uri, undefined, connect);
  const roster = await createRoster({ config, db: client.db(name), logger: createLogger(config.log.level) });
  await roster.start();
  const self: OwnDatabaseRoster = {
    database,
    client,
    roster,
    http: await serve(roster.app),
    async stopDatabase() {
      await self.database?.stop();
      self.database = undefined;
    },
    async startDatabase() {
      self.database = await startPostgresEngine(stateDir, { port });
    },
    async close() {
      await self.http.close();
      await roster.stop().catch(() => undefined);
      await client.close().catch(() => undefined);
      await self.stopDatabase();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return self;
}
