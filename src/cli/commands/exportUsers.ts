import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parseCommandArgs } from '../args.js';
import type { CommandContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';

export async function exportCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('export', ctx.args, {
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    raw: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`export: unexpected argument "${positionals[0]}"`, 'export');
  const format = (values.format ?? 'csv').toLowerCase();
  if (format !== 'csv' && format !== 'json') throw new UsageError('export: --format must be csv or json', 'export');
  if (values.out === '') throw new UsageError('export: --out needs a file name', 'export');

  const client = ctx.client();
  const res = await client.ok(
    await client.send('GET', '/admin/v1/exports/users', { query: { format, raw: String(values.raw ?? false) } }),
  );
  if (!values.out) {
    try {
      await pipeline(res, ctx.io.stdout, { end: false });
    } catch (err) {
      // A closed pipe (`roster export | head`) is the reader's choice, not a failure.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
      throw new CliError(`export interrupted: ${(err as Error).message}`);
    }
    return 0;
  }
  // Written next to the target and renamed at the end, so a failed export never leaves half a file.
  const partial = `${values.out}.partial-${process.pid}`;
  try {
    await pipeline(res, createWriteStream(partial, { flags: 'wx' }));
    await rename(partial, values.out);
  } catch (err) {
    await rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`export to ${values.out} failed: ${(err as Error).message}${code ? ` (${code})` : ''}`);
  }
  ctx.err(`Exported users to ${values.out}\n`);
  return 0;
}
