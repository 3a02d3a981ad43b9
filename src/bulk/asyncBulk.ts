import { currentDirectory } from '../directory.js';
import { currentTransaction } from '../transaction.js';
import type { Actor } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { BulkResult } from '../scim/bulk.js';
import { errorBody } from '../scim/errors.js';
import type { Slots } from '../slots.js';
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
 * receivers bound to the client. A client without such a receiver gets the synchronous answer, and
 * so does one over the limits on background runs (per process, per client) or when no request slot
 * is free: a background run holds one of the overload guard's slots, so it is counted as load.
 */
export function createAsyncBulk(deps: {
  bulk: ReturnType<typeof createBulkService>;
  responses: AsyncResponses;
  /** The overload guard's request slots. */
  requestSlots: Slots;
  limits: () => { maxAsyncRuns: number; maxAsyncRunsPerClient: number };
  logger: Logger;
}) {
  const log = deps.logger.child({ component: 'async-bulk' });
  const running = new Set<Promise<void>>();
  const perClient = new Map<string, number>();

  /** A slot for a background run of this client's, or undefined when over a limit. */
  function takeRun(client: string): (() => void) | undefined {
    const { maxAsyncRuns, maxAsyncRunsPerClient } = deps.limits();
    const ofClient = perClient.get(client) ?? 0;
    if (running.size >= maxAsyncRuns || ofClient >= maxAsyncRunsPerClient) return undefined;
    const releaseSlot = deps.requestSlots.tryTake(currentDirectory() ?? '');
    if (!releaseSlot) return undefined;
    perClient.set(client, ofClient + 1);
    return () => {
      releaseSlot();
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    };
  }

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
      await deps.responses.publish(actor.id!, completions);
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
      const client = actor.id;
      if (!txn || !client || !(await deps.responses.accepts(client))) return undefined;
      deps.bulk.parse(body);
      const release = takeRun(client);
      if (!release) {
        log.info({ txn, client }, 'asynchronous bulk over its limits; answered synchronously');
        return undefined;
      }
      const run = runAndPublish(body, actor, txn).finally(() => {
        release();
        running.delete(run);
      });
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
