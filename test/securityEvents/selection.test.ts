import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { useMailRoster } from '../helpers/roster.js';
import { PROV, until, USER, verifySet } from './receiver.js';

/** Which SETs a receiver gets, and what they carry: filters, levels, attribute selection, txn, repair. */
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const ROSTER = 'urn:roster:params:event';

const { t } = useMailRoster();

async function register(name: string, extra: Record<string, unknown> = {}) {
  const res = await t
    .admin()
    .post('/event-receivers', { name, delivery: 'poll', audience: name, ...extra })
    .expect(201);
  return res.body as { id: string; pollToken: string };
}

/** Every SET waiting for the receiver, verified, then acknowledged. */
async function take(receiver: { pollToken: string }, audience: string) {
  const res = await t.request
    .post('/security-events/poll')
    .set('Authorization', `Bearer ${receiver.pollToken}`)
    .send({ returnImmediately: true })
    .expect(200);
  const sets = res.body.sets as Record<string, string>;
  const claims = [];
  for (const token of Object.values(sets)) claims.push(await verifySet(t, token, audience));
  await t.request
    .post('/security-events/poll')
    .set('Authorization', `Bearer ${receiver.pollToken}`)
    .send({ ack: Object.keys(sets), maxEvents: 0 })
    .expect(200);
  return claims;
}
const uriOf = (claims: JWTPayload) => Object.keys(claims.events as object)[0];
const payloadOf = (claims: JWTPayload) => Object.values(claims.events as object)[0] as Record<string, unknown>;

describe('event selection per receiver', () => {
  it('a receiver gets only the event URIs it listed; another with none listed gets everything', async () => {
    const deletes = await register('deletes', { events: [`${PROV}:delete`, `${PROV}:deactivate`] });
    const everything = await register('everything');
    const id = (await t.scim().post('/Users', USER('sel')).expect(201)).body.id as string;
    await t.scim().delete(`/Users/${id}`).expect(204);
    expect((await take(deletes, 'deletes')).map(uriOf)).toEqual([`${PROV}:delete`]);
    expect((await take(everything, 'everything')).map(uriOf)).toEqual([`${PROV}:create:notice`, `${PROV}:delete`]);
    await t.admin().delete(`/event-receivers/${deletes.id}`).expect(204);
    await t.admin().delete(`/event-receivers/${everything.id}`).expect(204);
  });

  it('full events carry the resource reduced to the chosen attributes; notice events only names', async () => {
    const full = await register('full', { level: 'full', attributes: ['userName', 'name'] });
    const fullCreateOnly = await register('full-create', { events: [`${PROV}:create:full`] });
    const notice = await register('notice', { level: 'notice' });
    const id = (
      await t
        .scim()
        .post('/Users', USER('lev', { password: 'Secret-Pass-1234', title: 'CTO' }))
        .expect(201)
    ).body.id as string;

    const [f] = await take(full, 'full');
    expect(uriOf(f)).toBe(`${PROV}:create:full`);
    const data = payloadOf(f).data as Record<string, unknown>;
    expect(Object.keys(data).sort()).toEqual(['id', 'meta', 'name', 'schemas', 'userName']);
    expect(data.userName).toBe('lev@example.com');
    expect(payloadOf(f).version).toBe('W/"1"');
    expect(payloadOf(f).attributes).toBeUndefined();

    const [all] = await take(fullCreateOnly, 'full-create');
    const everyAttribute = payloadOf(all).data as Record<string, unknown>;
    expect(everyAttribute).toMatchObject({ id, title: 'CTO', emails: [{ value: 'lev@example.com' }] });
    expect(JSON.stringify(all)).not.toContain('Secret-Pass-1234');

    const [n] = await take(notice, 'notice');
    expect(uriOf(n)).toBe(`${PROV}:create:notice`);
    expect(payloadOf(n).data).toBeUndefined();
    expect(payloadOf(n).attributes).toEqual(expect.arrayContaining(['userName', 'title', 'emails']));
    expect(JSON.stringify(n)).not.toContain('lev@example.com');
    for (const r of [full, fullCreateOnly, notice]) await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });

  it("Roster's lifecycle events come under its own URIs, the recipient only at full level", async () => {
    const lifecycle = [`${ROSTER}:user_activation_email`, `${ROSTER}:user_activation_schedule_create`];
    const hr = await register('hr', { events: lifecycle, level: 'full' });
    const quiet = await register('quiet', { events: lifecycle });
    const id = (await t.scim().post('/Users', USER('life')).expect(201)).body.id as string;
    await t
      .admin()
      .post(`/users/${id}/schedules`, { state: 'ACTIVE', at: new Date(Date.now() + 86_400_000).toISOString() })
      .expect(201);
    await t.admin().post(`/users/${id}/activate`, {}).expect(200);
    await until(async () => (await t.admin().get(`/event-receivers/${hr.id}`)).body.deliveries.pending >= 2);
    const got = await take(hr, 'hr');
    expect(got.map(uriOf)).toEqual(lifecycle.slice().reverse());
    expect(payloadOf(got[1])).toEqual({ success: true, recipientEmail: 'life@example.com' });
    const plain = await take(quiet, 'quiet');
    expect(payloadOf(plain[1])).toEqual({ success: true });
    for (const r of [hr, quiet]) await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });
});

