import { Gauge, type Registry } from 'prom-client';
import type { Db } from 'mongodb';
import { acrossDirectories, currentDirectory } from '../directory.js';
import type { Env } from '../events/env.js';
import type { EventLog, EventSubscriber } from '../events/repository.js';
import type { IndexSpec } from '../db/mongo.js';
import type { Jobs } from '../jobs/index.js';
import type { SecretBox } from '../keys/keyEncryption.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { Outbound } from '../net/outbound.js';
import type { Router } from '../http/router.js';
import { receiverAdminRoutes } from './adminRoutes.js';
import { ASYNC_RESPONSE_URI, createAsyncResponder, type AsyncResponder } from './asyncResponses.js';
import type { Snapshot } from './claims.js';
import { createSetOutbox, SET_OUTBOX_INDEXES } from './outbox.js';
import { createPollWaiters, pollRoutes } from './pollRoutes.js';
import { createPublisher } from './publisher.js';
import { EVENT_URIS } from './eventUris.js';
import { createPushDelivery } from './push.js';
import { createReceiverRepository, RECEIVER_INDEXES, type Receiver } from './receivers.js';

export type { AsyncResponder } from './asyncResponses.js';
/** What ServiceProviderConfig lists: the event URIs receivers choose, and the async responses. */
export const PUBLISHED_EVENT_URIS: readonly string[] = [...EVENT_URIS, ASYNC_RESPONSE_URI];

export const SECURITY_EVENT_INDEXES: IndexSpec[] = [...RECEIVER_INDEXES, ...SET_OUTBOX_INDEXES];
export const PUSH_JOB = 'security-event-push';
export const SWEEP_JOB = 'security-event-sweep';
/** Events still pending this long after they were written are published by the sweep. */
const SWEEP_GRACE_MS = 10_000;
/**
 * The enabled receivers are read at most this often for the event writes (an import records an
 * event per line); changes through this instance apply at once, through another within this.
 */
const RECEIVER_CACHE_MS = 1000;

export interface SecurityEventDeps {
  db: Db;
  /** The event log: the publisher's repair sweep reads the events whose tokens are not written yet. */
  events: Pick<EventLog, 'pendingSets' | 'setsWritten'>;
  /** Clock, configuration, logger (src/events/env.ts). */
  env: Pick<Env, 'config' | 'logger' | 'now'>;
  jobs: Jobs;
  signingKeys: SigningKeys;
  /** Seals the push receivers' Authorization values in the database. */
  secrets: SecretBox;
  metrics: Registry;
  /** Outbound requests (pushes), destinations checked. */
  outbound: Outbound;
  loadSnapshot(type: 'User' | 'Group', id: string): Promise<Snapshot | undefined>;
}

export interface SecurityEvents {
  /** For the event log: writes SETs for each recorded change. */
  subscriber: EventSubscriber;
  adminRouter: Router;
  pollRouter: Router;
  /** RFC 9967 asynchronous requests: the receivers bound to a client get its asyncresp SETs. */
  asyncResponses: AsyncResponder;
  /** Registers the repair sweep (needs the jobs started). */
  start(): Promise<void>;
  /** Repairs once: SETs not written, deliveries not running, old SETs forgotten (the sweep job). */
  sweep(): Promise<void>;
  /** Resolves when no local push run is going (tests). */
  settled(): Promise<void>;
}

/** RFC 9967 security event tokens: receivers, the outbox, push and poll delivery (README "Security events"). */
export function createSecurityEvents(deps: SecurityEventDeps): SecurityEvents {
  const { jobs } = deps;
  const { config, logger, now } = deps.env;
  const receivers = createReceiverRepository(deps.db, deps.secrets);
  // By directory: each directory's receivers get only its own events (src/directory.ts).
  const cached = new Map<string, { at: number; list: Promise<Receiver[]> }>();
  const enabledReceivers = () => {
    const key = currentDirectory() ?? '';
    const hit = cached.get(key);
    if (hit && Date.now() - hit.at <= RECEIVER_CACHE_MS) return hit.list;
    const list = receivers.enabled();
    cached.set(key, { at: Date.now(), list });
    list.catch(() => {
      if (cached.get(key)?.list === list) cached.delete(key);
    });
    return list;
  };
  const outbox = createSetOutbox(deps.db);
  const waiters = createPollWaiters();
  const push = createPushDelivery({
    receivers,
    outbox,
    settings: () => config.securityEvents.push,
    outbound: deps.outbound,
    scheduleRetry: async (receiverId, at) => {
      await jobs.cancel({ name: PUSH_JOB, data: { receiverId } });
      await jobs.schedule(PUSH_JOB, at, { receiverId });
    },
    logger,
  });
  const queued = (ids: string[]) => {
    waiters.notify(ids);
    push.wake(ids);
  };
  const asyncResponses = createAsyncResponder({
    enabledReceivers,
    outbox,
    signingKeys: deps.signingKeys,
    issuer: () => config.server.publicUrl,
    queued,
    now,
  });
  const publisher = createPublisher({
    events: deps.events,
    enabledReceivers,
    outbox,
    signingKeys: deps.signingKeys,
    loadSnapshot: deps.loadSnapshot,
    issuer: () => config.server.publicUrl,
    queued,
    logger,
    now,
  });

  jobs.defineHandler<{ receiverId: string }>(PUSH_JOB, ({ receiverId }) => push.drain(receiverId), { retry: false });
  jobs.defineHandler(SWEEP_JOB, () => sweep(), { retry: false, concurrency: 1, scope: 'eachDirectory' });

  new Gauge({
    name: 'roster_security_events_backlog',
    help: 'Security event tokens not yet delivered (push) or acknowledged (poll), over all receivers',
    registers: [deps.metrics],
    async collect() {
      this.set(await acrossDirectories(() => outbox.backlog()));
    },
  });

  async function sweep() {
    await publisher.sweep(SWEEP_GRACE_MS);
    // Push receivers whose next SET is due (a run lost with an instance, a job not scheduled).
    const pushReceivers = (await receivers.enabled()).filter((r) => r.delivery === 'push');
    const heads = await Promise.all(pushReceivers.map((r) => outbox.head(r._id)));
    push.wake(
      pushReceivers.filter((_, i) => heads[i] && heads[i].nextAttemptAt.getTime() <= Date.now()).map((r) => r._id),
    );
    await outbox.forget(new Date(Date.now() - config.securityEvents.retainDays * 86_400_000));
  }

  return {
    subscriber: publisher,
    adminRouter: receiverAdminRoutes({
      receivers,
      outbox,
      publicUrl: () => config.server.publicUrl,
      checkEndpoint: (url) => deps.outbound.check(url),
      now,
      changed: (ids) => {
        cached.delete(currentDirectory() ?? '');
        push.wake(ids);
      },
    }),
    asyncResponses,
    pollRouter: pollRoutes({ receivers, outbox, waiters, settings: () => config.securityEvents.poll }),
    async start() {
      await jobs.every(SWEEP_JOB, config.securityEvents.sweepEvery);
    },
    sweep,
    async settled() {
      while (!push.idle()) await new Promise((resolve) => setTimeout(resolve, 20));
    },
  };
}
