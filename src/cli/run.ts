import { readFileSync } from 'node:fs';
import { eventsCommand } from './commands/events.js';
import { exportCommand } from './commands/exportUsers.js';
import { importCommand } from './commands/importCsv.js';
import { oauthClientsCommand } from './commands/oauthClients.js';
import { receiversCommand } from './commands/receivers.js';
import { usersCommand } from './commands/users.js';
import { CommandContext, type CliIo } from './context.js';
import { CliError, UsageError } from './errors.js';
import { COMMAND_HELP, GLOBAL_HELP } from './help.js';

type Command = (ctx: CommandContext) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  import: importCommand,
  export: exportCommand,
  users: usersCommand,
  events: eventsCommand,
  'oauth-clients': oauthClientsCommand,
  receivers: receiversCommand,
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Help was asked for anywhere before a bare `--` (so `roster users activate --help` works). */
function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Runs the CLI and resolves with the exit code. `serve` (the command) calls `serve` (the server's
 * start, handed in by src/roster.ts: the client imports nothing of the server) and resolves with
 * undefined: the server keeps the process alive and exits on its own.
 */
export async function runCli(argv: string[], io: CliIo, serve: () => Promise<unknown>): Promise<number | undefined> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    io.stdout.write(GLOBAL_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    io.stdout.write(`roster ${version()}\n`);
    return 0;
  }
  if (command === 'help') {
    const topic = args[0];
    if (topic === undefined) io.stdout.write(GLOBAL_HELP);
    else if (COMMAND_HELP[topic]) io.stdout.write(COMMAND_HELP[topic]);
    else return fail(io, new UsageError(`no help for unknown command "${topic}"`));
    return 0;
  }
  if (!COMMAND_HELP[command]) {
    const message = command.startsWith('-') ? `unknown option "${command}"` : `unknown command "${command}"`;
    return fail(io, new UsageError(message));
  }
  if (wantsHelp(args)) {
    io.stdout.write(COMMAND_HELP[command]);
    return 0;
  }
  if (command === 'serve') {
    if (args.length) return fail(io, new UsageError(`serve: unexpected argument "${args[0]}"`, 'serve'));
    await serve();
    return undefined;
  }

  const ctx = new CommandContext(args, io);
  try {
    return await COMMANDS[command](ctx);
  } catch (err) {
    return fail(io, err);
  } finally {
    ctx.close();
  }
}

function fail(io: CliIo, err: unknown): number {
  if (err instanceof CliError) {
    io.stderr.write(`roster: ${err.message}\n`);
    if (err instanceof UsageError) {
      io.stderr.write(err.helpFor ? `See: roster ${err.helpFor} --help\n` : 'See: roster --help\n');
    }
    return err.exitCode;
  }
  io.stderr.write(`roster: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
