import { beforeAll, describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import { FAST, PROV, startReceiver, until, USER, verifySet } from './receiver.js';

const ASYNC_RESP = 'urn:ietf:params:scim:event:misc:asyncresp';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const receiver = useFixture(
  () => startReceiver(),
  (r) => r.close(),
);
const t = useTestRoster(FAST, { start: true });
let receiverId: string;
beforeAll(async () => {
  // Bound to the SCIM client "okta" (TOKENS.scim in the test configuration), by its principal id.
  const res = await t
    .admin()
    .post('/event-receivers', {
      name: 'okta-async',
      delivery: 'push',
      endpoint: receiver.url,
      audience: 'https://okta.example',
      client: 'token:okta',
    })
    .expect(201);
  expect(res.body.client).toBe('token:okta');
  receiverId = res.body.id;
});

const PATCH_TITLE = {
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }],
};
const bulk = (operations: unknown[]) => ({ schemas: [BULK_REQUEST], Operations: operations });
const asyncBulk = (body: unknown, token: string = TOKENS.scim) =>
  t.request
    .post('/scim/v2/Bulk')
    .set('Authorization', `Bearer ${token}`)
    .set('Prefer', 'respond-async')
    .set('Content-Type', 'application/scim+json')
    .send(JSON.stringify(body));

async function claimsReceived() {
  return Promise.all(receiver.received.map((r) => verifySet(t, r.token, 'https://okta.example')));
}

