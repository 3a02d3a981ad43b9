import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'koa';
import { AdminError } from '../http/errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The console's files (plain HTML, CSS and ES modules, no build step), read once at start-up from
 * one flat folder: only names found there are served, so no request path reaches the file system.
 * Revalidated on every use (no-cache + ETag), so a new release is picked up at once.
 */
export function createStaticFiles(dir: string) {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return {
    send(ctx: Context, name: string) {
      const file = files.get(name);
      if (!file) throw new AdminError(404, 'not_found', `No console file ${name}`);
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('ETag', file.etag);
      ctx.type = file.type;
      if (ctx.get('if-none-match') === file.etag) {
        ctx.status = 304;
        return;
      }
      ctx.body = file.body;
    },
  };
}
