import type { Context, Next } from 'koa';
import { badRequest, ScimError } from '../scim/errors.js';

declare module 'koa' {
  interface Request {
    body?: unknown;
  }
}

const JSON_TYPES = ['application/scim+json', 'application/json'];

/** Far deeper than any SCIM resource, PATCH or Bulk request nests; recursive walks stay safe below it. */
export const MAX_JSON_DEPTH = 32;

/** True when arrays/objects nest deeper than `max` (iterative, so any input is safe to measure). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

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
 * invalidSyntax. The parsed value lands in ctx.request.body; a body already parsed (by a parser with
 * a path-specific limit mounted first) is left as it is.
 */
export function jsonBody(limit: () => number) {
  return async function parseJsonBody(ctx: Context, next: Next) {
    if (!['POST', 'PUT', 'PATCH'].includes(ctx.method) || ctx.request.body !== undefined) return next();
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (!JSON_TYPES.includes(type)) {
      throw new ScimError(415, 'Content-Type must be application/scim+json or application/json');
    }
    const raw = await readRawBody(ctx, limit());
    const text = raw.toString('utf8');
    if (text.trim() === '') throw badRequest('invalidSyntax', 'Request body is empty');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw badRequest('invalidSyntax', `Request body is not valid JSON: ${(err as Error).message}`);
    }
    // Every SCIM request body is an object (a resource, PatchOp, BulkRequest or SearchRequest).
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw badRequest('invalidSyntax', 'Request body must be a JSON object');
    }
    if (nestedDeeperThan(body, MAX_JSON_DEPTH)) {
      throw badRequest('invalidSyntax', `Request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    ctx.request.body = body;
    return next();
  };
}
