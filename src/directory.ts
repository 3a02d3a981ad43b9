import { currentContext, withContext } from './workContext.js';

/**
 * The directory (one organization's isolated data, README "Directories") that the current work
 * belongs to: set once where work enters Roster (a request's path, a job's data, a sweep's loop) and
 * read by the scoped collections (src/db/directoryScope.ts), which add it to every query and every
 * document they write, and by the configuration view, which serves that directory's settings.
 * Carried in the work's context (src/workContext.ts) beside the request's transaction, so no
 * service passes it along.
 */
export const DEFAULT_DIRECTORY = 'default';

/**
 * Runs `fn` as work of `directory`. `record` is what the entry point loaded of it (the directory's
 * stored document: its settings), for the configuration view to read without a query.
 */
export function inDirectory<T>(directory: string, fn: () => T, record?: unknown): T {
  return withContext({ directory: { directory, record } }, fn);
}

/** What inDirectory was given of the current directory, if anything. */
export function currentDirectoryRecord(): unknown {
  const scope = currentContext()?.directory;
  return scope && 'directory' in scope ? scope.record : undefined;
}

/**
 * Runs `fn` as a sweep over every directory (jobs that find due work, the purge, migrations): its
 * reads see every directory's documents, and it must hand each document's work to inDirectory.
 */
export function acrossDirectories<T>(fn: () => T): T {
  return withContext({ directory: { across: true } }, fn);
}

/** The current directory; undefined outside any (start-up) or inside a sweep across all. */
export function currentDirectory(): string | undefined {
  const scope = currentContext()?.directory;
  return scope && 'directory' in scope ? scope.directory : undefined;
}

/** True inside acrossDirectories. */
export function isAcrossDirectories(): boolean {
  const scope = currentContext()?.directory;
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
