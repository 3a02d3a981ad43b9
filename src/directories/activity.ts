/**
 * Each directory's SCIM traffic for the operators (GET /admin/v1/directories, the console): when
 * its IdP last called, how many requests and refusals. Counted in memory per instance and added to
 * the directory's document every few seconds, so a request costs no write.
 */
import type { DirectoryRepository } from './repository.js';

const FLUSH_MS = 5000;

interface Pending {
  requests: number;
  errors: number;
  lastAt: Date;
  lastErrorAt?: Date;
}

export function createDirectoryActivity(deps: {
  directories: DirectoryRepository;
  now: () => Date;
  warn: (err: unknown) => void;
}) {
  let pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;

  async function flush() {
    const batch = pending;
    pending = new Map();
    for (const [id, counts] of batch) await deps.directories.addActivity(id, counts).catch(deps.warn);
  }

  return {
    /** One SCIM answer of the directory (an error: status 400 and above). */
    note(directory: string, status: number) {
      const at = deps.now();
      const counts = pending.get(directory) ?? { requests: 0, errors: 0, lastAt: at };
      counts.requests++;
      counts.lastAt = at;
      if (status >= 400) {
        counts.errors++;
        counts.lastErrorAt = at;
      }
      pending.set(directory, counts);
      timer ??= setTimeout(() => {
        timer = undefined;
        void flush();
      }, FLUSH_MS).unref();
    },
    /** Writes what is counted now (shutdown, tests). */
    async flush() {
      clearTimeout(timer);
      timer = undefined;
      await flush();
    },
  };
}

export type DirectoryActivity = ReturnType<typeof createDirectoryActivity>;
