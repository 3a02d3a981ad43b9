import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiverSettings, type ReceiverSettings } from '../../src/securityEvents/receiverInput.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';
import { FAST, startReceiver, until, USER } from '../securityEvents/receiver.js';

/**
 * Issue: `PATCH /admin/v1/event-receivers/{id} {"endpoint": "http://elsewhere/x"}` sent the next SET
 * there with the stored Authorization. It belongs to the origin it was given for: moving the endpoint
 * to another origin drops it unless the same request gives one. Two real receivers on loopback (two
 * ports: two origins) show what each receives.
 */
const SECRET = 'Bearer for-receiver-a-only';

describe('receiverSettings (the PATCH merge)', () => {
  const existing: ReceiverSettings = {
    name: 'a',
    delivery: 'push',
    endpoint: 'https://a.example/events',
    authorization: SECRET,
    audience: 'a',
    events: [],
    level: 'notice',
    attributes: [],
    enabled: true,
  };
  it('keeps the authorization on the same origin, drops it on another (scheme, host or port)', () => {
    expect(receiverSettings({ endpoint: 'https://a.example/other/path' }, existing).authorization).toBe(SECRET);
    expect(receiverSettings({ name: 'renamed' }, existing).authorization).toBe(SECRET);
    for (const endpoint of ['https://b.example/events', 'http://a.example/events', 'https://a.example:8443/events'])
      expect([endpoint, receiverSettings({ endpoint }, existing).authorization]).toEqual([endpoint, undefined]);
    expect(
      receiverSettings({ endpoint: 'https://b.example/', authorization: 'Bearer b' }, existing).authorization,
    ).toBe('Bearer b');
    expect(receiverSettings({ authorization: null }, existing).authorization).toBeUndefined();
  });
});

describe('a receiver moved to another origin', () => {
  let t: TestRoster;
  let a: Awaited<ReturnType<typeof startReceiver>>;
  let b: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    t = await startTestRoster(FAST, { start: true });
    a = await startReceiver();
    b = await startReceiver();
  });
  afterAll(async () => {
    await t.close();
    await a.close();
    await b.close();
  });
  const patch = (id: string, body: Record<string, unknown>) =>
    t.request.patch(`/admin/v1/event-receivers/${id}`).set('Authorization', `Bearer ${TOKENS.admin}`).send(body);

  it('sends its next SET there without the stored Authorization; the same origin keeps it', async () => {
    const made = await t
      .admin()
      .post('/event-receivers', {
        name: 'moving',
        delivery: 'push',
        endpoint: a.url,
        authorization: SECRET,
        audience: 'm',
      })
      .expect(201);
    const id = made.body.id as string;
    await t.scim().post('/Users', USER('auth-1')).expect(201);
    await until(() => a.received.length >= 1);
    expect(a.received[0].authorization).toBe(SECRET);

    // Another path on the same origin: the authorization stays.
    const samePlace = await patch(id, { endpoint: a.url.replace('/events', '/other') }).expect(200);
    expect(samePlace.body.authorization).toBe('set');
    await t.scim().post('/Users', USER('auth-2')).expect(201);
    await until(() => a.received.length >= 2);
    expect(a.received[1].authorization).toBe(SECRET);

    // Another origin (another port): the stored authorization is dropped, and never reaches it.
    const moved = await patch(id, { endpoint: b.url }).expect(200);
    expect(moved.body.authorization).toBe('none');
    await t.scim().post('/Users', USER('auth-3')).expect(201);
    await until(() => b.received.length >= 1);
    expect(b.received[0].authorization).toBeUndefined();
    // Moving back does not bring it back.
    expect((await patch(id, { endpoint: a.url }).expect(200)).body.authorization).toBe('none');
    expect([...a.received, ...b.received].filter((r) => r.authorization === SECRET)).toHaveLength(2);
    await t.admin().delete(`/event-receivers/${id}`).expect(204);
  });

  it('takes an authorization given with the new endpoint', async () => {
    const made = await t
      .admin()
      .post('/event-receivers', {
        name: 'rekeyed',
        delivery: 'push',
        endpoint: a.url,
        authorization: SECRET,
        audience: 'k',
      })
      .expect(201);
    const before = b.received.length;
    const moved = await patch(made.body.id, { endpoint: b.url, authorization: 'Bearer for-receiver-b' }).expect(200);
    expect(moved.body.authorization).toBe('set');
    await t.scim().post('/Users', USER('auth-4')).expect(201);
    await until(() => b.received.length > before);
    expect(b.received[before].authorization).toBe('Bearer for-receiver-b');
    await t.admin().delete(`/event-receivers/${made.body.id}`).expect(204);
  });
});
