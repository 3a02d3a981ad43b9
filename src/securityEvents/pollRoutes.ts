import type { Context } from 'koa';
import { readRawBody } from '../http/body.js';
import { createRouter, type Router } from '../http/router.js';
import type { SetOutbox } from './outbox.js';
import { PollError, readPollRequest } from './pollRequest.js';
import type { ReceiverRepository } from './receivers.js';

export const POLL_PATH = '/security-events/poll';

/** Wakes long polls when their receiver gets SETs on this instance (others are seen by re-reading). */
export function createPollWaiters() {
  const waiting = new Map<string, Set<() => void>>();
  return {
    notify(receiverIds: string[]) {
      for (const id of receiverIds) for (const wake of waiting.get(id) ?? []) wake();
    },
    /** Resolves when SETs arrive for the receiver here, or after `ms`. */
    wait(receiverId: string, ms: number): Promise<void> {
      return new Promise((resolve) => {
        const set = waiting.get(receiverId) ?? new Set();
        waiting.set(receiverId, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          if (set.size === 0) waiting.delete(receiverId);
          resolve();
        };
        const timer = setTimeout(done, ms);
        set.add(done);
      });
    },
  };
}

export type PollWaiters = ReturnType<typeof createPollWaiters>;

export interface PollDeps {
  receivers: ReceiverRepository;
  outbox: SetOutbox;
  waiters: PollWaiters;
  settings: () => { longPollSeconds: number; maxEvents: number };
}

/** Long polls re-read the outbox at least this often (SETs written by another instance). */
const RECHECK_MS = 1000;

async function readBody(ctx: Context): Promise<unknown> {
  const raw = (await readRawBody(ctx, 1024 * 1024)).toString('utf8').trim();
  if (!raw) return {};
  if (!ctx.is('application/json')) throw new PollError(415, 'invalid_request', 'send application/json');
  try {
    return JSON.parse(raw);
  } catch {
    throw new PollError(400, 'invalid_request', 'the body is not valid JSON');
  }
}

/**
 * POST /security-events/poll (RFC 8936): a poll receiver, with the bearer token it got at
 * registration, acknowledges SETs (`ack`), reports bad ones (`setErrs`), and gets up to
 * `maxEvents` unacknowledged SETs in order, waiting up to securityEvents.poll.longPollSeconds for
 * some unless `returnImmediately`. SETs not acknowledged come back in the next poll.
 */
export function pollRoutes(deps: PollDeps): Router {
  // What is not a PollError (a body too large, a database going away) gets a SCIM error body.
  const router = createRouter({ errorShape: 'scim' });
  router.post(POLL_PATH, async (ctx) => {
    try {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
      const receiver = token ? await deps.receivers.byPollToken(token) : undefined;
      if (!receiver) {
        ctx.set('WWW-Authenticate', 'Bearer realm="roster-security-events"');
        throw new PollError(401, 'authentication_failed', 'a poll receiver token is required');
      }
      if (!receiver.enabled) throw new PollError(403, 'access_denied', 'this receiver is disabled');
      const settings = deps.settings();
      const request = readPollRequest(await readBody(ctx), settings.maxEvents);
      await deps.outbox.acknowledge(receiver._id, request.ack);
      await deps.outbox.reportErrors(receiver._id, request.setErrs);

      const deadline = Date.now() + (request.returnImmediately ? 0 : settings.longPollSeconds * 1000);
      let found = request.maxEvents > 0 ? await deps.outbox.pending(receiver._id, request.maxEvents + 1) : [];
      while (request.maxEvents > 0 && found.length === 0 && Date.now() < deadline) {
        await deps.waiters.wait(receiver._id, Math.min(RECHECK_MS, deadline - Date.now()));
        found = await deps.outbox.pending(receiver._id, request.maxEvents + 1);
      }
      const page = found.slice(0, request.maxEvents);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        sets: Object.fromEntries(page.map((item) => [item.jti, item.set])),
        moreAvailable: found.length > request.maxEvents,
      };
    } catch (err) {
      if (!(err instanceof PollError)) throw err;
      ctx.status = err.status;
      ctx.body = { err: err.err, description: err.message };
    }
  });
  return router;
}
