import Router, { type RouterOptions } from '@koa/router';

/**
 * Every router of Roster's comes from here: paths match case-sensitively, as the contract spells
 * them (`/scim/v2`, `/admin/v1`). A nested router's own options decide how its mounted routes match,
 * so a case-insensitive one would let `/SCIM/v2/...` reach a route without passing the parent's
 * token check; eslint forbids `new Router` anywhere else.
 */
export function createRouter(options: Omit<RouterOptions, 'sensitive'> = {}): Router {
  return new Router({ ...options, sensitive: true });
}

export type { Router };
