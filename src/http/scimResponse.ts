import type { Context } from 'koa';
import { etagFor, etagMatches } from '../scim/etag.js';
import type { Principal } from './auth.js';
import type { Actor } from '../events/types.js';
import type { ScimResource } from '../scim/validate.js';

/** Sends one resource with its ETag (and Location on create); 304 for a matching If-None-Match on reads. */
export function sendResource(ctx: Context, resource: ScimResource, version: number, status = 200): void {
  const etag = etagFor(version);
  ctx.set('ETag', etag);
  const ifNoneMatch = ctx.get('if-none-match');
  if (ctx.method === 'GET' && ifNoneMatch && etagMatches(ifNoneMatch, version)) {
    ctx.status = 304;
    return;
  }
  if (status === 201) ctx.set('Location', String((resource.meta as { location: string }).location));
  ctx.status = status;
  ctx.body = resource;
}

export function actorOf(ctx: Context): Actor {
  const principal = ctx.state.principal as Principal;
  return { type: principal.kind === 'admin' ? 'admin' : 'scim', name: principal.name };
}

export function ifMatch(ctx: Context): string | undefined {
  return ctx.get('if-match') || undefined;
}

/** Query parameters as a plain object (arrays kept, so duplicates can be refused). */
export function queryOf(ctx: Context): Record<string, unknown> {
  return { ...ctx.query };
}
