import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { PROJECT_ROOT } from '../config/index.js';

/**
 * A development/test database, chosen in DESIGN.md's order: a `mongod` on PATH, a `ferretdb`
 * binary (PATH or the git-ignored .tools/bin), mongodb-memory-server if it is installed and can
 * download, and last FerretDB built with Go by scripts/build-ferretdb.sh.
 */
export interface EmbeddedDatabase {
  kind: 'mongod' | 'ferretdb' | 'mongodb-memory-server';
  uri: string;
  /** The database server's process, when Roster started one itself (the benchmark reads its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

type Log = (message: string) => void;

export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools/bin');

function onPath(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export function findFerretdb(): string | undefined {
  const local = path.join(TOOLS_BIN, 'ferretdb');
  return existsSync(local) ? local : onPath('ferretdb');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(uri: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`database process exited (${child.exitCode}): ${output()}`);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  throw new Error(`database did not answer within 60 s: ${output()}`);
}

async function startProcess(
  kind: EmbeddedDatabase['kind'],
  binary: string,
  args: (port: number, debugPort: number) => string[],
  fixedPort?: number,
): Promise<EmbeddedDatabase> {
  const port = fixedPort ?? (await freePort());
  const debugPort = await freePort();
  const child = spawn(binary, args(port, debugPort), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitForPing(uri, child, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    kind,
    uri,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** `port` pins the listen port (reliability tests restart a stopped database where clients expect it). */
export function startFerretdb(binary: string, stateDir: string, port?: number): Promise<EmbeddedDatabase> {
  mkdirSync(path.join(stateDir, 'sqlite'), { recursive: true });
  mkdirSync(path.join(stateDir, 'state'), { recursive: true });
  return startProcess(
    'ferretdb',
    binary,
    (port, debugPort) => [
      '--handler=sqlite',
      `--sqlite-url=file:${path.join(stateDir, 'sqlite')}/`,
      `--listen-addr=127.0.0.1:${port}`,
      `--debug-addr=127.0.0.1:${debugPort}`,
      `--state-dir=${path.join(stateDir, 'state')}`,
      '--telemetry=disable',
      '--log-level=error',
    ],
    port,
  );
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
  let ferretdb = findFerretdb();
  if (ferretdb) return startFerretdb(ferretdb, path.join(dataDir, 'ferretdb'));

  try {
    const moduleName = 'mongodb-memory-server';
    const { MongoMemoryServer } = (await import(moduleName)) as {
      MongoMemoryServer: { create(o: unknown): Promise<{ getUri(): string; stop(): Promise<boolean> }> };
    };
    const server = await MongoMemoryServer.create({ instance: { dbPath: path.join(dataDir, 'memory-server') } });
    return { kind: 'mongodb-memory-server', uri: server.getUri(), stop: async () => void (await server.stop()) };
  } catch {
    log('mongodb-memory-server is not available here; building FerretDB with Go (first run only)');
  }

  const build = spawnSync('bash', [path.join(PROJECT_ROOT, 'scripts/build-ferretdb.sh')], { stdio: 'inherit' });
  ferretdb = findFerretdb();
  if (build.status !== 0 || !ferretdb) {
    throw new Error(
      'no database: set MONGODB_URI, put mongod or ferretdb on PATH, or make scripts/build-ferretdb.sh work (needs Go)',
    );
  }
  return startFerretdb(ferretdb, path.join(dataDir, 'ferretdb'));
}
