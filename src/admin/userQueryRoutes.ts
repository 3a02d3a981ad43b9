import type { Context } from 'koa';
import { actorOf, type Principal } from '../http/auth.js';
import { AdminError } from '../http/errors.js';
import { createRouter, type Router } from '../http/router.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';
import type { UserRepository } from '../users/repository.js';
import type { UserService } from '../users/service.js';
import { readJsonObject } from '../http/json.js';
import { userSearchToList, type UserSearchParams } from './userSearch.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function stringParams(ctx: Context): UserSearchParams {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.query)) {
    if (Array.isArray(value)) throw new AdminError(400, 'invalid_parameter', `${key} may be given once`);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Reading users for admins (the console's users and user pages): search, counts per state, one user
 * with groups; and the one attribute the console edits, the alternate email (a SCIM PATCH inside,
 * so uniqueness, link voiding and events are those of every other write).
 */
export function adminUserQueryRoutes(users: UserService, records: Pick<UserRepository, 'lifecycleCounts'>): Router {
  const router = createRouter();

  router.get('/users', async (ctx) => {
    const page = await users.list(userSearchToList(stringParams(ctx)));
    ctx.body = { users: page.Resources, totalResults: page.totalResults, nextCursor: page.nextCursor ?? null };
  });

  router.get('/users/counts', async (ctx) => {
    ctx.body = await records.lifecycleCounts();
  });

  router.get('/users/:id', async (ctx) => {
    ctx.body = (await users.get(ctx.params.id)).resource;
  });

  // { alternateEmail: "a@b.example" } sets it, { alternateEmail: null } removes it.
  router.patch('/users/:id', async (ctx) => {
    const body = await readJsonObject(ctx);
    const unknown = Object.keys(body).filter((key) => key !== 'alternateEmail');
    if (unknown.length) {
      throw new AdminError(400, 'invalid_body', `Only alternateEmail can be changed here, not ${unknown.join(', ')}`);
    }
    const value = body.alternateEmail;
    if (value !== null && typeof value !== 'string') {
      throw new AdminError(400, 'invalid_body', 'alternateEmail must be an email address or null');
    }
    const path = `${SCHEMA_URNS.lifecycle}:alternateEmail`;
    const operation = value === null || value.trim() === '' ? { op: 'remove', path } : { op: 'replace', path, value };
    const principal = ctx.state.principal as Principal;
    const { resource } = await users.patch(
      ctx.params.id,
      { schemas: [PATCH_OP], Operations: [operation] },
      { actor: actorOf(ctx), source: principal.source },
    );
    ctx.body = resource;
  });
  return router;
}
