/**
 * The admin API of directories (README "Directories"):
 * - operators only: `POST/GET /admin/v1/directories`, `GET/PATCH/DELETE /admin/v1/directories/{id}`;
 * - in a directory (`/admin/v1/directories/{id}/tokens`, or `/admin/v1/tokens` for the default one):
 *   its static tokens, made (shown once), listed, revoked; `PUT/PATCH …/settings` its settings.
 */
import { effectiveSettings } from '../config/directorySettings.js';
import type { Config } from '../config/index.js';
import { requireDirectory } from '../directory.js';
import { actorOf, requireOperator } from '../http/auth.js';
import { readJsonObject } from '../http/json.js';
import { createRouter, type Router } from '../http/router.js';
import { directoryPublicUrl, type DirectoryCounts, type DirectoryService } from './service.js';
import type { DirectoryTokens } from './tokenService.js';
import type { Directory } from './types.js';

export function directoryJson(directory: Directory, publicUrl: string, counts?: DirectoryCounts) {
  const base = directoryPublicUrl(directory, publicUrl);
  return {
    id: directory._id,
    slug: directory.slug,
    name: directory.name,
    status: directory.status,
    scimBaseUrl: `${base}/scim/v2`,
    tokenEndpoint: `${base}/oauth/token`,
    adminBaseUrl: `${publicUrl}/admin/v1/directories/${directory._id}`,
    settings: directory.settings,
    createdAt: directory.createdAt,
    updatedAt: directory.updatedAt,
    ...(directory.deletedAt ? { deletedAt: directory.deletedAt, purgeAfter: directory.purgeAfter } : {}),
    ...(counts ? { counts } : {}),
    activity: directory.activity ?? { scimRequests: 0, scimErrors: 0 },
  };
}

export function directoryRoutes(directories: DirectoryService, fileConfig: () => Config): Router {
  const router = createRouter();
  const publicUrl = () => fileConfig().server.publicUrl;
  router.post('/directories', requireOperator, async (ctx) => {
    const directory = await directories.create(await readJsonObject(ctx), actorOf(ctx));
    ctx.status = 201;
    ctx.set('Location', `${publicUrl()}/admin/v1/directories/${directory._id}`);
    ctx.body = directoryJson(directory, publicUrl());
  });
  router.get('/directories', requireOperator, async (ctx) => {
    const list = await directories.list();
    ctx.body = { directories: list.map((d) => directoryJson(d, publicUrl(), d.counts)) };
  });
  router.get('/directories/:id', requireOperator, async (ctx) => {
    const directory = await directories.get(ctx.params.id);
    const counts = directory.status === 'deleted' ? undefined : await directories.counts(directory._id);
    ctx.body = directoryJson(directory, publicUrl(), counts);
  });
  router.patch('/directories/:id', requireOperator, async (ctx) => {
    ctx.body = directoryJson(
      await directories.update(ctx.params.id, await readJsonObject(ctx), actorOf(ctx)),
      publicUrl(),
    );
  });
  router.delete('/directories/:id', requireOperator, async (ctx) => {
    ctx.body = directoryJson(await directories.remove(ctx.params.id, actorOf(ctx)), publicUrl());
  });
  return router;
}

/** The current directory's tokens and settings (mounted in the admin API, run inside a directory). */
export function directoryAdminRoutes(
  directories: DirectoryService,
  tokens: DirectoryTokens,
  fileConfig: () => Config,
): Router {
  const router = createRouter();
  router.post('/tokens', async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await tokens.create(await readJsonObject(ctx), actorOf(ctx));
  });
  router.get('/tokens', async (ctx) => {
    ctx.body = { tokens: (await tokens.list()).map(({ _id, ...t }) => ({ id: _id, ...t })) };
  });
  router.delete('/tokens/:id', async (ctx) => {
    const { _id, ...revoked } = await tokens.revoke(ctx.params.id, actorOf(ctx));
    ctx.body = { id: _id, ...revoked };
  });
  for (const [method, mode] of [
    ['put', 'replace'],
    ['patch', 'merge'],
  ] as const) {
    router[method]('/settings', async (ctx) => {
      const changed = await directories.changeSettings(
        requireDirectory('settings'),
        await readJsonObject(ctx),
        mode,
        actorOf(ctx),
      );
      // Read again inside the changed directory so the answer is what the next request will see.
      ctx.body = {
        settings: changed.settings,
        effective: effectiveSettings(directories.configOf(changed, fileConfig())),
      };
    });
  }
  return router;
}
