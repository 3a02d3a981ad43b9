/**
 * Shared fixtures for the IdP replay tests (test/idp): the URNs, message builders and assertions that
 * Okta's "SCIM 2.0 protocol reference" and Microsoft's "Develop and plan provisioning for a SCIM endpoint"
 * (plus "Known issues ... SCIM 2.0 protocol compliance") use in their request/response examples.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type supertest from 'supertest';

export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  lifecycle: 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
} as const;

/** A password that satisfies the default policy (Okta sends the app user's password on create). */
export const POLICY_PASSWORD = 'Okta-Sync-Passw0rd!';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A PatchOp message with the operations in the order given. */
export function patchOp(...Operations: Json[]): Json {
  return { schemas: [URN.patchOp], Operations };
}

/** A short unique suffix so tests sharing one database never collide. */
export function unique(): string {
  return randomUUID().slice(0, 8);
}

/**
 * `?filter=...` as the IdPs put it on the wire. Okta percent-encodes spaces (%20) and '@' (%40);
 * Entra sends spaces as '+' and quotes as %22.
 */
export function filterQuery(filter: string, style: 'okta' | 'entra', extra = ''): string {
  const encoded = style === 'okta' ? encodeURIComponent(filter) : encodeURIComponent(filter).replace(/%20/g, '+');
  return `filter=${encoded}${extra}`;
}

/** Every SCIM answer with a body is application/scim+json. */
export function expectScimJson(res: supertest.Response): void {
  expect(res.headers['content-type']).toMatch(/^application\/scim\+json\b/);
}

/** A single-resource answer: status, SCIM media type, an ETag that equals meta.version. */
export function expectResource(res: supertest.Response, status: number): Json {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expectScimJson(res);
  expect(res.headers.etag).toMatch(/^(W\/)?"[^"]+"$/);
  expect(res.body.meta?.version).toBe(res.headers.etag);
  return res.body as Json;
}

/** A ListResponse answer with integer counters (Okta requires integers, not strings). */
export function expectList(res: supertest.Response): Json {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expectScimJson(res);
  const body = res.body as Json;
  expect(body.schemas).toEqual([URN.listResponse]);
  expect(Number.isInteger(body.totalResults)).toBe(true);
  expect(Number.isInteger(body.startIndex)).toBe(true);
  expect(Number.isInteger(body.itemsPerPage)).toBe(true);
  expect(Array.isArray(body.Resources)).toBe(true);
  expect(body.itemsPerPage).toBe(body.Resources.length);
  return body;
}

/** A SCIM error answer (RFC 7644 §3.12): status as a string, optional scimType. */
export function expectError(res: supertest.Response, status: number, scimType?: string): Json {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expectScimJson(res);
  expect(res.body.schemas).toEqual([URN.error]);
  expect(res.body.status).toBe(String(status));
  if (scimType) expect(res.body.scimType).toBe(scimType);
  return res.body as Json;
}

/** An empty 204 answer that still carries the new version (group PATCH). */
export function expectNoContent(res: supertest.Response): void {
  expect(res.status, JSON.stringify(res.body)).toBe(204);
  expect(res.text ?? '').toBe('');
}

/** The member ids of a group resource (members absent means none). */
export function memberIds(group: Json): string[] {
  return ((group.members as Json[] | undefined) ?? []).map((m) => m.value as string).sort();
}
