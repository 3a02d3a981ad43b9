import Koa, { type Context, type Middleware, type Next } from 'koa';
import type { Db } from 'mongodb';
import type { Config } from './config/index.js';
import { discoveryRoutes } from './discovery/routes.js';
import { requireScimScope, requireToken, type Authenticator } from './http/auth.js';
import { jsonBody } from './http/body.js';
import { directoryRouting, type DirectoryLookup } from './http/directoryRouting.js';
import { errorHandler, SCIM_CONTENT_TYPE } from './http/errors.js';
import { trustProxy } from './http/clientAddress.js';
import { overloadGuard } from './http/overload.js';
import { rateLimit } from './http/rateLimit.js';
import { requestContext } from './http/requestContext.js';
import { createRouter, unmatchedErrorShape, type Router } from './http/router.js';
import type { Logger } from './logger.js';
import type { HttpMetrics } from './metrics.js';
import type { AuthSchemes, Features } from './discovery/documents.js';
import type { SchemaRegistry } from './scim/schemaRegistry.js';
import type { Slots } from './slots.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Db;
  authenticator: Authenticator;
  metrics: HttpMetrics;
  registry: SchemaRegistry;
  features: Features;
  /** What ServiceProviderConfig lists as enabled ways to authenticate. */
  authSchemes: () => AuthSchemes;
  /** Routers mounted under /scim/v2 after the SCIM token check and JSON body parsing. */
  scimRouters?: Router[];
  /** Routers mounted under /admin/v1 after the admin token check (they parse their own bodies). */
  adminRouters?: Router[];
  /** The admin API's credential check; default: the bearer admin token alone. */
  adminAuth?: Middleware;
  /** Routers at the root without a token (end-user pages, the console). */
  publicRouters?: Router[];
  /** The directories a request's path names (src/http/directoryRouting.ts). */
  directories: DirectoryLookup;
  /** Told of each SCIM answer, for each directory's activity (the operators' list). */
  scimAnswered?: (directory: string, status: number) => void;
  /** The overload guard's request slots (server.overload), shared with background /Bulk runs. */
  requestSlots: Slots;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  accepting?: () => boolean;
}

/** API answers hold directory data: never cached, never sniffed as another type. */
async function apiHeaders(ctx: Context, next: Next) {
  ctx.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  await next();
}

async function scimContentType(ctx: Context, next: Next) {
  await next();
  if (ctx.body && typeof ctx.body === 'object' && !ctx.response.get('content-type').includes('scim')) {
    ctx.type = SCIM_CONTENT_TYPE;
  }
}

/**
 * A ping that gives up after `ms`: readiness must answer quickly even when the database hangs (the
 * driver's per-operation `timeoutMS` has no effect in mongodb 7).
 */
async function pingWithin(db: Db, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the database did not answer within ${ms} ms`)), ms);
  });
  const ping = db.command({ ping: 1 });
  ping.catch(() => undefined); // a late failure after the timeout won is not an unhandled rejection
  try {
    await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The Koa app without listen(): tests drive it with supertest. */
export function createApp(deps: AppDeps): Koa {
  const { config, logger, db, authenticator, metrics } = deps;
  const app = new Koa();
  app.proxy = false; // X-Forwarded-For is read only from server.trustProxy's proxies (trustProxy below)
  app.silent = true;
  app.use(trustProxy(() => config.server.trustProxy));
  app.use(requestContext(logger, metrics));
  // While shutting down, every answer closes its connection so keep-alive clients drain.
  app.use(async (ctx, next) => {
    if (deps.accepting && !deps.accepting()) ctx.set('Connection', 'close');
    await next();
  });
  app.use(errorHandler(logger));
  // Every request runs in one directory, decided from its path before any route (README "Directories").
  app.use(directoryRouting(deps.directories));

  const root = createRouter();
  root.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  root.get('/readyz', async (ctx) => {
    const accepting = deps.accepting?.() ?? true;
    try {
      if (!accepting) throw new Error('shutting down');
      await pingWithin(db, 2000);
      ctx.body = { status: 'ready', database: 'ok' };
    } catch (err) {
      // Unauthenticated: the driver's message (hosts, ports) goes to the log, not to the caller.
      if (accepting) logger.warn({ err: (err as Error).message }, 'readiness: database unreachable');
      ctx.status = 503;
      ctx.body = accepting
        ? { status: 'unavailable', database: 'unreachable' }
        : { status: 'unavailable', database: 'ok', reason: 'shutting down' };
    }
  });
  root.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  // Each API router mounts its own token check before its routes: a router's middleware runs only
  // for requests that match one of its routes, exactly as spelled (createRouter is case-sensitive),
  // so no route is reachable without the check and anything unmatched is a 404.
  const limiter = rateLimit({
    enabled: () => config.rateLimit.enabled,
    requestsPerMinute: () => config.rateLimit.requestsPerMinute,
  });
  const overload = overloadGuard(deps.requestSlots);
  const scim = createRouter({ prefix: '/scim/v2', errorShape: 'scim' });
  scim.use(async function noteAnswer(ctx, next) {
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } catch (err) {
      status = (err as { status?: number }).status ?? 500;
      throw err;
    } finally {
      const directory = (ctx.state.directory as { _id: string } | undefined)?._id;
      if (directory) deps.scimAnswered?.(directory, status);
    }
  });
  scim.use(apiHeaders, requireToken(authenticator, 'scim'), requireScimScope, limiter, overload, scimContentType);
  // Discovery answers before body parsing, so a wrong method is 405 whatever the media type.
  scim.use(discoveryRoutes(config, deps.registry, deps.features, deps.authSchemes).routes());
  scim.use(
    '/Bulk',
    jsonBody(() => config.scim.bulk.maxPayloadSize),
  );
  scim.use(jsonBody(() => config.server.bodyLimitBytes));
  for (const router of deps.scimRouters ?? []) scim.use(router.routes());

  // Everything under /admin/ is the admin API's, so even a path no version serves is refused in its shape.
  const admin = createRouter({ prefix: '/admin/v1', errorShape: 'admin', owns: ['/admin/'] });
  admin.use(apiHeaders, deps.adminAuth ?? requireToken(authenticator, 'admin'), limiter, overload);
  for (const router of deps.adminRouters ?? []) admin.use(router.routes());

  app.use(root.routes());
  for (const router of deps.publicRouters ?? []) app.use(router.routes());
  app.use(scim.routes());
  app.use(admin.routes());
  app.use(unmatchedErrorShape([...(deps.publicRouters ?? []), scim, admin]));
  return app;
}
