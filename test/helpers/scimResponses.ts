/** Assertions on SCIM answers (RFC 7644): the media type, a resource with its ETag, a list, an error. */
import { expect } from 'vitest';
import type supertest from 'supertest';
import { URN, type Json } from './scim.js';

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
