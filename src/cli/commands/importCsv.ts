import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseCommandArgs } from '../args.js';
import type { CommandContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { ProgressBar } from '../progress.js';
import { formatTable } from '../table.js';

interface ImportResult {
  dryRun?: boolean;
  total?: number;
  created?: number;
  updated?: number;
  unchanged?: number;
  failed?: number;
  aborted?: boolean;
  truncated?: boolean;
  errors?: { line?: number; reason?: string }[];
}

export async function importCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('import', ctx.args, { 'dry-run': { type: 'boolean' } });
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length ? 'import: give exactly one FILE' : 'import: FILE is required', 'import');
  }
  const file = positionals[0];
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CliError(`${file} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const dryRun = values['dry-run'] === true;
  const client = ctx.client();
  const progress = new ProgressBar(ctx.io.stderr, size, `Uploading ${path.basename(file)}`);
  const stream = createReadStream(file);
  stream.on('data', (chunk) => progress.add(chunk.length));
  stream.on('end', () => progress.status(`Uploaded ${path.basename(file)}; waiting for the import to finish...`));
  let result: ImportResult;
  try {
    const res = await client.send('POST', '/admin/v1/imports', {
      query: dryRun ? { dryRun: 'true' } : {},
      stream,
      contentType: 'text/csv; charset=utf-8',
      contentLength: size,
    });
    progress.clear();
    result = (await client.readJson<ImportResult>(res)) ?? {};
  } finally {
    progress.clear();
    stream.destroy();
  }
  return printResult(ctx, result);
}

function printResult(ctx: CommandContext, result: ImportResult): number {
  const failed = result.failed ?? result.errors?.length ?? 0;
  ctx.out(result.dryRun ? 'Dry run: nothing was written.\n' : 'Import finished.\n');
  if (result.aborted) ctx.out('The import stopped early at a line it could not read; see the failed lines.\n');
  ctx.out(
    formatTable(
      ['', 'COUNT'],
      [
        ['total', result.total ?? 0],
        [result.dryRun ? 'would create' : 'created', result.created ?? 0],
        [result.dryRun ? 'would update' : 'updated', result.updated ?? 0],
        ['unchanged', result.unchanged ?? 0],
        ['failed', failed],
      ],
    ),
  );
  const errors = result.errors ?? [];
  if (errors.length) {
    ctx.out('\nFailed lines:\n');
    ctx.out(
      formatTable(
        ['LINE', 'REASON'],
        errors.map((e) => [e.line ?? '?', e.reason ?? '']),
      ),
    );
    if (result.truncated) ctx.out(`(only the first ${errors.length} failed lines are listed)\n`);
  }
  return failed > 0 || result.aborted ? 1 : 0;
}
