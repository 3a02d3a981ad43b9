import { createRouter, type Router } from '../http/router.js';
import { redactConfig, type Config } from '../config/index.js';

/** GET /admin/v1/settings: the effective configuration, secrets redacted. */
export function settingsRoutes(currentConfig: () => Config): Router {
  const router = createRouter();
  router.get('/settings', (ctx) => {
    ctx.body = redactConfig(currentConfig());
  });
  return router;
}
