import { readFileSync } from 'node:fs';
import { directoriesCommand } from './commands/directories.js';
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
  directories: directoriesCommand,
};

/** Commands that act on no one directory: --directory does not apply to them. */
const NOT_IN_A_DIRECTORY = new Set(['serve', 'directories']);

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
 * Takes the global option `--directory ID|SLUG` (or `--directory=ID|SLUG`) out of the arguments,
 * wherever it is before a bare `--` (before the command or among its arguments).
 */
export function takeDirectoryOption(argv: string[]): { argv: string[]; directory?: string } {
  const rest: string[] = [];
  let directory: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (arg === '--directory') {
      value = argv[++i];
      if (value === undefined || value.startsWith('-'))
        throw new UsageError('--directory needs a directory id or slug');
    } else if (arg.startsWith('--directory=')) {
      value = arg.slice('--directory='.length);
    } else {
      rest.push(arg);
      continue;
    }
    if (value.trim() === '') throw new UsageError('--directory needs a directory id or slug');
    if (directory !== undefined && directory !== value) throw new UsageError('--directory is given twice');
    directory = value.trim();
  }
  return { argv: rest, directory };
}

/**
 * Runs the CLI and resolves with the exit code. `serve` (the command) calls `serve` (the server's
 * start, handed in by src/roster.ts: the client imports nothing of the server) and resolves with
 * undefined: the server keeps the process alive and exits on its own.
 */
export async function runCli(argv: string[], io: CliIo, serve: () => Promise<unknown>): Promise<number | undefined> {
  let taken: ReturnType<typeof takeDirectoryOption>;
  try {
    taken = takeDirectoryOption(argv);
  } catch (err) {
    return fail(io, err);
  }
  const [command, ...args] = taken.argv;
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
  if (taken.directory !== undefined && NOT_IN_A_DIRECTORY.has(command)) {
    const hint = command === 'directories' ? '; name the directory after the action' : '';
    return fail(io, new UsageError(`${command}: --directory does not apply${hint}`, command));
  }
  if (command === 'serve') {
    if (args.length) return fail(io, new UsageError(`serve: unexpected argument "${args[0]}"`, 'serve'));
    await serve();
    return undefined;
  }

  // ROSTER_DIRECTORY is the default of --directory for the commands that act in a directory.
  const directory = NOT_IN_A_DIRECTORY.has(command)
    ? undefined
    : (taken.directory ?? (io.env.ROSTER_DIRECTORY?.trim() || undefined));
  const ctx = new CommandContext(args, io, directory);
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
