import { randomUUID } from 'node:crypto';
import type { Db, Filter } from 'mongodb';
import { findPage, type IndexSpec } from '../db/mongo.js';
import { createSharedInsert } from '../db/sharedInsert.js';
import { InvalidError } from '../errors.js';
import { currentTransaction } from '../transaction.js';
import { EVENT_TYPES, type EventType, type NewEvent, type RosterEvent } from './types.js';

const EVENTS_COLLECTION = 'events';

export const DEFAULT_EVENT_LIMIT = 100;
export const MAX_EVENT_LIMIT = 1000;

/**
 * Indexes: the newest-first listing (and its cursor range), per user, per type. `_id` is the
 * tie-breaker so events with the same timestamp keep one stable order across pages.
 */
export const EVENT_INDEXES: IndexSpec[] = [
  { collection: EVENTS_COLLECTION, key: { timestamp: -1, _id: -1 }, options: { name: 'timestamp_desc_id_desc' } },
  {
    collection: EVENTS_COLLECTION,
    key: { 'resource.id': 1, timestamp: -1 },
    options: { name: 'resource_id_timestamp' },
  },
  { collection: EVENTS_COLLECTION, key: { type: 1, timestamp: -1 }, options: { name: 'type_timestamp' } },
  {
    collection: EVENTS_COLLECTION,
    key: { 'initiatedBy.name': 1, timestamp: -1 },
    options: { name: 'actor_timestamp' },
  },
  // The security event publisher's repair sweep finds events whose tokens were not written.
  { collection: EVENTS_COLLECTION, key: { setsPending: 1, timestamp: 1 }, options: { name: 'setsPending_timestamp' } },
];

/**
 * Query parameters, as typed values or as the raw strings of a query string (the route passes
 * those through; everything is validated here). `since` is inclusive, `until` exclusive.
 */
export interface EventQueryParams {
  /** One type, a comma-separated list, or several. */
  type?: string | string[];
  /** Events about this resource (`resource.id`): a user or a group id. */
  userId?: string;
  /** Events initiated by this actor name (`initiatedBy.name`, e.g. a token's name or `console:admin`). */
  actor?: string;
  since?: string | Date;
  until?: string | Date;
  /** 1..1000, default 100. */
  limit?: number | string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface EventPage {
  events: RosterEvent[];
  /** Set when more events may follow; pass it back as `cursor`. */
  nextCursor?: string;
}

export interface EventLog {
  /** Appends one event (written together with concurrent callers' events); throws when the write fails. */
  record(event: NewEvent): Promise<void>;
  /** Many events in one write (bulk creates). */
  recordMany(events: NewEvent[]): Promise<void>;
  /** Newest first; throws InvalidError (code invalid_parameter) on bad parameters. */
  query(params?: EventQueryParams): Promise<EventPage>;
  /** Events still marked `setsPending` that were written before `before`, oldest first. */
  pendingSets(before: Date, limit: number): Promise<RosterEvent[]>;
  /** Clears `setsPending`: these events' security event tokens are written. */
  setsWritten(ids: string[]): Promise<void>;
  indexes: IndexSpec[];
}

interface Cursor {
  timestamp: Date;
  id: string;
}

function invalid(message: string): InvalidError {
  return new InvalidError(message, { code: 'invalid_parameter' });
}

export function encodeEventCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.timestamp.toISOString(), i: cursor.id }), 'utf8').toString('base64url');
}

export function decodeEventCursor(value: string): Cursor {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(value)) throw new Error('not base64url');
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { t?: unknown; i?: unknown };
    if (typeof parsed.t !== 'string' || typeof parsed.i !== 'string') throw new Error('bad shape');
    const timestamp = new Date(parsed.t);
    if (Number.isNaN(timestamp.getTime())) throw new Error('bad time');
    return { timestamp, id: parsed.i };
  } catch {
    throw invalid('cursor is not a cursor returned by this endpoint');
  }
}

function parseDate(name: string, value: string | Date | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid(`${name} is not a valid date`);
    return value;
  }
  // ISO 8601: a date (midnight UTC) or a date-time; a date-time without a zone is UTC, not server-local.
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/.exec(
      value.trim(),
    );
  if (!match) throw invalid(`${name} must be an ISO 8601 date or date-time, e.g. 2024-05-01T00:00:00Z`);
  const [, y, mo, d, h = '00', mi = '00', sec = '00', zone] = match;
  const fields = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec);
  const check = new Date(fields);
  if (
    check.getUTCFullYear() !== +y ||
    check.getUTCMonth() !== +mo - 1 ||
    check.getUTCDate() !== +d ||
    check.getUTCHours() !== +h ||
    check.getUTCMinutes() !== +mi ||
    check.getUTCSeconds() !== +sec
  ) {
    throw invalid(`${name} is not a valid date: ${value}`);
  }
  const text = value.trim().replace(' ', 'T');
  const date = new Date(match[4] === undefined ? `${text}T00:00:00Z` : zone ? text : `${text}Z`);
  if (Number.isNaN(date.getTime())) throw invalid(`${name} is not a valid date: ${value}`);
  return date;
}

