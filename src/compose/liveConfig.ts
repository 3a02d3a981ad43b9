/**
 * The configuration as services read it: a live view that a reload (SIGHUP, the admin settings)
 * swaps underneath them, the mail templates beside it, and the last reload's outcome for the
 * settings page (docs/ARCHITECTURE.md "Composition").
 */
import path from 'node:path';
import type { ReloadStatus } from '../admin/settingsRoutes.js';
import { PROJECT_ROOT, type Config } from '../config/index.js';
import { currentDirectoryRecord } from '../directory.js';
import type { Directory } from '../directories/types.js';
import { loadTemplates, withOverrides, type Templates } from '../mail/templates.js';

/** Settings read once at start-up: changing them needs a restart. */
const RESTART_KEYS: Record<string, (c: Config) => unknown> = {
  server: (c) => ({ port: c.server.port, host: c.server.host, publicUrl: c.server.publicUrl }),
  mongodb: (c) => c.mongodb,
  auth: (c) => c.auth,
  dataDir: (c) => c.dataDir,
  'mail.smtpUrl': (c) => c.mail.smtpUrl,
  jobs: (c) => c.jobs,
  'securityEvents.sweepEvery': (c) => c.securityEvents.sweepEvery,
  keyEncryption: (c) => c.keyEncryption,
};

const templatesOf = (config: Config) => loadTemplates(path.resolve(PROJECT_ROOT, config.mail.templatesDir));

export type LiveConfig = ReturnType<typeof createLiveConfig>;

/**
 * The configuration of the current directory (src/directory.ts): the file's, with the directory's
 * settings and public URL over it (one object per directory document and file, built on first use).
 */
function directoryView(viewOf: (directory: Directory, base: Config) => Config) {
  const views = new WeakMap<Directory, { base: Config; view: Config }>();
  return (base: Config): Config => {
    const directory = currentDirectoryRecord() as Directory | undefined;
    if (!directory) return base;
    const hit = views.get(directory);
    if (hit?.base === base) return hit.view;
    const view = viewOf(directory, base);
    views.set(directory, { base, view });
    return view;
  };
}

/** The current directory's templates: its own (checked when they were saved) over the files. */
function directoryTemplates() {
  const views = new WeakMap<Directory, { base: Templates; view: Templates }>();
  return (base: Templates): Templates => {
    const directory = currentDirectoryRecord() as Directory | undefined;
    const own = directory?.settings.templates;
    if (!directory || !own || !Object.keys(own).length) return base;
    const hit = views.get(directory);
    if (hit?.base === base) return hit.view;
    const view = withOverrides(base, own, `directory ${directory.slug}`);
    views.set(directory, { base, view });
    return view;
  };
}

export function createLiveConfig(
  initial: Config,
  now: () => Date,
  viewOf: (directory: Directory, base: Config) => Config,
) {
  let current = initial;
  const ofDirectory = directoryView(viewOf);
  const templatesOfDirectory = directoryTemplates();
  let currentTemplates = templatesOf(current);
  let lastReload: ReloadStatus | undefined;
  const note = (status: Omit<ReloadStatus, 'at'>) => {
    lastReload = { at: now().toISOString(), ...status };
  };

  return {
    /** Reads the current configuration, as the current directory has it, on each property access. */
    config: new Proxy({} as Config, { get: (_target, key) => ofDirectory(current)[key as keyof Config] }),
    /** The templates as the current directory has them: its own over the files. */
    templates: {
      get dir() {
        return currentTemplates.dir;
      },
      get byName() {
        return templatesOfDirectory(currentTemplates).byName;
      },
    } as Templates,
    /** The template files: what every directory starts from. */
    fileTemplates: () => currentTemplates,
    /** The configuration as the current directory has it. */
    current: () => ofDirectory(current),
    /** The configuration file's values: the defaults of every directory. */
    file: () => current,
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
