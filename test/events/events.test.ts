import { beforeAll, describe, expect, it } from 'vitest';
import { createEventLog, decodeEventCursor, encodeEventCursor } from '../../src/events/repository.js';
import type { EventType, NewEvent } from '../../src/events/types.js';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';

const t = useTestRoster();
const BASE = Date.parse('2024-03-01T00:00:00.000Z');
const at = (minutes: number) => new Date(BASE + minutes * 60_000);
const admin = { type: 'admin', name: 'admin' } as const;

function userEvent(type: EventType, userId: string, minutes: number, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    type,
    timestamp: at(minutes),
    resource: { type: 'User', id: userId, username: `${userId}@example.com` },
    initiatedBy: admin,
    ...extra,
  };
}

interface EventBody {
  id: string;
  timestamp: string;
  type: string;
  resource?: { id: string };
}

beforeAll(async () => {
  const log = t.roster.events;
  // 300 events: 3 per minute for 100 minutes (several per timestamp, so the _id tie-break matters).
  for (let m = 0; m < 100; m++) {
    await log.record(userEvent('user_update', 'u-a', m));
    await log.record(userEvent('user_login_attempt', 'u-b', m, { success: m % 2 === 0 }));
    await log.record(
      userEvent('user_activation_email', 'u-a', m, { recipientEmail: 'a@example.com', changes: undefined }),
    );
  }
});

