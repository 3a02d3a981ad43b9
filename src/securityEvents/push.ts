import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { DestinationRefusedError, type Outbound, type OutboundResponse } from '../net/outbound.js';
import { receiverError, type SetError, type SetOutbox } from './outbox.js';
import type { Receiver, ReceiverRepository } from './receivers.js';

export interface PushSettings {
  timeoutMs: number;
  retryBaseSeconds: number;
  retryMaxMinutes: number;
  giveUpAfterHours: number;
}

export interface PushDeps {
  receivers: ReceiverRepository;
  outbox: SetOutbox;
  settings: () => PushSettings;
  /** Sends the POSTs: only to allowed destinations, checked on the address connected to. */
  outbound: Outbound;
  /** Runs delivery for the receiver again at `at` (an Agenda job, so another instance may take it). */
  scheduleRetry(receiverId: string, at: Date): Promise<void>;
  logger: Logger;
}

/** What one POST came to (RFC 8935 section 2.2 and 2.3), or that Roster did not send it (`refused`). */
export type PushOutcome =
  | { kind: 'delivered' }
  | { kind: 'rejected'; error: SetError }
  | { kind: 'refused'; error: SetError }
  | { kind: 'retry'; reason: string };

/** Of a receiver's answer, this much is read (an error report is small). */
const MAX_ANSWER_BYTES = 16 * 1024;

/** A push's answer read as RFC 8935 says: 202 delivered, 400 with an error body refused for good, else retry. */
export function readPushAnswer(answer: Pick<OutboundResponse, 'status' | 'body'>): PushOutcome {
  if (answer.status === 202 || answer.status === 200 || answer.status === 204) return { kind: 'delivered' };
  if (answer.status === 400) {
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      body = undefined;
    }
    return { kind: 'rejected', error: receiverError(body, 'the receiver answered 400') };
  }
  return { kind: 'retry', reason: `HTTP ${answer.status}` };
}

/** Delay before attempt `attempt + 1`: doubling from the base, capped, with jitter (half to all of it). */
export function pushRetryDelayMs(attempt: number, settings: PushSettings, random = Math.random): number {
  const capped = Math.min(
    settings.retryBaseSeconds * 1000 * 2 ** Math.max(0, attempt - 1),
    settings.retryMaxMinutes * 60_000,
  );
  return Math.round(capped / 2 + (capped / 2) * random());
}

const LEASE_MS = 60_000;

/**
 * Push delivery: one run per receiver at a time (a lease on the receiver document, shared by every
 * instance) sends its SETs in order; a SET that must be retried holds back the later ones, so a
 * receiver sees them in the order they were made.
 */
export function createPushDelivery(deps: PushDeps) {
  const log = deps.logger.child({ component: 'security-events-push' });
  const running = new Set<string>();
  const again = new Set<string>();

  async function post(receiver: Receiver, set: string): Promise<PushOutcome> {
    try {
      // Redirects are not followed (never carry the Authorization header elsewhere): a 3xx is retried.
      const answer = await deps.outbound.request(receiver.endpoint!, {
        method: 'POST',
        headers: {
          'content-type': 'application/secevent+jwt',
          accept: 'application/json',
          ...(receiver.authorization ? { authorization: receiver.authorization } : {}),
        },
        body: set,
        timeoutMs: deps.settings().timeoutMs,
        maxResponseBytes: MAX_ANSWER_BYTES,
      });
      return readPushAnswer(answer);
    } catch (err) {
      if (err instanceof DestinationRefusedError) {
        return { kind: 'refused', error: { err: err.code, description: err.message } };
      }
      const code = (err as NodeJS.ErrnoException).code;
      return { kind: 'retry', reason: code ?? (err as Error).name ?? 'network error' };
    }
  }

  /**
   * Sends the receiver's due SETs in order. Returns when its queue is empty, when another run holds
   * it, or when the head SET must wait: then with the time to come back, which the caller schedules
   * once the lease is released (a job started before that would find the queue still held).
   */
  async function send(receiverId: string): Promise<Date | undefined> {
    const leaseId = randomUUID();
    if (!(await deps.receivers.takeLease(receiverId, leaseId, LEASE_MS))) return undefined;
    try {
      for (;;) {
        const receiver = await deps.receivers.find(receiverId);
        if (!receiver || !receiver.enabled || receiver.delivery !== 'push' || !receiver.endpoint) return undefined;
        const item = await deps.outbox.head(receiverId);
        if (!item || !item.set) return undefined;
        if (item.nextAttemptAt.getTime() > Date.now()) return item.nextAttemptAt;
        const outcome = await post(receiver, item.set);
        const who = { receiverId, receiver: receiver.name, jti: item.jti };
        if (outcome.kind === 'delivered') {
          await deps.outbox.delivered(item._id);
        } else if (outcome.kind === 'rejected') {
          log.warn({ ...who, err: outcome.error.err }, 'receiver refused a security event token');
          await deps.outbox.failed(item._id, outcome.error);
        } else if (outcome.kind === 'refused') {
          log.warn({ ...who, reason: outcome.error.description }, 'security event token not sent: destination refused');
          await deps.outbox.failed(item._id, outcome.error);
        } else {
          const settings = deps.settings();
          const attempts = item.attempts + 1;
          const giveUpAt = item.createdAt.getTime() + settings.giveUpAfterHours * 3_600_000;
          const next = new Date(Date.now() + pushRetryDelayMs(attempts, settings));
          if (next.getTime() > giveUpAt) {
            log.warn({ ...who, attempts, reason: outcome.reason }, 'security event token given up');
            await deps.outbox.failed(item._id, { err: 'delivery_failed', description: outcome.reason });
          } else {
            log.info({ ...who, attempts, reason: outcome.reason, next }, 'security event push failed; retrying');
            await deps.outbox.retryLater(item._id, attempts, next, outcome.reason);
            return next;
          }
        }
        if (!(await deps.receivers.renewLease(receiverId, leaseId, LEASE_MS))) return undefined;
      }
    } finally {
      await deps.receivers.releaseLease(receiverId, leaseId);
    }
  }

  /** One delivery run, then its retry scheduled (an Agenda job, which any instance may run). */
  async function drain(receiverId: string): Promise<void> {
    const retryAt = await send(receiverId);
    if (retryAt) await deps.scheduleRetry(receiverId, retryAt);
  }

  return {
    drain,
    /** Starts delivery for the receivers in the background (at most one local run each). */
    wake(receiverIds: string[]): void {
      for (const id of receiverIds) {
        if (running.has(id)) {
          again.add(id);
          continue;
        }
        running.add(id);
        void (async () => {
          try {
            do {
              again.delete(id);
              await drain(id);
            } while (again.has(id));
          } catch (err) {
            log.warn(
              { receiverId: id, err: (err as Error).message },
              'security event push run failed; the sweep retries',
            );
          } finally {
            running.delete(id);
          }
        })();
      }
    },
    /** Local runs still going (tests and shutdown wait for them). */
    idle: () => running.size === 0,
  };
}
