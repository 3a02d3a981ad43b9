import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDistributedEngine } from '../../src/devdb/distributedEngine.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/devdb/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    databaseKind: string;
    /** The distributed engine's coordinator (ROSTER_DISTRIBUTED): each test's Roster shards its database there. */
    coordinatorPort: number;
  }
}

/**
 * One database server for the whole run (MONGODB_URI first, else the embedded database's order,
 * README "Run it"); each test file uses its own database in it.
 */
export default async function setup(project: TestProject) {
  // Every test's queries are checked (src/db/directoryScope.ts): none may carry an empty $in.
  process.env.ROSTER_ASSERT_QUERIES = '1';
  if (process.env.MONGODB_URI) {
    project.provide('mongoUri', process.env.MONGODB_URI);
    project.provide('databaseKind', 'MONGODB_URI');
    return;
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roster-test-db-'));
  if (process.env.ROSTER_DISTRIBUTED) {
    // `npm run test:distributed`: a coordinator and two workers; startTestRoster shards each database.
    const engine = await startDistributedEngine({ dataDir, workers: 2, log: (m) => console.log(m) });
    console.log(`test database: distributed (coordinator and 2 workers) at ${engine.uri}`);
    project.provide('mongoUri', engine.uri);
    project.provide('databaseKind', 'distributed');
    project.provide('coordinatorPort', engine.coordinatorPort);
    return async () => {
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const db: EmbeddedDatabase = await startEmbeddedDatabase(dataDir, (m) => console.log(m));
  console.log(`test database: ${db.kind} at ${db.uri}`);
  project.provide('mongoUri', db.uri);
  project.provide('databaseKind', db.kind);
  return async () => {
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
