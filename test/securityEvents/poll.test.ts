import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import { PROV, USER, verifySet } from './receiver.js';

const t = useTestRoster({
  securityEvents: {
    push: { timeoutMs: 2000, retryBaseSeconds: 1, retryMaxMinutes: 1, giveUpAfterHours: 1 },
    poll: { longPollSeconds: 2, maxEvents: 100 },
    sweepEvery: '1 minute',
    retainDays: 7,
  },
});

async function pollReceiver(extra: Record<string, unknown> = {}) {
  const res = await t
    .admin()
    .post('/event-receivers', { name: 'siem', delivery: 'poll', audience: 'siem', ...extra })
    .expect(201);
  expect(res.body.pollUrl).toBe('http://roster.test/security-events/poll');
  return res.body as { id: string; pollToken: string };
}

const poll = (token: string, body: Record<string, unknown>) =>
  t.request.post('/security-events/poll').set('Authorization', `Bearer ${token}`).send(body);

describe('poll delivery (RFC 8936)', () => {
  it('returns unacknowledged SETs again, forgets acknowledged ones, and records setErrs', async () => {
    const r = await pollReceiver();
    const a = (await t.scim().post('/Users', USER('pa')).expect(201)).body.id as string;
    const b = (await t.scim().post('/Users', USER('pb')).expect(201)).body.id as string;

    const first = await poll(r.pollToken, { returnImmediately: true, maxEvents: 1 }).expect(200);
    expect(Object.keys(first.body.sets)).toHaveLength(1);
    expect(first.body.moreAvailable).toBe(true);
    const [jtiA] = Object.keys(first.body.sets);
    const claimsA = await verifySet(t, first.body.sets[jtiA], 'siem');
    expect(claimsA.jti).toBe(jtiA);
    expect((claimsA.sub_id as { id: string }).id).toBe(a);

    // Not acknowledged: the same SET comes back first.
    const again = await poll(r.pollToken, { returnImmediately: true }).expect(200);
    expect(Object.keys(again.body.sets)[0]).toBe(jtiA);
    expect(Object.keys(again.body.sets)).toHaveLength(2);
    expect(again.body.moreAvailable).toBe(false);
    const jtiB = Object.keys(again.body.sets)[1];
    expect((await verifySet(t, again.body.sets[jtiB], 'siem')).sub_id).toMatchObject({ id: b });

    // Acknowledge one, report the other as bad: nothing is left.
    const last = await poll(r.pollToken, {
      ack: [jtiA],
      setErrs: { [jtiB]: { err: 'invalid_audience', description: 'not ours' } },
      returnImmediately: true,
    }).expect(200);
    expect(last.body).toEqual({ sets: {}, moreAvailable: false });
    const shown = await t.admin().get(`/event-receivers/${r.id}`).expect(200);
    expect(shown.body.deliveries).toEqual({ pending: 0, delivered: 1, failed: 1 });
    expect(shown.body.recentFailures[0]).toMatchObject({ jti: jtiB, error: { err: 'invalid_audience' } });
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });

  it('long polling waits for the next SET and answers as soon as it is written', async () => {
    const r = await pollReceiver();
    const started = Date.now();
    const pending = poll(r.pollToken, {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    await t.scim().post('/Users', USER('pc')).expect(201);
    const res = await pending.expect(200);
    expect(Object.keys(res.body.sets)).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1900);
    // Nothing new: a long poll ends empty after longPollSeconds.
    const jti = Object.keys(res.body.sets)[0];
    const empty = await poll(r.pollToken, { ack: [jti] }).expect(200);
    expect(empty.body).toEqual({ sets: {}, moreAvailable: false });
    // maxEvents 0 only acknowledges.
    await t.scim().post('/Users', USER('pd')).expect(201);
    expect((await poll(r.pollToken, { maxEvents: 0 }).expect(200)).body.sets).toEqual({});
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });

  it('refuses missing, wrong and admin tokens, a disabled receiver, and malformed requests', async () => {
    const r = await pollReceiver();
    const none = await t.request.post('/security-events/poll').send({}).expect(401);
    expect(none.body.err).toBe('authentication_failed');
    expect(none.headers['www-authenticate']).toContain('Bearer');
    await poll('not-a-token', {}).expect(401);
    await poll(TOKENS.admin, {}).expect(401);
    await poll(TOKENS.scim, {}).expect(401);
    for (const body of [
      { ack: 'x' },
      { maxEvents: -1 },
      { maxEvents: 1.5 },
      { returnImmediately: 'yes' },
      { setErrs: { j: 'bad' } },
      { foo: 1 },
    ]) {
      const res = await poll(r.pollToken, body).expect(400);
      expect(res.body.err).toBe('invalid_request');
    }
    const bad = await t.request
      .post('/security-events/poll')
      .set('Authorization', `Bearer ${r.pollToken}`)
      .set('Content-Type', 'application/json')
      .send('{"ack":')
      .expect(400);
    expect(bad.body).toEqual({ err: 'invalid_request', description: 'the body is not valid JSON' });
    await t.request
      .patch(`/admin/v1/event-receivers/${r.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ enabled: false })
      .expect(200);
    expect((await poll(r.pollToken, {}).expect(403)).body.err).toBe('access_denied');
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
    await poll(r.pollToken, {}).expect(401);
  });
});

describe('what a SET says', () => {
  async function drain(token: string, audience: string) {
    const res = await poll(token, { returnImmediately: true }).expect(200);
    const claims = [];
    for (const set of Object.values(res.body.sets as Record<string, string>))
      claims.push(await verifySet(t, set, audience));
    await poll(token, { ack: Object.keys(res.body.sets), maxEvents: 0 }).expect(200);
    return claims;
  }
  const uris = (claims: JWTPayload[]) => claims.map((c) => Object.keys(c.events as object)[0]);

  it('every user and group provisioning event, with sub_id and one txn per request', async () => {
    const r = await pollReceiver({ name: 'all' });
    const id = (
      await t
        .scim()
        .post('/Users', USER('ev', { externalId: 'ext-ev' }))
        .expect(201)
    ).body.id as string;
    await t
      .scim()
      .put(`/Users/${id}`, USER('ev', { externalId: 'ext-ev', title: 'Boss' }))
      .expect(200);
    await t
      .scim()
      .patch(`/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'nickName', value: 'E' }],
      })
      .expect(200);
    await t.admin().post(`/users/${id}/activate`, { sendEmail: false }).expect(200);
    await t.admin().post(`/users/${id}/suspend`).expect(200);
    const group = (
      await t
        .scim()
        .post('/Groups', { displayName: 'Ops', members: [{ value: id }] })
        .expect(201)
    ).body.id as string;
    await t.scim().delete(`/Groups/${group}`).expect(204);
    await t.scim().delete(`/Users/${id}`).expect(204);

    const claims = await drain(r.pollToken, 'siem');
    expect(uris(claims)).toEqual([
      `${PROV}:create:notice`,
      `${PROV}:put:notice`,
      `${PROV}:patch:notice`,
      // An admin activation: the lifecycle attributes changed, then the activation itself.
      `${PROV}:patch:notice`,
      `${PROV}:activate`,
      `${PROV}:patch:notice`,
      `${PROV}:deactivate`,
      `${PROV}:create:notice`,
      `${PROV}:delete`,
      `${PROV}:delete`,
    ]);
    expect(claims[0].sub_id).toEqual({ format: 'scim', uri: `/Users/${id}`, id, externalId: 'ext-ev' });
    expect((claims[1].events as Record<string, { attributes: string[] }>)[`${PROV}:put:notice`].attributes).toContain(
      'title',
    );
    expect((claims[2].events as Record<string, { attributes: string[] }>)[`${PROV}:patch:notice`].attributes).toEqual([
      'nickName',
    ]);
    expect(claims[7].sub_id).toMatchObject({ uri: `/Groups/${group}` });
    expect(claims[9].events).toEqual({ [`${PROV}:delete`]: {} });
    // One request, one txn: the PUT and the PATCH differ; the activation's two SETs share theirs.
    expect(claims[1].txn).not.toBe(claims[2].txn);
    expect(claims[3].txn).toBe(claims[4].txn);
    expect(claims[4].txn).not.toBe(claims[5].txn);
    expect(new Set(claims.map((c) => c.jti)).size).toBe(claims.length);
    await t.admin().delete(`/event-receivers/${r.id}`).expect(204);
  });
});
