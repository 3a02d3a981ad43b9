import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The directory (one organization's isolated data, README "Directories") that the current work
 * belongs to: set once where work enters Roster (a request's path, a job's data, a sweep's loop) and
 * read by the scoped collections (src/db/directoryScope.ts), which add it to every query and every
 * document they write, and by the configuration view, which serves that directory's settings.
 * Carried with AsyncLocalStorage like the request's transaction, so no service passes it along.
 */
export const DEFAULT_DIRECTORY = 'default';

/** The work of one directory, or a sweep that reads across all of them (explicitly, never by accident). */
type DirectoryScope = { directory: string; record?: unknown } | { across: true };

const storage = new AsyncLocalStorage<DirectoryScope>();

/**
 * Runs `fn` as work of `directory`. `record` is what the entry point loaded of it (the directory's
 * stored document: its settings), for the configuration view to read without a query.
 */
export function inDirectory<T>(directory: string, fn: () => T, record?: unknown): T {
  return storage.run({ directory, record }, fn);
}

/** What inDirectory was given of the current directory, if anything. */
export function currentDirectoryRecord(): unknown {
  const scope = storage.getStore();
  return scope && 'directory' in scope ? scope.record : undefined;
}

/**
 * Runs `fn` as a sweep over every directory (jobs that find due work, the purge, migrations): its
 * reads see every directory's documents, and it must hand each document's work to inDirectory.
 */
export function acrossDirectories<T>(fn: () => T): T {
  return storage.run({ across: true }, fn);
}

/** The current directory; undefined outside any (start-up) or inside a sweep across all. */
export function currentDirectory(): string | undefined {
  const scope = storage.getStore();
  return scope && 'directory' in scope ? scope.directory : undefined;
}

/** True inside acrossDirectories. */
export function isAcrossDirectories(): boolean {
  const scope = storage.getStore();
  return !!scope && 'across' in scope;
}

/** Thrown when directory data is touched outside a directory: a bug, never a client's doing. */
export class NoDirectoryError extends Error {
  constructor(what: string) {
    super(`${what} outside a directory (src/directory.ts): every read and write of directory data names one`);
    this.name = 'NoDirectoryError';
  }
}

/** The current directory, or a NoDirectoryError naming what needed it. */
export function requireDirectory(what: string): string {
  const directory = currentDirectory();
  if (directory === undefined) throw new NoDirectoryError(what);
  return directory;
}
