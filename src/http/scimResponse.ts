import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { SCIM_CONTENT_TYPE } from './errors.js';
import { etagFor, etagMatches } from '../scim/etag.js';
import { parseProjection, type Projection } from '../scim/projection.js';
import type { ScimResource } from '../scim/validate.js';
import type { Router } from './router.js';

/** Sets the ETag; true (and 304) when a read's If-None-Match already has this version. */
function notModified(ctx: Context, version: number): boolean {
  ctx.set('ETag', etagFor(version));
  const ifNoneMatch = ctx.get('if-none-match');
  if (ctx.method !== 'GET' || !ifNoneMatch || !etagMatches(ifNoneMatch, version)) return false;
  ctx.status = 304;
  return true;
}

/** Sends one resource (as projected) with its ETag; 304 for a matching If-None-Match on reads. */
export function sendResource(ctx: Context, resource: ScimResource, version: number): void {
  if (notModified(ctx, version)) return;
  ctx.status = 200;
  ctx.body = resource;
}

/**
 * A body produced after the route returned, as a stream: each part is produced in the request's
 * context (its directory and transaction, src/directory.ts), which the socket's events that pull
 * the stream do not carry.
 */
export function streamBody(chunks: AsyncIterable<string>): Readable {
  const inRequest = AsyncLocalStorage.snapshot();
  const iterator = chunks[Symbol.asyncIterator]();
  return Readable.from({
    [Symbol.asyncIterator]: () => ({
      next: () => inRequest(() => iterator.next()),
      return: (value?: unknown) => inRequest(() => iterator.return?.(value) ?? Promise.resolve({ done: true, value })),
    }),
  } as AsyncIterable<string>);
}

/** A resource written as it is produced (a large group), with its ETag; 304 for a matching If-None-Match. */
export function sendStream(ctx: Context, chunks: AsyncIterable<string>, version: number): void {
  if (notModified(ctx, version)) return;
  ctx.status = 200;
  ctx.type = SCIM_CONTENT_TYPE;
  ctx.body = streamBody(chunks);
}

/** 201 with Location and ETag; the Location does not depend on the projection (which may drop `meta`). */
export function sendCreated(ctx: Context, resource: ScimResource, version: number, location: string): void {
  ctx.set('ETag', etagFor(version));
  ctx.set('Location', location);
  ctx.status = 201;
  ctx.body = resource;
}

export { actorOf } from './auth.js';

export function ifMatch(ctx: Context): string | undefined {
  return ctx.get('if-match') || undefined;
}

/** Query parameters as a plain object (arrays kept, so duplicates can be refused). */
export function queryOf(ctx: Context): Record<string, unknown> {
  return { ...ctx.query };
}

/** `attributes` / `excludedAttributes` of the request (RFC 7644 §3.9), for reads and writes alike. */
export function projectionOf(ctx: Context): Projection {
  return parseProjection(ctx.query.attributes, ctx.query.excludedAttributes);
}

/** GET {path} and POST {path}/.search: one list, asked for in the query or in the body. */
export function listRoutes(router: Router, path: string, list: (raw: Record<string, unknown>) => Promise<unknown>) {
  router.get(path, async (ctx) => {
    ctx.body = await list(queryOf(ctx));
  });
  router.post(`${path}/.search`, async (ctx) => {
    ctx.body = await list(ctx.request.body as Record<string, unknown>);
  });
}
