import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/index.js';
import { freePort } from '../src/devdb/embedded.js';

/**
 * Child processes the benchmark starts (Roster, the bare Koa server), each on its own loopback
 * port, and a registry of everything to stop, so Ctrl-C, errors and the normal end all clean up.
 */

type Stopper = { name: string; stop(): Promise<void> };
const running: Stopper[] = [];

export function onCleanup(name: string, stop: () => Promise<void>): void {
  running.push({ name, stop });
}

/** Stops everything started, newest first; each stop is bounded in time. */
export async function stopAll(): Promise<void> {
  while (running.length) {
    const item = running.pop()!;
    await Promise.race([item.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
  }
}

export interface Child {
  name: string;
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL: drops its database connections at once (work abandoned by a timed-out request stops). */
  kill(): Promise<void>;
  /** The last lines the process wrote (for error messages). */
  output(): string;
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitReady(url: string, child: ChildProcess, output: () => string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}): ${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from ${url} within ${seconds} s: ${output()}`);
}

/** Starts `node --import tsx <script>` with `env` plus PORT, waits for `readyPath` to answer 200. */
export async function startNode(
  name: string,
  script: string,
  env: Record<string, string>,
  options: { readyPath: string; nodeArgs?: string[]; readySeconds?: number },
): Promise<Child> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(PROJECT_ROOT, script)],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const handle: Child = {
    name,
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    stop: () => stopProcess(child),
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    output: () => output,
  };
  onCleanup(name, handle.stop);
  await waitReady(`${handle.baseUrl}${options.readyPath}`, child, () => output, options.readySeconds ?? 120);
  return handle;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system) a process has used so far, in ms, from Linux /proc; undefined elsewhere. */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU time (all cores, user + system + interrupts) the whole machine has been busy, in ms, from /proc/stat. */
export function machineBusyMs(): number | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    const busy = ticks.slice(0, 8).reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t), 0);
    return (busy * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process in MB, from Linux /proc; 0 once the process is gone (a restart). */
export function rssMb(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}
