import type { Context } from 'koa';
import { readJsonObject } from '../http/json.js';
import { AdminError } from '../http/errors.js';
import { createRouter, type Router } from '../http/router.js';
import type { Counts, OutboxSet, SetOutbox } from './outbox.js';
import { POLL_PATH } from './pollRoutes.js';
import { receiverSettings } from './receiverInput.js';
import type { Receiver, ReceiverRepository } from './receivers.js';

export interface ReceiverAdminDeps {
  receivers: ReceiverRepository;
  outbox: SetOutbox;
  publicUrl: () => string;
  /** Why an endpoint is not an allowed destination (its literal address, or what its name resolves to now), or undefined. */
  checkEndpoint(url: string): Promise<string | undefined>;
  now: () => Date;
  /** Receivers were added, changed or deleted: forget cached lists, deliver what waits for these. */
  changed(receiverIds: string[]): void;
}

/** A receiver as the admin API shows it: the Authorization value and the poll token's hash never. */
function receiverJson(receiver: Receiver, publicUrl: string, deliveries?: Counts, failures?: OutboxSet[]) {
  return {
    id: receiver._id,
    name: receiver.name,
    delivery: receiver.delivery,
    ...(receiver.endpoint ? { endpoint: receiver.endpoint } : {}),
    ...(receiver.delivery === 'push' ? { authorization: receiver.authorization ? 'set' : 'none' } : {}),
    ...(receiver.delivery === 'poll' ? { pollUrl: `${publicUrl}${POLL_PATH}` } : {}),
    audience: receiver.audience,
    events: receiver.events,
    level: receiver.level,
    attributes: receiver.attributes,
    enabled: receiver.enabled,
    ...(receiver.client ? { client: receiver.client } : {}),
    createdAt: receiver.createdAt.toISOString(),
    updatedAt: receiver.updatedAt.toISOString(),
    ...(deliveries ? { deliveries } : {}),
    ...(failures
      ? {
          recentFailures: failures.map((f) => ({
            jti: f.jti,
            eventId: f.eventId,
            error: f.error,
            at: f.doneAt?.toISOString(),
          })),
        }
      : {}),
  };
}

/** /admin/v1/event-receivers: register, list, show, change (PATCH, PUT; enable/disable) and delete receivers. */
export function receiverAdminRoutes(deps: ReceiverAdminDeps): Router {
  const router = createRouter();
  const load = async (id: string) => {
    const receiver = await deps.receivers.find(id);
    if (!receiver) throw new AdminError(404, 'not_found', `No event receiver ${id}`);
    return receiver;
  };

  // A new endpoint is checked now (a clear 400), and every connection to it again (DNS may change).
  const checkEndpoint = async (endpoint: string | undefined) => {
    if (!endpoint) return;
    if (new URL(endpoint).origin === new URL(deps.publicUrl()).origin)
      throw new AdminError(400, 'invalid_receiver', 'endpoint must not be Roster itself (server.publicUrl)');
    const refused = await deps.checkEndpoint(endpoint);
    if (refused) throw new AdminError(400, 'invalid_receiver', `endpoint is not an allowed destination: ${refused}`);
  };

  router.post('/event-receivers', async (ctx) => {
    const settings = receiverSettings(await readJsonObject(ctx));
    await checkEndpoint(settings.endpoint);
    const { receiver, pollToken } = await deps.receivers.insert(settings, deps.now());
    deps.changed([]);
    ctx.status = 201;
    ctx.set('Location', `${deps.publicUrl()}/admin/v1/event-receivers/${receiver._id}`);
    // The poll token is shown this once; Roster keeps only its hash.
    ctx.body = { ...receiverJson(receiver, deps.publicUrl()), ...(pollToken ? { pollToken } : {}) };
  });

  router.get('/event-receivers', async (ctx) => {
    const list = await deps.receivers.list();
    ctx.body = { receivers: list.map((r) => receiverJson(r, deps.publicUrl())) };
  });

  router.get('/event-receivers/:id', async (ctx) => {
    const receiver = await load(ctx.params.id);
    const [counts, failures] = await Promise.all([
      deps.outbox.counts(receiver._id),
      deps.outbox.recentFailures(receiver._id, 20),
    ]);
    ctx.body = receiverJson(receiver, deps.publicUrl(), counts, failures);
  });

  // PATCH changes the fields given; PUT replaces them all (an omitted authorization is removed).
  const update = (replace: boolean) => async (ctx: Context) => {
    const existing = await load(ctx.params.id);
    const body = await readJsonObject(ctx);
    if (replace && body.delivery !== existing.delivery) {
      throw new AdminError(400, 'invalid_receiver', `delivery must stay "${existing.delivery}"`);
    }
    const settings = receiverSettings(body, replace ? undefined : existing);
    if (replace || body.endpoint !== undefined) await checkEndpoint(settings.endpoint);
    const updated = await deps.receivers.update(existing._id, settings, deps.now());
    if (!updated) throw new AdminError(404, 'not_found', `No event receiver ${existing._id}`);
    deps.changed(updated.enabled && updated.delivery === 'push' ? [updated._id] : []);
    ctx.body = receiverJson(updated, deps.publicUrl());
  };
  router.patch('/event-receivers/:id', update(false));
  router.put('/event-receivers/:id', update(true));

  router.delete('/event-receivers/:id', async (ctx) => {
    // Read first: whether it existed decides the 404, not the count a delete reports.
    await load(ctx.params.id);
    await deps.receivers.delete(ctx.params.id);
    deps.changed([]);
    await deps.outbox.removeReceiver(ctx.params.id);
    ctx.status = 204;
  });
  return router;
}
