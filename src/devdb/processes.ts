/** Database server processes for development and tests: start one, wait until it answers, stop it. */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { MongoClient } from 'mongodb';

/** A development/test database Roster started (see embedded.ts for which one). */
export interface EmbeddedDatabase {
  kind: 'mongod' | 'mongodb-memory-server' | 'ferretdb';
  uri: string;
  /** The process answering the MongoDB protocol (mongod or FerretDB), when Roster started one (the benchmark reads its CPU time). */
  pid?: number;
  /** PostgreSQL's postmaster under FerretDB. */
  pgPid?: number;
  /** Refreshes the planner's statistics now (PostgreSQL's ANALYZE; after a bulk load, before measuring). */
  analyze?(): Promise<void>;
  stop(): Promise<void>;
}

export type Log = (message: string) => void;

export function onPath(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
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

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

/** `setpriv --pdeathsig` (util-linux) ends a child with its parent, so a killed test run leaves no database behind. */
let pdeathsig: boolean | undefined;
export function withParentDeathSignal(binary: string, args: string[], signal: string): [string, string[]] {
  pdeathsig ??= spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') ?? false;
  return pdeathsig ? ['setpriv', [`--pdeathsig=${signal}`, '--', binary, ...args]] : [binary, args];
}

export function spawnAs(
  binary: string,
  args: string[],
  user: RunAs | undefined,
  options: SpawnOptions = {},
): ChildProcess {
  return spawn(binary, args, { ...options, ...(user ? { uid: user.uid, gid: user.gid } : {}) });
}

/** Runs a tool to completion (asynchronously: a restart happens while Roster serves requests). */
export function runTool(binary: string, args: string[], user: RunAs | undefined, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(binary, args, user, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${path.basename(binary)} ${args.join(' ')} failed (${code ?? signal}): ${output.trim()}`)),
    );
  });
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (!(await exited(child, graceMs))) {
    child.kill('SIGKILL');
    await exited(child, 5000);
  }
}

async function waitForPing(uri: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    // No pid: it could not be started at all (its 'error' event is in the output).
    if (child.exitCode !== null || child.pid === undefined) {
      throw new Error(`database process exited (${child.exitCode}): ${output()}`);
    }
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

/** Starts a MongoDB-protocol server and waits until it answers a ping. */
export async function startProcess(
  kind: EmbeddedDatabase['kind'],
  binary: string,
  args: (port: number, debugPort: number) => string[],
  fixedPort?: number,
): Promise<EmbeddedDatabase> {
  const port = fixedPort ?? (await freePort());
  const debugPort = await freePort();
  const [command, commandArgs] = withParentDeathSignal(binary, args(port, debugPort), 'TERM');
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`${binary}: ${err.message}\n`)));
  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitForPing(uri, child, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { kind, uri, pid: child.pid, stop: () => stopChild(child, 'SIGTERM', 5000) };
}
