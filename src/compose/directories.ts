/**
 * Directories (README "Directories"): their service and static tokens, how jobs enter a directory,
 * and the purge of deleted ones (docs/ARCHITECTURE.md "Directories").
 */
import type { Db } from 'mongodb';
import type { Config } from '../config/index.js';
import { countMatching } from '../db/mongo.js';
import { purgeDirectoryData } from '../db/directoryScope.js';
import { DEFAULT_DIRECTORY, inDirectory, requireDirectory } from '../directory.js';
import { createDirectoryActivity } from '../directories/activity.js';
import { createDirectoryRepository } from '../directories/repository.js';
import { createDirectoryService } from '../directories/service.js';
import { createTokenRepository } from '../directories/tokenRepository.js';
import { createTokenService } from '../directories/tokenService.js';
import type { Env } from '../events/env.js';
import type { Templates } from '../mail/templates.js';
import { AGENDA_COLLECTION, type JobDirectories, type Jobs } from '../jobs/index.js';

export const DIRECTORY_PURGE_JOB = 'directory-purge';

export type WiredDirectories = ReturnType<typeof wireDirectories>;

export function wireDirectories(parts: {
  env: Env;
  db: Db;
  data: Db;
  fileConfig: () => Config;
  fileTemplates: () => Templates;
}) {
  const { env, db, data } = parts;
  const repository = createDirectoryRepository(db);
  const service = createDirectoryService({
    env,
    directories: repository,
    baseConfig: parts.fileConfig,
    fileTemplates: parts.fileTemplates,
    counts: async () => {
      const [users, groups] = await Promise.all(
        ['users', 'groups'].map((name) => countMatching(data.collection(name), {})),
      );
      return { users, groups };
    },
    purgeData: () =>
      purgeDirectoryData(db, requireDirectory('a purge'), { collection: AGENDA_COLLECTION, field: 'data.directory' }),
  });
  const activity = createDirectoryActivity({
    directories: repository,
    now: env.now,
    warn: (err) => env.logger.warn({ err: (err as Error).message }, 'directory activity not written'),
  });
  const forJobs: JobDirectories = {
    async enter(id, fn) {
      const directory = await service.byId(id);
      if (!directory) return 'gone';
      // A deleted directory may be restored within its retention: its jobs wait, as a suspended one's do.
      if (directory.status !== 'active') return 'suspended';
      await inDirectory(id, fn, directory);
      return 'ran';
    },
    active: () => service.liveIds(),
  };
  return {
    service,
    tokens: createTokenService({ tokens: createTokenRepository(data), env }),
    forJobs,
    activity,
    /** For the HTTP routing: a directory by slug or id, as stored (src/http/directoryRouting.ts). */
    bySlug: service.bySlug,
    byId: service.byId,
    definePurge(jobs: Jobs) {
      jobs.defineHandler(DIRECTORY_PURGE_JOB, async () => void (await service.purgeDue()), {
        retry: false,
        concurrency: 1,
        scope: 'global',
      });
    },
    /**
     * The object with each of its methods run in the default directory: Roster's programmatic
     * handles (roster.users, …), which act on the default directory as the unprefixed API does.
     */
    inDefault<T extends object>(target: T): T {
      return new Proxy(target, {
        get(object, key, receiver) {
          const value = Reflect.get(object, key, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) =>
            inDirectory(DEFAULT_DIRECTORY, () => value.apply(object, args), service.lastSeen(DEFAULT_DIRECTORY));
        },
      });
    },
    async startPurge(jobs: Jobs) {
      await jobs.every(DIRECTORY_PURGE_JOB, '60 minutes');
    },
  };
}
