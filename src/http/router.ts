import Router, { type RouterOptions } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { declareErrorShape, type ErrorShape } from './errors.js';

export interface RosterRouterOptions extends Omit<RouterOptions, 'sensitive'> {
  /** How its routes' refusals are answered; declared before the router's other middleware. */
  errorShape?: ErrorShape;
  /**
   * Paths the router answers for even where none of its routes matches (a path it does not serve
   * under its prefix, a method it does not take): their 404 takes its error shape too, through
   * `unmatchedErrorShape`. A path ending in `/` owns everything below it, any other only itself.
   */
  owns?: string[];
}

const OWNERS = new WeakMap<Router, { shape: ErrorShape; paths: string[] }>();

/**
 * Every router of Roster's comes from here: paths match case-sensitively, as the contract spells
 * them (`/scim/v2`, `/admin/v1`). A nested router's own options decide how its mounted routes match,
 * so a case-insensitive one would let `/SCIM/v2/...` reach a route without passing the parent's
 * token check; eslint forbids `new Router` anywhere else.
 */
export function createRouter(options: RosterRouterOptions = {}): Router {
  const { errorShape, owns = [], ...routerOptions } = options;
  const router = new Router({ ...routerOptions, sensitive: true });
  if (errorShape) {
    router.use(declareErrorShape(errorShape));
    OWNERS.set(router, { shape: errorShape, paths: owns });
  }
  return router;
}

const owns = (owned: string, path: string) => (owned.endsWith('/') ? path.startsWith(owned) : path === owned);

/**
 * Mounted after `routers`: a request none of them matched takes the error shape of the router that
 * owns its path (createRouter's `owns`), so its 404 is answered as that router's refusals are.
 */
export function unmatchedErrorShape(routers: Router[]): Middleware {
  return async function ownerErrorShape(ctx: Context, next: Next) {
    if (ctx.state.errorShape === undefined) {
      const owner = routers.map((router) => OWNERS.get(router)).find((o) => o?.paths.some((p) => owns(p, ctx.path)));
      if (owner) ctx.state.errorShape = owner.shape;
    }
    await next();
  };
}

export type { Router };
