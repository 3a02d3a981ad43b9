import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import {
  DIST_SETUP_COMMAND,
  distributedEngineAvailable,
  startDistributedEngine,
  type DistributedEngine,
} from '../../src/devdb/distributedEngine.js';
import { useFixture } from './fixture.js';

/**
 * A distributed engine of this test file's own (a coordinator and two workers in a temporary
 * folder), for tests that stop workers or shard on other keys: started before its tests, stopped
 * after them. test/distributed runs only with ROSTER_DISTRIBUTED set (vitest.config.ts), and then
 * needs the engine built.
 */
export function useOwnDistributedEngine(): { engine: DistributedEngine; client: MongoClient } {
  if (!distributedEngineAvailable()) {
    throw new Error(
      `the distributed engine is not built: run \`${DIST_SETUP_COMMAND}\` (or unset ROSTER_DISTRIBUTED to leave test/distributed out)`,
    );
  }
  return useFixture(
    async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roster-distributed-'));
      const began = Date.now();
      const engine = await startDistributedEngine({ dataDir, workers: 2 });
      console.log(`distributed engine started in ${((Date.now() - began) / 1000).toFixed(1)} s at ${engine.uri}`);
      const client = new MongoClient(engine.uri);
      await client.connect();
      return { engine, client, dataDir };
    },
    async ({ engine, client, dataDir }) => {
      await client.close().catch(() => undefined);
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  );
}