describe('transactions', () => {
  it('the SETs of one /Bulk request share one txn, and its PUT and PATCH keep their names', async () => {
    const r = await register('bulk');
    const existing = (await t.scim().post('/Users', USER('bx')).expect(201)).body.id as string;
    await take(r, 'bulk');
    const res = await t
      .scim()
      .post('/Bulk', {
        schemas: [BULK],
        Operations: [
          { method: 'POST', bulkId: 'a', path: '/Users', data: USER('ba') },
          { method: 'POST', bulkId: 'b', path: '/Users', data: USER('bb') },
          { method: 'PUT', path: `/Users/${existing}`, data: USER('bx', { title: 'New' }) },
          {
            method: 'PATCH',
            path: `/Users/${existing}`,
            data: {
              schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
              Operations: [{ op: 'replace', path: 'nickName', value: 'X' }],
            },
          },
        ],
      })
      .expect(200);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '200', '200']);
    const claims = await take(r, 'bulk');
    expect(claims.map(uriOf)).toEqual([
      `${PROV}:create:notice`,
      `${PROV}:create:notice`,
      `${PROV}:put:notice`,
      `${PROV}:patch:notice`,
    ]);
    expect(new Set(claims.map((c) => c.txn)).size).toBe(1);
    // The event log keeps the same txn.
    const log = await t.admin().get(`/events?userId=${existing}&limit=2`).expect(200);
    expect(log.body.events[0].txn).toBe(claims[0].txn);
    const other = (await t.scim().post('/Users', USER('by')).expect(201)).body.id as string;
    const [next] = await take(r, 'bulk');
    expect((next.sub_id as { id: string }).id).toBe(other);
    expect(next.txn).not.toBe(claims[0].txn);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });
});

describe('nothing lost', () => {
  it('events whose SETs were not written are published by the sweep, once', async () => {
    const r = await register('repair');
    const id = (await t.scim().post('/Users', USER('rep')).expect(201)).body.id as string;
    const [first] = await take(r, 'repair');
    // As after a crash between the event and its SETs: the event still marked, its SET gone.
    const events = t.db.collection('events');
    const event = await events.findOne({ 'resource.id': id, type: 'user_create' });
    await events.updateOne(
      { _id: event!._id },
      { $set: { setsPending: true, timestamp: new Date(Date.now() - 60_000) } },
    );
    await t.db.collection('security_event_outbox').deleteMany({ eventId: event!._id });
    await t.roster.securityEvents.sweep();
    const [again] = await take(r, 'repair');
    expect(uriOf(again)).toBe(uriOf(first));
    expect((again.sub_id as { id: string }).id).toBe(id);
    // A second sweep (or a sweep racing the first write) makes nothing new.
    await events.updateOne({ _id: event!._id }, { $set: { setsPending: true } });
    await t.roster.securityEvents.sweep();
    expect(await take(r, 'repair')).toEqual([]);
    expect(await events.countDocuments({ setsPending: true })).toBe(0);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });

  it('the backlog shows in /metrics', async () => {
    const r = await register('backlog');
    await t.scim().post('/Users', USER('bl1')).expect(201);
    await t.scim().post('/Users', USER('bl2')).expect(201);
    const metrics = await t.request.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^roster_security_events_backlog 2$/m);
    await take(r, 'backlog');
    expect((await t.request.get('/metrics')).text).toMatch(/^roster_security_events_backlog 0$/m);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });
});