function parseLimit(value: number | string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_EVENT_LIMIT;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_EVENT_LIMIT) {
    throw invalid(`limit must be an integer from 1 to ${MAX_EVENT_LIMIT}`);
  }
  return n;
}

function parseTypes(value: string | string[] | undefined): EventType[] | undefined {
  if (value === undefined) return undefined;
  const names = (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (names.length === 0) return undefined;
  const unknown = names.filter((n) => !(EVENT_TYPES as readonly string[]).includes(n));
  if (unknown.length) {
    throw invalid(`unknown event type ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${EVENT_TYPES.join(', ')}`);
  }
  return [...new Set(names)] as EventType[];
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The append-only event log (docs/ARCHITECTURE.md "Events"). */
function toDocument(event: NewEvent, at: Date, txn: string, operation: string | undefined): RosterEvent {
  const { timestamp, success, ...rest } = event;
  return withoutUndefined({
    _id: randomUUID(),
    timestamp: timestamp ?? at,
    ...rest,
    success: success ?? true,
    txn,
    operation,
  });
}

/**
 * Told about every event written (the security event publisher). `wants` runs before the write:
 * when it answers true the events are written with `setsPending`, and `publish` runs after it; a
 * failure there is the subscriber's to repair (the event is recorded and the change made).
 */
export interface EventSubscriber {
  wants(events: RosterEvent[]): Promise<boolean>;
  publish(events: RosterEvent[]): Promise<void>;
}

export function createEventLog(
  db: Db,
  now: () => Date = () => new Date(),
  subscriber?: () => EventSubscriber | undefined,
): EventLog {
  const collection = db.collection<RosterEvent>(EVENTS_COLLECTION);
  // Concurrent requests' events share a write (one command fewer per request under load).
  const insert = createSharedInsert(collection);

  async function write(events: NewEvent[]) {
    if (events.length === 0) return;
    const scope = currentTransaction();
    const txn = scope?.txn ?? randomUUID();
    const docs = events.map((e) => toDocument(e, now(), txn, scope?.operation));
    const listener = subscriber?.();
    const pending = listener ? await listener.wants(docs) : false;
    if (pending) for (const doc of docs) doc.setsPending = true;
    await insert(docs);
    if (pending) await listener!.publish(docs);
  }

  return {
    indexes: EVENT_INDEXES,

    record: (event) => write([event]),

    recordMany: (events) => write(events),

    pendingSets: (before, limit) =>
      findPage(collection, { setsPending: true, timestamp: { $lt: before } }, limit, { sort: { timestamp: 1 } }),

    async setsWritten(ids) {
      if (!ids.length) return;
      await collection.updateMany({ _id: { $in: ids } }, { $unset: { setsPending: '' } });
    },

    async query(params = {}) {
      const types = parseTypes(params.type);
      const since = parseDate('since', params.since);
      const until = parseDate('until', params.until);
      const limit = parseLimit(params.limit);
      const cursor = params.cursor ? decodeEventCursor(params.cursor) : undefined;
      if (params.userId !== undefined && typeof params.userId !== 'string') throw invalid('userId must be a string');

      const and: Filter<RosterEvent>[] = [];
      if (types) and.push(types.length === 1 ? { type: types[0] } : { type: { $in: types } });
      if (params.userId) and.push({ 'resource.id': params.userId });
      if (params.actor !== undefined && typeof params.actor !== 'string') throw invalid('actor must be a string');
      if (params.actor) and.push({ 'initiatedBy.name': params.actor });
      if (since || until) {
        and.push({ timestamp: withoutUndefined({ $gte: since, $lt: until }) });
      }
      if (cursor) {
        // Strictly after the last item in (timestamp desc, _id desc) order: a range, not a skip.
        and.push({
          $or: [{ timestamp: { $lt: cursor.timestamp } }, { timestamp: cursor.timestamp, _id: { $lt: cursor.id } }],
        });
      }
      const filter: Filter<RosterEvent> = and.length === 0 ? {} : and.length === 1 ? and[0] : { $and: and };
      const docs = await findPage(collection, filter, limit + 1, { sort: { timestamp: -1, _id: -1 } });
      const events = docs.slice(0, limit);
      const last = events[events.length - 1];
      return docs.length > limit && last
        ? { events, nextCursor: encodeEventCursor({ timestamp: last.timestamp, id: last._id }) }
        : { events };
    },
  };
}
