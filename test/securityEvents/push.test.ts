import { describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import { FAST, PROV, startReceiver, until, USER, verifySet } from './receiver.js';

const t = useTestRoster(FAST, { start: true });

async function register(body: Record<string, unknown>) {
  const res = await t.admin().post('/event-receivers', body).expect(201);
  return res.body as { id: string; pollToken?: string };
}
const patchReceiver = (id: string, body: Record<string, unknown>) =>
  t.request.patch(`/admin/v1/event-receivers/${id}`).set('Authorization', `Bearer ${TOKENS.admin}`).send(body);

describe('push delivery (RFC 8935)', () => {
  it('POSTs one signed SET per change, verifiable with the JWKS, with the receiver authorization', async () => {
    const receiver = await startReceiver();
    const r = await register({
      name: 'mirror',
      delivery: 'push',
      endpoint: receiver.url,
      authorization: 'Bearer receiver-secret-1',
      audience: 'https://mirror.example',
    });
    const created = await t.scim().post('/Users', USER('ann')).expect(201);
    const id = created.body.id as string;
    await until(() => receiver.received.length >= 1);
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got.contentType).toBe('application/secevent+jwt');
    expect(got.authorization).toBe('Bearer receiver-secret-1');
    const claims = await verifySet(t, got.token, 'https://mirror.example');
    expect(claims).toMatchObject({
      iss: 'http://roster.test',
      aud: 'https://mirror.example',
      sub_id: { format: 'scim', uri: `/Users/${id}`, id },
    });
    expect(claims.sub).toBeUndefined();
    expect(typeof claims.jti).toBe('string');
    expect(typeof claims.txn).toBe('string');
    const event = (claims.events as Record<string, { attributes: string[]; version: string }>)[`${PROV}:create:notice`];
    expect(event.attributes).toEqual(expect.arrayContaining(['id', 'userName', 'emails']));
    expect(event.version).toBe('W/"1"');
    // The receiver's secret never shows in the admin API.
    const shown = await t.admin().get(`/event-receivers/${r.id}`).expect(200);
    expect(JSON.stringify(shown.body)).not.toContain('receiver-secret-1');
    expect(shown.body).toMatchObject({ authorization: 'set', deliveries: { pending: 0, delivered: 1, failed: 0 } });
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
    await receiver.close();
  });

  it('a receiver that fails and recovers gets every SET exactly once, in order', async () => {
    // 500 for the first three calls, then 202.
    const receiver = await startReceiver((n) => (n <= 3 ? { status: 500 } : { status: 202 }));
    const r = await register({ name: 'flaky', delivery: 'push', endpoint: receiver.url, audience: 'flaky' });
    const ids: string[] = [];
    for (const name of ['b1', 'b2', 'b3']) ids.push((await t.scim().post('/Users', USER(name)).expect(201)).body.id);
    await until(() => receiver.received.length >= 3);
    await new Promise((r2) => setTimeout(r2, 500)); // nothing more arrives
    expect(receiver.received).toHaveLength(3);
    const subjects = [];
    const jtis = new Set<string>();
    for (const got of receiver.received) {
      const claims = await verifySet(t, got.token, 'flaky');
      subjects.push((claims.sub_id as { id: string }).id);
      jtis.add(claims.jti!);
    }
    expect(subjects).toEqual(ids);
    expect(jtis.size).toBe(3);
    expect(receiver.calls()).toBe(6);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
    await receiver.close();
  });

  it('a 400 with an RFC 8935 error is recorded as failed and not retried; later SETs still go', async () => {
    const receiver = await startReceiver((n) =>
      n === 1 ? { status: 400, body: { err: 'invalid_key', description: 'unknown kid' } } : { status: 202 },
    );
    const r = await register({ name: 'strict', delivery: 'push', endpoint: receiver.url, audience: 'strict' });
    await t.scim().post('/Users', USER('c1')).expect(201);
    await t.scim().post('/Users', USER('c2')).expect(201);
    await until(() => receiver.received.length >= 1);
    await new Promise((r2) => setTimeout(r2, 500));
    expect(receiver.calls()).toBe(2);
    const shown = await t.admin().get(`/event-receivers/${r.id}`).expect(200);
    expect(shown.body.deliveries).toEqual({ pending: 0, delivered: 1, failed: 1 });
    expect(shown.body.recentFailures[0].error).toEqual({
      err: 'invalid_key',
      description: 'the receiver answered 400',
      receiverSaid: { err: 'invalid_key', description: 'unknown kid' },
    });
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
    await receiver.close();
  });

  it('a disabled receiver gets nothing; enabled again it gets later changes', async () => {
    const receiver = await startReceiver();
    const r = await register({ name: 'paused', delivery: 'push', endpoint: receiver.url, audience: 'paused' });
    await patchReceiver(r.id, { enabled: false }).expect(200);
    await t.scim().post('/Users', USER('d1')).expect(201);
    await new Promise((r2) => setTimeout(r2, 300));
    expect(receiver.calls()).toBe(0);
    await patchReceiver(r.id, { enabled: true }).expect(200);
    await t.scim().post('/Users', USER('d2')).expect(201);
    await until(() => receiver.received.length >= 1);
    const claims = await verifySet(t, receiver.received[0].token, 'paused');
    expect(Object.keys(claims.events as object)).toEqual([`${PROV}:create:notice`]);
    expect(receiver.received).toHaveLength(1);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
    await receiver.close();
  });
});
