import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json } from '../../src/config/index.js';
import { useFixture } from './fixture.js';
import { TOKENS, type TestRoster, type TestRosterOptions } from './roster.js';
import { useServedRoster, type LoopbackServer } from './server.js';

/** The repository's root and its command-line entry point. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/roster.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** ROSTER_URL. */
  url: string;
  /** More environment (ROSTER_ADMIN_TOKEN is the test admin token); undefined removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Standard input (default: empty). */
  input?: string;
}

/** Runs `node bin/roster.js ...args` as a real child process (asynchronously: this process serves its requests). */
export function runCli(args: string[], options: CliOptions): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, ROSTER_URL: options.url, ROSTER_ADMIN_TOKEN: TOKENS.admin };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env, cwd: options.cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** A temporary directory for this file, removed after its tests. */
export function useTempDir(prefix: string): { path: string } {
  return useFixture(
    async () => ({ path: mkdtempSync(path.join(os.tmpdir(), prefix)) }),
    (dir) => rmSync(dir.path, { recursive: true, force: true }),
  );
}

/**
 * The command-line client against this file's Roster: the Roster served on a loopback port, a
 * temporary working directory (`dir.path`), and `roster(args, env?, input?)` to run the CLI there.
 */
export function useCli(
  prefix = 'roster-cli-',
  overrides: Json | (() => Json) = {},
  options: TestRosterOptions = {},
): {
  t: TestRoster;
  server: LoopbackServer;
  dir: { path: string };
  roster(args: string[], env?: Record<string, string | undefined>, input?: string): Promise<CliRun>;
} {
  const { t, server } = useServedRoster(overrides, options);
  const dir = useTempDir(prefix);
  return {
    t,
    server,
    dir,
    roster: (args, env, input) => runCli(args, { url: server.url, cwd: dir.path, env, input }),
  };
}
