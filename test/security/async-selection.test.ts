import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeFor } from '../../src/securityEvents/asyncResponses.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';
import { FAST, PROV, until, USER, verifySet } from '../securityEvents/receiver.js';

/**
 * Issue: a `notice` receiver limited to `userName` got the whole user (emails, enterprise and
 * lifecycle data) in the asyncresp SETs of an asynchronous /Bulk. The receiver's level and attributes
 * apply to every SET it gets: at `notice` an asyncresp carries the outcome without the resource, at
 * `full` the resource reduced to the attributes; an error response (no resource) stays.
 */
const ASYNC_RESP = 'urn:ietf:params:scim:event:misc:asyncresp';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
/** The SCIM client of TOKENS.scim, as a receiver's `client` names it (its principal id). */
const CLIENT = 'token:okta';

describe('outcomeFor', () => {
  const user = { schemas: ['s'], id: 'u1', meta: { version: 'W/"2"' }, userName: 'a', emails: [{ value: 'a@x' }] };
  it('applies the level and attributes to a resource response, keeps error responses', () => {
    const ok = { method: 'PATCH', status: '200', version: 'W/"2"', response: user };
    expect(outcomeFor(ok, { level: 'notice', attributes: ['userName'] })).toEqual({
      method: 'PATCH',
      status: '200',
      version: 'W/"2"',
    });
    expect(outcomeFor(ok, { level: 'full', attributes: ['userName'] }).response).toEqual({
      schemas: ['s'],
      id: 'u1',
      meta: { version: 'W/"2"' },
      userName: 'a',
    });
    expect(outcomeFor(ok, { level: 'full', attributes: [] }).response).toBe(user);
    const failed = { method: 'PATCH', status: '404', response: { schemas: ['err'], detail: 'no such user' } };
    expect(outcomeFor(failed, { level: 'notice', attributes: ['userName'] })).toEqual(failed);
  });
});

describe('asynchronous /Bulk responses follow the receiver selection', () => {
  let t: TestRoster;
  const receivers: Record<'notice' | 'full', { id: string; pollToken: string }> = {} as never;
  beforeAll(async () => {
    t = await startTestRoster(FAST, { start: true });
    for (const level of ['notice', 'full'] as const) {
      const res = await t
        .admin()
        .post('/event-receivers', {
          name: `async-${level}`,
          delivery: 'poll',
          audience: level,
          level,
          attributes: ['userName'],
          client: CLIENT,
        })
        .expect(201);
      receivers[level] = res.body;
    }
  });
  afterAll(() => t.close());

  async function poll(level: 'notice' | 'full', count: number): Promise<JWTPayload[]> {
    return until(async () => {
      const res = await t.request
        .post('/security-events/poll')
        .set('Authorization', `Bearer ${receivers[level].pollToken}`)
        .send({ returnImmediately: true, maxEvents: 100 })
        .expect(200);
      const sets = Object.values(res.body.sets as Record<string, string>);
      const claims = await Promise.all(sets.map((s) => verifySet(t, s, level)));
      return claims.filter((c) => ASYNC_RESP in (c.events as object)).length >= count ? claims : undefined;
    });
  }

  it('notice: no resource in any SET; full: only userName; errors as they were', async () => {
    const created = await t
      .scim()
      .post(
        '/Users',
        USER('selected', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
          [ENTERPRISE]: { employeeNumber: 'E-7', department: 'Payroll' },
          title: 'Clerk',
        }),
      )
      .expect(201);
    const id = created.body.id as string;
    const res = await t.request
      .post('/scim/v2/Bulk')
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set('Prefer', 'respond-async')
      .set('Content-Type', 'application/scim+json')
      .send(
        JSON.stringify({
          schemas: [BULK_REQUEST],
          Operations: [
            {
              method: 'PATCH',
              path: `/Users/${id}`,
              data: {
                schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
                Operations: [{ op: 'replace', path: 'title', value: 'Director' }],
              },
            },
            { method: 'PUT', path: `/Users/${id}`, data: { ...created.body, title: 'Head' } },
            { method: 'DELETE', path: '/Users/no-such-user' },
          ],
        }),
      );
    expect(res.status, res.text).toBe(202);
    const txn = res.headers['set-txn'] as string;

    const outcomes = (claims: JWTPayload[]) =>
      Object.fromEntries(
        claims
          .filter((c) => ASYNC_RESP in (c.events as object))
          .map((c) => [c.txn, (c.events as Record<string, Record<string, unknown>>)[ASYNC_RESP]]),
      );
    const notice = await poll('notice', 3);
    const full = await poll('full', 3);

    const shownToNotice = outcomes(notice);
    for (const index of [0, 1]) {
      expect(shownToNotice[`${txn}:${index}`]).toMatchObject({ status: '200', version: expect.any(String) });
      expect(shownToNotice[`${txn}:${index}`].response).toBeUndefined();
    }
    // An error response is no resource: both receivers get it.
    expect(shownToNotice[`${txn}:2`]).toMatchObject({ method: 'DELETE', status: '404', response: { status: '404' } });
    // Nothing of the user at all: no values, no attribute or extension of it.
    const text = JSON.stringify(shownToNotice);
    for (const secret of ['Payroll', 'E-7', 'selected@example.com', 'emails', '"state"', ENTERPRISE, LIFECYCLE])
      expect(text).not.toContain(secret);

    const shownToFull = outcomes(full);
    for (const index of [0, 1]) {
      const response = shownToFull[`${txn}:${index}`].response as Record<string, unknown>;
      expect(Object.keys(response).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
      expect(response.userName).toBe('selected@example.com');
    }
    expect(shownToFull[`${txn}:2`]).toMatchObject({ status: '404', response: { status: '404' } });
    // The provisioning SETs of the same request follow the same rule (one home for it).
    const patched = full.find((c) => `${PROV}:patch:full` in (c.events as object))!;
    const data = (patched.events as Record<string, { data: Record<string, unknown> }>)[`${PROV}:patch:full`].data;
    expect(Object.keys(data).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
    expect(JSON.stringify(full)).not.toContain('Payroll');
  });
});
