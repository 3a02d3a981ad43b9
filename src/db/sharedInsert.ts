import type { Collection } from 'mongodb';
import { currentDirectory, inDirectory } from '../directory.js';
import { insertUnordered } from './mongo.js';

interface Waiting<T> {
  docs: T[];
  /** The directory of the caller (src/directory.ts): only one directory's documents share a write. */
  directory: string | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Inserts of concurrent callers into one collection, written together: while one write is in
 * flight the next callers' documents wait and then go in one insert, and each caller still returns
 * only once its own documents are written. Under load this saves a database command (and its share
 * of CPU in the driver, the engine and PostgreSQL) per caller that waited; alone, a caller's
 * documents go at once.
 *
 * For documents with fresh unique ids that nothing else writes (event log entries): a document a
 * write refuses as a duplicate is taken as written (a retry below may meet it). When a shared write
 * fails, each caller's documents are written again on their own, so one bad document fails only its
 * own caller.
 */
export function createSharedInsert<T extends { _id: string }>(collection: Collection<T>) {
  let queue: Waiting<T>[] = [];
  let writing = false;

  const within = <R>(directory: string | undefined, fn: () => Promise<R>) =>
    directory === undefined ? fn() : inDirectory(directory, fn);

  async function writeAlone(waiting: Waiting<T>) {
    try {
      await within(waiting.directory, () => insertUnordered(collection, waiting.docs));
      waiting.resolve();
    } catch (err) {
      waiting.reject(err);
    }
  }

  async function drain() {
    writing = true;
    while (queue.length) {
      const directory = queue[0].directory;
      const batch = queue.filter((w) => w.directory === directory);
      queue = queue.filter((w) => w.directory !== directory);
      if (batch.length === 1) {
        await writeAlone(batch[0]);
        continue;
      }
      try {
        await within(directory, () =>
          insertUnordered(
            collection,
            batch.flatMap((w) => w.docs),
          ),
        );
        for (const w of batch) w.resolve();
      } catch {
        for (const w of batch) await writeAlone(w);
      }
    }
    writing = false;
  }

  return (docs: T[]): Promise<void> => {
    if (!docs.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      queue.push({ docs, directory: currentDirectory(), resolve, reject });
      if (!writing) void drain();
    });
  };
}
