/** The `roster` command (bin/roster.js loads this file through tsx). */
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
// Set, not process.exit(): pending output is flushed before the process ends. `serve` leaves it unset.
if (code !== undefined) process.exitCode = code;
