import { streamBody } from '../http/scimResponse.js';
import { createRouter, type Router } from '../http/router.js';
import type { Context } from 'koa';
import { actorOf } from '../http/auth.js';
import { AdminError } from '../http/errors.js';
import type { Exporter } from './exports.js';
import { ImportHeaderError, type Importer } from './imports.js';

function flag(ctx: Context, name: string): boolean {
  const value = ctx.query[name];
  if (value === undefined) return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new AdminError(400, 'invalid_parameter', `${name} must be true or false`);
}

/**
 * POST /admin/v1/imports (text/csv, ?dryRun=true, ?lines=true for every line's outcome) and GET /admin/v1/exports/users?format=csv|json.
 * The import reads the request as it arrives (no body limit: memory is bounded by the importer)
 * and answers once every line is done, with the report.
 */
export function importExportRoutes(importer: Importer, exporter: Exporter): Router {
  const router = createRouter();

  router.post('/imports', async (ctx) => {
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (type !== 'text/csv') {
      ctx.set('Connection', 'close');
      throw new AdminError(415, 'unsupported_media_type', 'Send the file as text/csv');
    }
    const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(ctx.get('content-type'))?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
      ctx.set('Connection', 'close');
      throw new AdminError(415, 'unsupported_charset', 'The file must be UTF-8');
    }
    let dryRun: boolean;
    let lines: boolean;
    try {
      dryRun = flag(ctx, 'dryRun');
      lines = flag(ctx, 'lines');
    } catch (err) {
      ctx.set('Connection', 'close');
      throw err;
    }
    try {
      const report = await importer.run(ctx.req, { dryRun, lines, actor: actorOf(ctx) });
      // The rest of an upload the import stopped reading is not worth keeping the connection for.
      if (report.aborted) ctx.set('Connection', 'close');
      ctx.body = report;
    } catch (err) {
      ctx.set('Connection', 'close');
      if (err instanceof ImportHeaderError) {
        ctx.status = 400;
        ctx.body = {
          error: { code: err.code, message: err.message },
          errors: err.reasons.map((reason) => ({ line: 1, reason })),
        };
        return;
      }
      throw err;
    }
  });

  router.get('/exports/users', async (ctx) => {
    const format = ctx.query.format ?? 'csv';
    if (format !== 'csv' && format !== 'json') {
      throw new AdminError(400, 'invalid_parameter', 'format must be csv or json');
    }
    const raw = ctx.query.raw ?? 'false';
    if (raw !== 'true' && raw !== 'false') throw new AdminError(400, 'invalid_parameter', 'raw must be true or false');
    const { contentType, filename, chunks } = await exporter.open(format, { raw: raw === 'true' });
    ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = streamBody(chunks);
  });

  return router;
}
