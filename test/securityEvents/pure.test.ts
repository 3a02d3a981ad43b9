import { describe, expect, it } from 'vitest';
import { prefersAsync } from '../../src/bulk/routes.js';
import { ASYNC_RESPONSE_URI, asyncResponseClaims } from '../../src/securityEvents/asyncResponses.js';
import { selectAttributes, setClaims } from '../../src/securityEvents/claims.js';
import { publicationOf, uriFor } from '../../src/securityEvents/eventUris.js';
import { readPollRequest } from '../../src/securityEvents/pollRequest.js';
import { pushRetryDelayMs } from '../../src/securityEvents/push.js';
import { PROV } from './receiver.js';

const user = { type: 'User' as const, id: 'u1', username: 'ann' };

describe('event URIs', () => {
  it('maps event log entries to RFC 9967 operations and Roster URIs', () => {
    expect(publicationOf({ type: 'user_update', operation: 'PUT', resource: user })).toMatchObject({
      operation: 'put',
    });
    expect(publicationOf({ type: 'user_update', operation: 'POST', resource: user })).toMatchObject({
      operation: 'patch',
    });
    expect(publicationOf({ type: 'user_lockout', resource: user })).toMatchObject({
      uri: 'urn:roster:params:event:user_lockout',
    });
    expect(publicationOf({ type: 'import_end', resource: { type: 'Import', id: 'i' } })).toBeUndefined();
  });

  it('a listed :full or :notice URI chooses the level; an empty list takes the receiver level', () => {
    const create = publicationOf({ type: 'user_create', resource: user })!;
    expect(uriFor(create, { events: [], level: 'full' })).toBe(`${PROV}:create:full`);
    expect(uriFor(create, { events: [`${PROV}:create:notice`], level: 'full' })).toBe(`${PROV}:create:notice`);
    expect(uriFor(create, { events: [`${PROV}:delete`], level: 'notice' })).toBeUndefined();
  });
});

describe('SET claims', () => {
  const base = {
    event: { type: 'user_create' as const, resource: user, txn: 't1', success: true },
    receiver: { audience: 'aud', level: 'full' as const },
    issuer: 'https://roster.example',
    jti: 'j1',
    issuedAt: new Date('2026-01-01T00:00:00Z'),
  };

  it('a full event whose resource is gone falls back to a notice (data and attributes never together)', () => {
    const claims = setClaims({ ...base, uri: `${PROV}:create:full` });
    expect(claims.events).toEqual({ [`${PROV}:create:notice`]: { attributes: ['id'] } });
    expect(claims).toMatchObject({
      iat: 1767225600,
      txn: 't1',
      sub_id: { format: 'scim', uri: '/Users/u1', id: 'u1' },
    });
    expect(claims.sub).toBeUndefined();
  });

  it('attribute selection keeps schemas, id and meta, compares names case-insensitively', () => {
    const resource = { schemas: ['s'], id: 'u1', meta: {}, userName: 'a', name: { givenName: 'A' }, title: 'x' };
    expect(Object.keys(selectAttributes(resource, ['USERNAME']))).toEqual(['schemas', 'id', 'meta', 'userName']);
    expect(selectAttributes(resource, [])).toBe(resource);
  });
});

describe('delivery rules', () => {
  it('push retries double from the base, with jitter, up to the cap', () => {
    const settings = { timeoutMs: 1, retryBaseSeconds: 5, retryMaxMinutes: 1, giveUpAfterHours: 1 };
    expect(pushRetryDelayMs(1, settings, () => 1)).toBe(5000);
    expect(pushRetryDelayMs(3, settings, () => 1)).toBe(20_000);
    expect(pushRetryDelayMs(3, settings, () => 0)).toBe(10_000);
    expect(pushRetryDelayMs(30, settings, () => 1)).toBe(60_000);
  });

  it('poll requests: defaults, the configured most, and deduplicated acks', () => {
    expect(readPollRequest({}, 50)).toEqual({ ack: [], setErrs: {}, maxEvents: 50, returnImmediately: false });
    expect(readPollRequest({ maxEvents: 500, ack: ['a', 'a'] }, 50)).toMatchObject({ maxEvents: 50, ack: ['a'] });
    expect(() => readPollRequest([], 50)).toThrow(/JSON object/);
  });
});

describe('asynchronous requests', () => {
  it('reads respond-async from a Prefer header among other preferences', () => {
    expect(prefersAsync('respond-async')).toBe(true);
    expect(prefersAsync('return=minimal, Respond-Async; x=1, wait=10')).toBe(true);
    expect(prefersAsync('return=minimal')).toBe(false);
    expect(prefersAsync('respond-asynchronously')).toBe(false);
    expect(prefersAsync('')).toBe(false);
  });

  it('makes an asyncresp SET from a bulk operation outcome, its subject from the location or path', () => {
    const base = { audience: 'a', issuer: 'https://roster', jti: 'j1', issuedAt: new Date(1000_000), txn: 't:1' };
    const ok = asyncResponseClaims({
      ...base,
      requestPath: '/Users',
      outcome: { method: 'POST', bulkId: 'q', version: 'W/"1"', location: 'https://r/scim/v2/Users/u9', status: '201' },
    });
    expect(ok).toEqual({
      iss: 'https://roster',
      aud: 'a',
      iat: 1000,
      jti: 'j1',
      txn: 't:1',
      sub_id: { format: 'scim', uri: '/Users/u9', id: 'u9' },
      events: {
        [ASYNC_RESPONSE_URI]: {
          method: 'POST',
          bulkId: 'q',
          version: 'W/"1"',
          location: 'https://r/scim/v2/Users/u9',
          status: '201',
        },
      },
    });
    const failed = asyncResponseClaims({
      ...base,
      requestPath: '/Groups/g1',
      outcome: { method: 'PATCH', status: '404', response: { status: '404' } },
    });
    expect(failed.sub_id).toEqual({ format: 'scim', uri: '/Groups/g1', id: 'g1' });
    expect((failed.events as Record<string, unknown>)[ASYNC_RESPONSE_URI]).toEqual({
      method: 'PATCH',
      status: '404',
      response: { status: '404' },
    });
  });
});
