import { effectiveSettings } from '../config/directorySettings.js';
import { requireOperator, type Principal } from '../http/auth.js';
import { createRouter, type Router } from '../http/router.js';
import { redactConfig, type Config } from '../config/index.js';

/** The last configuration reload (SIGHUP) of this instance. */
export interface ReloadStatus {
  at: string;
  ok: boolean;
  /** Why it was refused (the running configuration was kept). */
  error?: string;
  /** Changed settings that apply only after a restart. */
  restartNeeded: string[];
}

/**
 * GET /admin/v1/settings: the effective configuration, secrets redacted (for a directory's admin,
 * only what the directory's settings decide).
 * GET /admin/v1/settings/reload: this instance's last reload, `{ lastReload: null }` before any.
 */
export function settingsRoutes(currentConfig: () => Config, lastReload: () => ReloadStatus | undefined): Router {
  const router = createRouter();
  router.get('/settings', (ctx) => {
    // A directory's admin sees what its settings decide; an operator the whole configuration.
    const operator = (ctx.state.principal as Principal).directory === undefined;
    ctx.body = operator ? redactConfig(currentConfig()) : effectiveSettings(currentConfig());
  });
  router.get('/settings/reload', requireOperator, (ctx) => {
    ctx.body = { lastReload: lastReload() ?? null };
  });
  return router;
}
