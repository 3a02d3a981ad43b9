/**
 * The configuration as services read it: a live view that a reload (SIGHUP, the admin settings)
 * swaps underneath them, the mail templates beside it, and the last reload's outcome for the
 * settings page (docs/ARCHITECTURE.md "Composition").
 */
import path from 'node:path';
import type { ReloadStatus } from '../admin/settingsRoutes.js';
import { PROJECT_ROOT, type Config } from '../config/index.js';
import { loadTemplates, type Templates } from '../mail/templates.js';

/** Settings read once at start-up: changing them needs a restart. */
const RESTART_KEYS: Record<string, (c: Config) => unknown> = {
  server: (c) => ({ port: c.server.port, host: c.server.host, publicUrl: c.server.publicUrl }),
  mongodb: (c) => c.mongodb,
  auth: (c) => c.auth,
  dataDir: (c) => c.dataDir,
  'mail.smtpUrl': (c) => c.mail.smtpUrl,
  'mail.from': (c) => c.mail.from,
  jobs: (c) => c.jobs,
  'securityEvents.sweepEvery': (c) => c.securityEvents.sweepEvery,
  keyEncryption: (c) => c.keyEncryption,
};

const templatesOf = (config: Config) => loadTemplates(path.resolve(PROJECT_ROOT, config.mail.templatesDir));

export type LiveConfig = ReturnType<typeof createLiveConfig>;

export function createLiveConfig(initial: Config, now: () => Date) {
  let current = initial;
  let currentTemplates = templatesOf(current);
  let lastReload: ReloadStatus | undefined;
  const note = (status: Omit<ReloadStatus, 'at'>) => {
    lastReload = { at: now().toISOString(), ...status };
  };

  return {
    /** Reads the current configuration on each property access. */
    config: new Proxy({} as Config, { get: (_target, key) => current[key as keyof Config] }),
    templates: {
      get dir() {
        return currentTemplates.dir;
      },
      get byName() {
        return currentTemplates.byName;
      },
    } as Templates,
    current: () => current,
    lastReload: () => lastReload,
    /** A reload refused before it reached reload() (the file did not validate). */
    refused: (message: string) => note({ ok: false, error: message, restartNeeded: [] }),

    /**
     * Swaps in `next` (throws, keeping the old one, when its templates do not load), then runs
     * `applied` with the previous configuration; lists the changed keys that need a restart.
     */
    async reload(next: Config, applied: (previous: Config) => Promise<void>) {
      let nextTemplates: Templates;
      try {
        nextTemplates = templatesOf(next);
      } catch (err) {
        note({ ok: false, error: (err as Error).message, restartNeeded: [] });
        throw err;
      }
      const restartNeeded = Object.entries(RESTART_KEYS)
        .filter(([, read]) => JSON.stringify(read(next)) !== JSON.stringify(read(current)))
        .map(([name]) => name);
      const previous = current;
      current = next;
      currentTemplates = nextTemplates;
      await applied(previous);
      note({ ok: true, restartNeeded });
      return { restartNeeded };
    },
  };
}
