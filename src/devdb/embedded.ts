/**
 * A development/test database, chosen in this order (README "Run it"): a `mongod` on PATH, then
 * mongodb-memory-server-core if it is installed and has (or quickly gets) a MongoDB binary, then
 * the PostgreSQL + DocumentDB + FerretDB engine (postgresEngine.ts), built on first use.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.js';
import { engineAvailable, SETUP_SCRIPT, startPostgresEngine } from './postgresEngine.js';
import { onPath, startProcess, type EmbeddedDatabase, type Log } from './processes.js';

export { engineAvailable, startPostgresEngine } from './postgresEngine.js';
export { freePort, type EmbeddedDatabase } from './processes.js';

/** How long mongodb-memory-server-core may take to find or download its MongoDB binary. */
const MEMORY_SERVER_BINARY_WAIT_MS = 3000;

/** mongodb-memory-server-core, if installed and its MongoDB binary is cached or downloads quickly. */
async function startMemoryServer(dataDir: string, log: Log): Promise<EmbeddedDatabase | undefined> {
  type MemoryServerModule = typeof import('mongodb-memory-server-core');
  let mms: MemoryServerModule;
  try {
    const moduleName = 'mongodb-memory-server-core';
    mms = (await import(moduleName)) as MemoryServerModule;
  } catch {
    log('mongodb-memory-server-core is not installed');
    return undefined;
  }
  // Finds the cached binary or downloads one. An offline machine fails (or hangs) here, so it gets
  // a few seconds; a download still running then finishes in the background for the next start.
  const binary = mms.MongoBinary.getPath();
  binary.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const found = await Promise.race([
    binary.then(
      () => 'ok',
      (err: Error) => String(err.message).split('\n')[0],
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`no MongoDB binary within ${MEMORY_SERVER_BINARY_WAIT_MS / 1000} s`),
        MEMORY_SERVER_BINARY_WAIT_MS,
      );
    }),
  ]);
  clearTimeout(timer);
  if (found !== 'ok') {
    log(`mongodb-memory-server-core skipped: ${found}`);
    return undefined;
  }
  const dbPath = path.join(dataDir, 'memory-server');
  mkdirSync(dbPath, { recursive: true });
  const server = await mms.MongoMemoryServer.create({ instance: { dbPath } });
  return {
    kind: 'mongodb-memory-server',
    uri: server.getUri(),
    pid: server.instanceInfo?.instance.mongodProcess?.pid,
    stop: async () => void (await server.stop()),
  };
}

export async function startEmbeddedDatabase(dataDir: string, log: Log): Promise<EmbeddedDatabase> {
  const mongod = onPath('mongod');
  if (mongod) {
    const dbPath = path.join(dataDir, 'mongod');
    mkdirSync(dbPath, { recursive: true });
    return startProcess('mongod', mongod, (port) => [
      '--port',
      String(port),
      '--bind_ip',
      '127.0.0.1',
      '--dbpath',
      dbPath,
    ]);
  }
  log('no mongod on PATH');

  const memoryServer = await startMemoryServer(dataDir, log);
  if (memoryServer) return memoryServer;

  if (!engineAvailable()) {
    log(`the PostgreSQL + DocumentDB + FerretDB engine is not built yet: running ${SETUP_SCRIPT} (first start only)`);
    spawnSync('bash', [path.join(PROJECT_ROOT, SETUP_SCRIPT)], { stdio: 'inherit' });
    if (!engineAvailable()) {
      throw new Error(
        `no database: run \`bash ${SETUP_SCRIPT}\` (Debian 12; installs PostgreSQL 15, builds DocumentDB and FerretDB ` +
          'into .tools); on other systems set MONGODB_URI, e.g. to `docker compose --profile postgres up -d ferretdb` ' +
          '(docker-compose.yml)',
      );
    }
  }
  log('starting FerretDB v2 on PostgreSQL 15 + DocumentDB (built in .tools)');
  return startPostgresEngine(path.join(dataDir, 'engine'), { log });
}
