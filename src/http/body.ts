import type { Context, Next } from 'koa';
import { badRequest, ScimError } from '../scim/errors.js';

declare module 'koa' {
  interface Request {
    body?: unknown;
  }
}

const JSON_TYPES = ['application/scim+json', 'application/json'];

/** Reads the raw body with a size limit; 413 past it. */
export async function readRawBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new ScimError(413, `Request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ScimError(413, `Request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * JSON bodies for SCIM: application/scim+json or application/json, else 415; unparsable is 400
 * invalidSyntax. The parsed value lands in ctx.request.body.
 */
export function jsonBody(limit: (ctx: Context) => number) {
  return async function parseJsonBody(ctx: Context, next: Next) {
    if (!['POST', 'PUT', 'PATCH'].includes(ctx.method)) return next();
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (!JSON_TYPES.includes(type)) {
      throw new ScimError(415, 'Content-Type must be application/scim+json or application/json');
    }
    const raw = await readRawBody(ctx, limit(ctx));
    const text = raw.toString('utf8');
    if (text.trim() === '') throw badRequest('invalidSyntax', 'Request body is empty');
    try {
      ctx.request.body = JSON.parse(text);
    } catch (err) {
      throw badRequest('invalidSyntax', `Request body is not valid JSON: ${(err as Error).message}`);
    }
    return next();
  };
}
