/**
 * Which directory a request belongs to (README "Directories"), decided once from its path before
 * any route runs, and the rest of the request run inside it (src/directory.ts):
 *
 * - `/directories/{slug}/…`: that directory, served exactly as a one-organization Roster is served
 *   at the root (its SCIM API, OAuth token endpoint and metadata, end-user pages, credential check,
 *   security event polling), the prefix taken off;
 * - `/admin/v1/directories/{id}/…`: the admin API of that directory, the `directories/{id}` part
 *   taken off (`/admin/v1/directories` and `/admin/v1/directories/{id}` themselves are the
 *   operators' own routes, in the default context);
 * - anything else: the default directory.
 *
 * An unknown or deleted directory is a 404 whatever follows, so a path tells nothing of what exists;
 * a suspended one is refused (403) on everything but its admin API.
 */
import type { Context, Middleware, Next } from 'koa';
import { DEFAULT_DIRECTORY, inDirectory } from '../directory.js';
import { ScimError } from '../scim/errors.js';
import { AdminError } from './errors.js';

/** What routing needs of a directory (the stored document, handed on for the configuration view). */
export interface RoutedDirectory {
  _id: string;
  status: 'active' | 'suspended' | 'deleted';
}

export interface DirectoryLookup {
  bySlug(slug: string): Promise<RoutedDirectory | undefined>;
  byId(id: string): Promise<RoutedDirectory | undefined>;
}

/** What a directory's own prefix serves (everything else under it is a 404). */
const SERVED_UNDER_SLUG = [
  '/scim/v2',
  '/oauth/token',
  '/.well-known/oauth-authorization-server',
  '/.well-known/jwks.json',
  '/activate',
  '/reset-password',
  '/auth/verify',
  '/security-events/poll',
];

/** Roster's own endpoints (probes, metrics): no directory's, answered without a database read. */
const OUTSIDE_DIRECTORIES = new Set(['/healthz', '/readyz', '/metrics']);

const BY_SLUG = /^\/directories\/([^/]+)(\/.*)$/;
const BY_ID = /^\/admin\/v1\/directories\/([^/]+)(\/.+)$/;

const served = (rest: string) =>
  SERVED_UNDER_SLUG.some((p) => rest === p || rest.startsWith(`${p}/`) || rest.startsWith(`${p}?`));

function refuse(ctx: Context, status: 404 | 403, rest: string): never {
  const message = status === 404 ? 'Not found' : 'The directory is suspended';
  if (rest.startsWith('/scim/v2')) {
    ctx.state.errorShape = 'scim';
    throw new ScimError(status, message);
  }
  throw new AdminError(status, status === 404 ? 'not_found' : 'directory_suspended', message);
}

export function directoryRouting(lookup: DirectoryLookup): Middleware {
  return async function routeToDirectory(ctx: Context, next: Next) {
    if (OUTSIDE_DIRECTORIES.has(ctx.path)) return next();
    let directory: RoutedDirectory | undefined;
    const bySlug = BY_SLUG.exec(ctx.path);
    const byId = bySlug ? null : BY_ID.exec(ctx.path);
    if (bySlug) {
      const rest = bySlug[2];
      if (!served(rest)) refuse(ctx, 404, rest);
      directory = await lookup.bySlug(decodeURIComponent(bySlug[1]));
      if (!directory || directory.status === 'deleted') refuse(ctx, 404, rest);
      if (directory.status === 'suspended') refuse(ctx, 403, rest);
      ctx.path = rest;
    } else if (byId) {
      directory = await lookup.byId(decodeURIComponent(byId[1]));
      if (!directory || directory.status === 'deleted') refuse(ctx, 404, '/admin');
      ctx.path = `/admin/v1${byId[2]}`;
    } else {
      directory = await lookup.byId(DEFAULT_DIRECTORY);
      if (!directory) throw new Error('the default directory is missing (its migration did not run)');
    }
    ctx.state.directory = directory;
    return inDirectory(directory._id, next, directory);
  };
}
