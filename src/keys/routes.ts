import { requireOperator } from '../http/auth.js';
import { createRouter, type Router } from '../http/router.js';
import type { SigningKeys } from './signingKeys.js';

/** GET /.well-known/jwks.json: the public keys that verify what Roster signs (no token needed). */
export function jwksRoutes(keys: SigningKeys): Router {
  const router = createRouter({ errorShape: 'scim' });
  router.get('/.well-known/jwks.json', async (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = await keys.jwks();
  });
  return router;
}

/** POST /admin/v1/signing-keys/rotate: a new signing key now (e.g. after a suspected leak). */
export function signingKeyAdminRoutes(keys: SigningKeys): Router {
  const router = createRouter();
  // One key set signs for every directory: operators only.
  router.post('/signing-keys/rotate', requireOperator, async (ctx) => {
    ctx.body = { kid: await keys.rotate() };
  });
  return router;
}
