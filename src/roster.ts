/**
 * The `roster` command (bin/roster.js loads this file through tsx, or its compiled form): `roster
 * serve` starts the server (main.ts) in this process; every other command is the command-line client
 * (src/cli), which talks to a server over HTTP.
 */
import { runCli } from './cli/run.js';

const code = await runCli(
  process.argv.slice(2),
  { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  () => import('./main.js'),
);
// Set, not process.exit(): pending output is flushed before the process ends. `serve` leaves it unset.
if (code !== undefined) process.exitCode = code;