async function list(query: string) {
  const res = await t.admin().get(`/events${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { events: EventBody[]; nextCursor: string | null };
}

function expectNewestFirst(events: EventBody[]) {
  for (let i = 1; i < events.length; i++) {
    expect(Date.parse(events[i - 1].timestamp)).toBeGreaterThanOrEqual(Date.parse(events[i].timestamp));
  }
}

describe('event log: record', () => {
  it('stores a UUID id, a Date timestamp, success true by default and no undefined fields', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const other = await startTestRoster({}, { now: () => now });
    try {
      await other.roster.events.record({ type: 'group_create', initiatedBy: admin, changes: undefined });
      const docs = await other.db.collection('events').find().toArray();
      expect(docs).toHaveLength(1);
      expect(docs[0]._id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(docs[0].timestamp).toBeInstanceOf(Date);
      expect(docs[0].timestamp.toISOString()).toBe(now.toISOString());
      expect(docs[0].success).toBe(true);
      expect('changes' in docs[0]).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('creates the indexes at start-up', async () => {
    const indexes = await t.db.collection('events').listIndexes().toArray();
    const keys = indexes.map((i) => JSON.stringify(i.key));
    expect(keys.filter((k) => k !== '{"_id":1}').every((k) => k.startsWith('{"directory":1'))).toBe(true);
    expect(keys).toEqual(
      expect.arrayContaining([
        // Every index on directory data starts with the directory (src/db/directoryScope.ts).
        JSON.stringify({ directory: 1, timestamp: -1, _id: -1 }),
        JSON.stringify({ directory: 1, 'resource.id': 1, timestamp: -1 }),
        JSON.stringify({ directory: 1, type: 1, timestamp: -1 }),
      ]),
    );
  });

  it('works directly on a database with its own clock', async () => {
    const log = createEventLog(t.db, () => at(10_000));
    expect(log.indexes).toHaveLength(5);
    const page = await log.query({ limit: 1 });
    expect(page.events[0].timestamp).toBeInstanceOf(Date);
  });
});

describe('GET /admin/v1/events', () => {
  it('lists newest first with the default limit of 100 and the JSON shape', async () => {
    const body = await list('');
    expect(body.events).toHaveLength(100);
    expectNewestFirst(body.events);
    expect(body.events[0]).toMatchObject({
      id: expect.any(String),
      timestamp: at(99).toISOString(),
      initiatedBy: admin,
      success: expect.any(Boolean),
    });
    expect(body.events[0]).not.toHaveProperty('_id');
    expect(typeof body.nextCursor).toBe('string');
  });

  it('pages through all 300 events with a cursor, without duplicates or gaps, in a stable order', async () => {
    const seen: EventBody[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body: { events: EventBody[]; nextCursor: string | null } = await list(
        `?limit=70${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...body.events);
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBe(5);
    expect(seen).toHaveLength(300);
    expect(new Set(seen.map((e) => e.id)).size).toBe(300);
    expectNewestFirst(seen);
    // The same order as one big page.
    const all = await list('?limit=1000');
    expect(all.events.map((e) => e.id)).toEqual(seen.map((e) => e.id));
    expect(all.nextCursor).toBeNull();
  });

  it('has no next cursor when a page ends exactly at the last event', async () => {
    const body = await list('?limit=300');
    expect(body.events).toHaveLength(300);
    expect(body.nextCursor).toBeNull();
  });

  it('filters by one type and by several (comma-separated or repeated)', async () => {
    const one = await list('?type=user_update&limit=1000');
    expect(one.events).toHaveLength(100);
    expect(new Set(one.events.map((e) => e.type))).toEqual(new Set(['user_update']));

    const two = await list('?type=user_update,user_login_attempt&limit=1000');
    expect(two.events).toHaveLength(200);
    expect(new Set(two.events.map((e) => e.type))).toEqual(new Set(['user_update', 'user_login_attempt']));

    const repeated = await list('?type=user_update&type=user_activation_email&limit=1000');
    expect(repeated.events).toHaveLength(200);
    expectNewestFirst(repeated.events);
  });

  it('filters by userId (resource.id), also when paging with a cursor', async () => {
    const first = await list('?userId=u-b&limit=60');
    expect(first.events).toHaveLength(60);
    expect(first.events.every((e) => e.resource?.id === 'u-b')).toBe(true);
    const second = await list(`?userId=u-b&limit=60&cursor=${first.nextCursor}`);
    expect(second.events).toHaveLength(40);
    expect(second.nextCursor).toBeNull();
    expect(second.events.every((e) => e.resource?.id === 'u-b')).toBe(true);
    expect((await list('?userId=nobody')).events).toEqual([]);
  });

  it('filters by type and userId together', async () => {
    const body = await list('?userId=u-a&type=user_activation_email&limit=1000');
    expect(body.events).toHaveLength(100);
    expect(body.events[0]).toMatchObject({ recipientEmail: 'a@example.com' });
  });

  it('filters by since (inclusive) and until (exclusive)', async () => {
    const body = await list(
      `?since=${encodeURIComponent(at(10).toISOString())}&until=${encodeURIComponent(at(20).toISOString())}&limit=1000`,
    );
    expect(body.events).toHaveLength(30);
    expect(body.events[0].timestamp).toBe(at(19).toISOString());
    expect(body.events[body.events.length - 1].timestamp).toBe(at(10).toISOString());

    const sinceOnly = await list(`?since=${encodeURIComponent(at(98).toISOString())}`);
    expect(sinceOnly.events).toHaveLength(6);
    const dateOnly = await list('?until=2024-03-01&limit=1000');
    expect(dateOnly.events).toEqual([]);
    const withOffset = await list(`?since=${encodeURIComponent('2024-03-01T02:39:00+01:00')}`);
    expect(withOffset.events).toHaveLength(3); // 01:39Z is minute 99
    const noZone = await list('?since=2024-03-01T01:39:00');
    expect(noZone.events).toHaveLength(3); // UTC, not server-local time
  });

  it('honours limit', async () => {
    const body = await list('?limit=7');
    expect(body.events).toHaveLength(7);
    expect(body.nextCursor).toEqual(expect.any(String));
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=1001', /limit/],
    ['limit=abc', /limit/],
    ['limit=5.5', /limit/],
    ['since=yesterday', /since/],
    ['until=2024-13-45T00:00:00Z', /until/],
    ['since=2024-02-30x', /since/],
    ['since=2024-02-30', /since/],
    ['since=2024-01-01T24:00:00Z', /since/],
    ['cursor=not-a-cursor', /cursor/],
    [`cursor=${Buffer.from('{"t":"x","i":1}').toString('base64url')}`, /cursor/],
    ['type=no_such_type', /no_such_type/],
    ['userId=a&userId=b', /userId/],
  ])('answers %s with 400 invalid_parameter', async (query, message) => {
    const res = await t.admin().get(`/events?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'invalid_parameter', message: expect.stringMatching(message) } });
  });

  it('refuses a SCIM token with 403 and no token with 401', async () => {
    const res = await t.admin(TOKENS.scim).get('/events');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await t.request.get('/admin/v1/events')).status).toBe(401);
  });

  it('lists every type the type filter accepts at /events/types (the console offers them)', async () => {
    const res = await t.admin().get('/events/types').expect(200);
    expect(res.body.types).toContain('oauth_token_issued');
    for (const type of res.body.types) expect((await t.admin().get(`/events?type=${type}`)).status).toBe(200);
    expect((await t.admin(TOKENS.scim).get('/events/types')).status).toBe(403);
  });
});

describe('event cursors', () => {
  it('round-trip and are opaque base64url', () => {
    const cursor = { timestamp: at(5), id: 'abc' };
    const encoded = encodeEventCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeEventCursor(encoded)).toEqual(cursor);
  });
});
