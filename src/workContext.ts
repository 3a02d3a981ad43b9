import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the current work carries through its awaits: its transaction (src/transaction.ts) and its
 * directory (src/directory.ts). One AsyncLocalStorage for both: Node copies each storage's value
 * onto every promise made, so each more storage costs every await of every request.
 */
export interface WorkContext {
  transaction?: { txn: string; operation?: string };
  directory?: { directory: string; record?: unknown } | { across: true };
}

const storage = new AsyncLocalStorage<WorkContext>();

/** Runs `fn` with the current context changed by `change` (the rest kept). */
export function withContext<T>(change: Partial<WorkContext>, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...change }, fn);
}

export function currentContext(): WorkContext | undefined {
  return storage.getStore();
}
