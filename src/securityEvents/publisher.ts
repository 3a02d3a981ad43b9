import { randomUUID } from 'node:crypto';
import type { EventLog, EventSubscriber } from '../events/repository.js';
import type { RosterEvent } from '../events/types.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { Logger } from '../logger.js';
import { needsSnapshot, setClaims, type Snapshot } from './claims.js';
import { publicationOf, uriFor } from './eventUris.js';
import { pendingSet, type OutboxSet, type SetOutbox } from './outbox.js';
import type { Receiver } from './receivers.js';

export interface PublisherDeps {
  events: Pick<EventLog, 'pendingSets' | 'setsWritten'>;
  /** The receivers that get SETs now (cached briefly, see index.ts). */
  enabledReceivers(): Promise<Receiver[]>;
  outbox: SetOutbox;
  signingKeys: SigningKeys;
  /** The resource as a SCIM GET shows it, or undefined when it is gone. */
  loadSnapshot(type: 'User' | 'Group', id: string): Promise<Snapshot | undefined>;
  /** `iss` of every SET: Roster's public URL. */
  issuer: () => string;
  /** Told which receivers got new SETs (push delivery starts, long polls wake). */
  queued(receiverIds: string[]): void;
  logger: Logger;
  now: () => Date;
}

interface Pair {
  event: RosterEvent;
  receiver: Receiver;
  uri: string;
}

function pairsFor(events: RosterEvent[], receivers: Receiver[]): Pair[] {
  const pairs: Pair[] = [];
  for (const event of events) {
    const publication = publicationOf(event);
    if (!publication) continue;
    for (const receiver of receivers) {
      const uri = uriFor(publication, receiver);
      if (uri) pairs.push({ event, receiver, uri });
    }
  }
  return pairs;
}

const SNAPSHOT_BATCH = 20;

/**
 * Turns recorded events into one signed SET per interested receiver, written to the outbox. Runs
 * right after the event is written (the event log's subscriber); events marked `setsPending` whose
 * SETs were not written (a crash, a database hiccup) are published by sweep() later, and the
 * outbox ids make that repetition harmless.
 */
export function createPublisher(deps: PublisherDeps): EventSubscriber & { sweep(graceMs: number): Promise<number> } {
  const log = deps.logger.child({ component: 'security-events' });
  const { events } = deps;

  async function snapshots(pairs: Pair[]): Promise<Map<string, Snapshot | undefined>> {
    const wanted = new Map<string, { type: 'User' | 'Group'; id: string }>();
    for (const { event, uri } of pairs) {
      if (needsSnapshot(uri))
        wanted.set(event.resource!.id, { type: event.resource!.type as 'User', id: event.resource!.id });
    }
    const found = new Map<string, Snapshot | undefined>();
    const list = [...wanted.values()];
    for (let i = 0; i < list.length; i += SNAPSHOT_BATCH) {
      const batch = list.slice(i, i + SNAPSHOT_BATCH);
      const loaded = await Promise.all(batch.map((r) => deps.loadSnapshot(r.type, r.id)));
      batch.forEach((r, j) => found.set(r.id, loaded[j]));
    }
    return found;
  }

  async function write(list: RosterEvent[]): Promise<void> {
    const pairs = pairsFor(list, await deps.enabledReceivers());
    if (pairs.length) {
      const found = await snapshots(pairs);
      const first = await deps.outbox.reserve(pairs.length);
      const issuedAt = deps.now();
      const docs: OutboxSet[] = [];
      for (const [i, { event, receiver, uri }] of pairs.entries()) {
        const jti = randomUUID().replace(/-/g, '');
        const claims = setClaims({
          event,
          uri,
          receiver,
          snapshot: found.get(event.resource!.id),
          issuer: deps.issuer(),
          jti,
          issuedAt,
        });
        docs.push(
          pendingSet({
            _id: `${event._id}:${receiver._id}`,
            receiverId: receiver._id,
            eventId: event._id,
            seq: first + i,
            jti,
            set: await deps.signingKeys.sign(claims, 'secevent+jwt'),
            createdAt: issuedAt,
          }),
        );
      }
      await deps.outbox.insert(docs);
    }
    await events.setsWritten(list.map((e) => e._id));
    if (pairs.length) deps.queued([...new Set(pairs.map((p) => p.receiver._id))]);
  }

  return {
    async wants(list) {
      if (!list.some((e) => publicationOf(e))) return false;
      return pairsFor(list, await deps.enabledReceivers()).length > 0;
    },

    async publish(list) {
      try {
        await write(list);
      } catch (err) {
        // The change is made and its event recorded: the sweep writes the SETs later.
        log.warn(
          { err: (err as Error).message, events: list.length },
          'security events not written yet; the sweep will',
        );
      }
    },

    /** Publishes events left pending for longer than graceMs; returns how many. */
    async sweep(graceMs) {
      const before = new Date(deps.now().getTime() - graceMs);
      const stuck = await events.pendingSets(before, 500);
      if (stuck.length) await write(stuck);
      return stuck.length;
    },
  };
}
