import { currentTransaction } from '../events/transaction.js';
import type { Actor } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { BulkResult } from '../scim/bulk.js';
import { errorBody } from '../scim/errors.js';
import type { createBulkService } from './service.js';

/** What asynchronous /Bulk needs of the security events (src/securityEvents/asyncResponses.ts). */
export interface AsyncResponses {
  accepts(client: string): Promise<boolean>;
  publish(client: string, completions: AsyncCompletion[]): Promise<void>;
}

/** One finished operation: its asyncresp `txn`, the path it was sent to, its Bulk response entry. */
interface AsyncCompletion {
  txn: string;
  requestPath: string;
  outcome: BulkResult;
}

/**
 * RFC 9967 asynchronous /Bulk (`Prefer: respond-async`): the request is checked, then run in the
 * background of this process with the request's actor and txn, and each operation's outcome is
 * published as an asyncresp SET (`txn` = the request's txn, ":" and the operation's index) to the
 * receivers bound to the client. A client without such a receiver gets the synchronous answer.
 */
export function createAsyncBulk(deps: {
  bulk: ReturnType<typeof createBulkService>;
  responses: AsyncResponses;
  logger: Logger;
}) {
  const log = deps.logger.child({ component: 'async-bulk' });
  const running = new Set<Promise<void>>();

  async function runAndPublish(body: unknown, actor: Actor, txn: string): Promise<void> {
    let completions: AsyncCompletion[];
    try {
      const { operations, results } = await deps.bulk.executeEach(body, actor);
      completions = results.flatMap((outcome, index) =>
        outcome ? [{ txn: `${txn}:${index}`, requestPath: operations[index].path, outcome }] : [],
      );
    } catch (err) {
      // Not a refusal of one operation (those are outcomes): the request as a whole failed.
      log.error({ err: (err as Error).message, txn }, 'asynchronous bulk request failed');
      const error = { status: 500, message: 'The bulk request failed; some operations may have been made' };
      completions = [
        { txn, requestPath: '/Bulk', outcome: { method: 'POST', status: '500', response: errorBody(error) } },
      ];
    }
    try {
      await deps.responses.publish(actor.name, completions);
    } catch (err) {
      log.error({ err: (err as Error).message, txn }, 'asynchronous bulk outcome not published');
    }
  }

  return {
    /**
     * Starts the request in the background when the client has a receiver for its asynchronous
     * responses; returns the txn for Set-Txn, or undefined to answer synchronously. Parse errors
     * (an invalid body, too many operations) are thrown here, answered at once.
     */
    async start(body: unknown, actor: Actor): Promise<string | undefined> {
      // Started inside the request's transaction, so its events share the txn (AsyncLocalStorage).
      const txn = currentTransaction()?.txn;
      if (!txn || !(await deps.responses.accepts(actor.name))) return undefined;
      deps.bulk.parse(body);
      const run = runAndPublish(body, actor, txn).finally(() => running.delete(run));
      running.add(run);
      return txn;
    },
    /** Resolves when the background requests running now are done (shutdown, tests). */
    async settled(): Promise<void> {
      await Promise.all([...running]);
    },
  };
}

export type AsyncBulk = ReturnType<typeof createAsyncBulk>;
