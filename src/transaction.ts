import { randomUUID } from 'node:crypto';
import { currentContext, withContext } from './workContext.js';

/**
 * The transaction a change belongs to: one per SCIM or admin request (so every event, and every
 * security event token, of one request shares its `txn`), and the SCIM operation that made it
 * (`PUT` or `PATCH`, also inside a /Bulk request). Carried in the work's context (src/workContext.ts) so the services
 * that record events need not pass it along.
 */
export interface Transaction {
  txn: string;
  operation?: string;
}

/** Runs `fn` as one transaction (a fresh txn), e.g. one HTTP request with its method. */
export function inTransaction<T>(operation: string | undefined, fn: () => Promise<T>): Promise<T> {
  return withContext({ transaction: { txn: randomUUID(), ...(operation ? { operation } : {}) } }, fn);
}

/** Runs `fn` as the given SCIM operation, keeping the current txn. */
export function asOperation<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  const current = currentTransaction();
  return withContext({ transaction: { txn: current?.txn ?? randomUUID(), operation } }, fn);
}

/** The current transaction, if any (jobs and start-up work run outside one). */
export function currentTransaction(): Transaction | undefined {
  return currentContext()?.transaction;
}