describe('asynchronous /Bulk (RFC 9967 section 2.5.1)', () => {
  it('answers 202 with Set-Txn, runs the bulk, and sends one signed asyncresp SET per operation', async () => {
    const res = await asyncBulk(
      bulk([
        { method: 'POST', path: '/Users', bulkId: 'ok', data: USER('async-ok') },
        { method: 'POST', path: '/Users', bulkId: 'bad', data: { schemas: USER('x').schemas } },
      ]),
    );
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    expect(res.headers['preference-applied']).toBe('respond-async');
    const txn = res.headers['set-txn'];
    expect(txn).toMatch(/^[\w-]{16,}$/);

    const byTxn = await until(async () => {
      const all = await claimsReceived();
      const responses = all.filter((c) => ASYNC_RESP in (c.events as object));
      return responses.length >= 2 ? { all, responses } : undefined;
    });
    expect(byTxn.responses.map((c) => c.txn).sort()).toEqual([`${txn}:0`, `${txn}:1`]);
    const first = byTxn.responses.find((c) => c.txn === `${txn}:0`)!;
    const second = byTxn.responses.find((c) => c.txn === `${txn}:1`)!;

    const created = (first.events as Record<string, Record<string, unknown>>)[ASYNC_RESP];
    expect(created).toMatchObject({ method: 'POST', bulkId: 'ok', status: '201', version: 'W/"1"' });
    const id = (first.sub_id as { id: string }).id;
    expect(first.sub_id).toEqual({ format: 'scim', uri: `/Users/${id}`, id });
    expect(created.location).toBe(`http://roster.test/scim/v2/Users/${id}`);
    // The user really exists.
    const user = await t.scim().get(`/Users/${id}`).expect(200);
    expect(user.body.userName).toBe('async-ok@example.com');

    const failed = (second.events as Record<string, Record<string, unknown>>)[ASYNC_RESP];
    expect(failed).toMatchObject({
      method: 'POST',
      bulkId: 'bad',
      status: '400',
      response: { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400' },
    });
    expect(second.sub_id).toMatchObject({ format: 'scim', uri: '/Users' });

    // The provisioning SET of the created user carries the same txn as the 202 (one request).
    const provisioned = byTxn.all.find((c) => `${PROV}:create:notice` in (c.events as object));
    expect(provisioned).toMatchObject({ txn, sub_id: { id } });
    // And the event log: the create was made by the client, as a bulk, in that txn.
    const events = await t.admin().get(`/events?type=user_create&userId=${id}`).expect(200);
    expect(events.body.events).toEqual([expect.objectContaining({ txn })]);
  });

  it('answers synchronously when the client has no receiver bound to it', async () => {
    const res = await asyncBulk(
      bulk([{ method: 'POST', path: '/Users', bulkId: 'h', data: USER('async-hr') }]),
      TOKENS.integration,
    ).expect(200);
    expect(res.headers['preference-applied']).toBeUndefined();
    expect(res.headers['set-txn']).toBeUndefined();
    expect(res.body.Operations).toEqual([expect.objectContaining({ method: 'POST', bulkId: 'h', status: '201' })]);
  });

  it('answers an invalid bulk request at once, as a SCIM error', async () => {
    const asyncResponses = async () =>
      (await claimsReceived()).filter((c) => ASYNC_RESP in (c.events as object)).length;
    const before = await asyncResponses();
    const res = await asyncBulk({ schemas: [BULK_REQUEST], Operations: 'nope' }).expect(400);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect(res.headers['set-txn']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(await asyncResponses()).toBe(before);
  });

  it('answers synchronously once the receiver is disabled, and ignores the preference outside /Bulk', async () => {
    const created = await t.scim().post('/Users', USER('async-single')).set('Prefer', 'respond-async').expect(201);
    expect(created.headers['preference-applied']).toBeUndefined();
    expect(created.body.id).toBeTruthy();

    await t.request
      .patch(`/admin/v1/event-receivers/${receiverId}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ enabled: false })
      .expect(200);
    const res = await asyncBulk(bulk([{ method: 'POST', path: '/Users', bulkId: 'd', data: USER('async-off') }]));
    expect(res.status).toBe(200);
    expect(res.body.Operations[0]).toMatchObject({ bulkId: 'd', status: '201' });
  });
});

describe('asynchronous /Bulk to a poll receiver', () => {
  it('polls one asyncresp SET per operation run: none for those failOnErrors stopped', async () => {
    const made = await t
      .admin()
      .post('/event-receivers', {
        name: 'loader-poll',
        delivery: 'poll',
        audience: 'loader',
        client: 'token:bulk-loader',
        events: [`${PROV}:delete`],
      })
      .expect(201);
    const id = (await t.scim().post('/Users', USER('async-loader')).expect(201)).body.id as string;
    const res = await asyncBulk(
      {
        ...bulk([
          { method: 'PATCH', path: `/Users/${id}`, data: PATCH_TITLE },
          { method: 'PATCH', path: '/Users/no-such-user', data: PATCH_TITLE },
          { method: 'DELETE', path: `/Users/${id}` },
          { method: 'DELETE', path: `/Users/${id}` },
          // Not run: failOnErrors was reached with the second error, so no asyncresp for it.
          { method: 'POST', path: '/Users', bulkId: 'late', data: USER('async-late') },
        ]),
        failOnErrors: 2,
      },
      TOKENS.bulk,
    ).expect(202);
    const txn = res.headers['set-txn'];
    const sets = await until(async () => {
      const polled = await t.request
        .post('/security-events/poll')
        .set('Authorization', `Bearer ${made.body.pollToken}`)
        .send({ returnImmediately: true, maxEvents: 20 })
        .expect(200);
      const all = Object.values(polled.body.sets as Record<string, string>);
      return all.length >= 5 ? all : undefined;
    });
    const claims = await Promise.all(sets.map((s) => verifySet(t, s, 'loader')));
    const outcomes = Object.fromEntries(
      claims
        .filter((c) => ASYNC_RESP in (c.events as object))
        .map((c) => [c.txn, (c.events as Record<string, Record<string, unknown>>)[ASYNC_RESP]]),
    );
    expect(outcomes).toEqual({
      [`${txn}:0`]: expect.objectContaining({ method: 'PATCH', status: '200', version: 'W/"2"' }),
      [`${txn}:1`]: expect.objectContaining({ method: 'PATCH', status: '404' }),
      [`${txn}:2`]: expect.objectContaining({ method: 'DELETE', status: '204' }),
      [`${txn}:3`]: expect.objectContaining({ method: 'DELETE', status: '404' }),
    });
    // The receiver's own event selection (deletes) still applies to provisioning SETs.
    const deleted = claims.find((c) => `${PROV}:delete` in (c.events as object));
    expect(deleted).toMatchObject({ txn, sub_id: { id } });
    await t.scim().get(`/Users/${id}`).expect(404);
    const late = await t.scim().get('/Users?filter=userName eq "async-late@example.com"').expect(200);
    expect(late.body.totalResults).toBe(0);
  });
});

describe('binding a receiver to a client', () => {
  it('validates client, shows it, and removes it with null', async () => {
    const bad = await t
      .admin()
      .post('/event-receivers', { name: 'x', delivery: 'poll', audience: 'x', client: '' })
      .expect(400);
    expect(bad.body.error.code).toBe('invalid_receiver');
    expect(bad.body.error.message).toMatch(/client/);
    const wrongType = await t
      .admin()
      .post('/event-receivers', { name: 'x', delivery: 'poll', audience: 'x', client: 42 })
      .expect(400);
    expect(wrongType.body.error.message).toMatch(/client must be a non-empty string/);

    const made = await t
      .admin()
      .post('/event-receivers', { name: 'bound', delivery: 'poll', audience: 'b', client: 'token:hr-integration' })
      .expect(201);
    expect(made.body.client).toBe('token:hr-integration');
    const cleared = await t.request
      .patch(`/admin/v1/event-receivers/${made.body.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ client: null })
      .expect(200);
    expect(cleared.body.client).toBeUndefined();
    expect((await t.admin().get(`/event-receivers/${made.body.id}`).expect(200)).body.client).toBeUndefined();
  });
});
