import { createRouter, type Router } from '../http/router.js';
import { AdminError } from '../http/errors.js';
import type { EventLog } from './repository.js';
import { EVENT_TYPES, type RosterEvent } from './types.js';

/** The JSON form of an event: `id` instead of `_id`, the timestamp as an ISO string. */
export interface EventJson extends Omit<RosterEvent, '_id' | 'timestamp'> {
  id: string;
  timestamp: string;
}

export function eventToJson(event: RosterEvent): EventJson {
  const { _id, timestamp, ...rest } = event;
  delete rest.setsPending; // internal bookkeeping of the security event publisher
  return { id: _id, timestamp: timestamp.toISOString(), ...rest };
}

function single(name: string, value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new AdminError(400, 'invalid_parameter', `${name} may be given once`);
    return value[0];
  }
  return value;
}

/**
 * GET /admin/v1/events?type=&userId=&actor=&since=&until=&limit=&cursor= — newest first, cursor
 * paged; GET /admin/v1/events/types — the types `type` accepts (the console's filter lists them).
 */
export function eventRoutes(log: EventLog): Router {
  const router = createRouter();
  router.get('/events/types', (ctx) => {
    ctx.body = { types: EVENT_TYPES };
  });
  router.get('/events', async (ctx) => {
    const q = ctx.query;
    const page = await log.query({
      type: q.type,
      userId: single('userId', q.userId),
      actor: single('actor', q.actor),
      since: single('since', q.since),
      until: single('until', q.until),
      limit: single('limit', q.limit),
      cursor: single('cursor', q.cursor),
    });
    ctx.body = { events: page.events.map(eventToJson), nextCursor: page.nextCursor ?? null };
  });
  return router;
}
