import { randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import type supertest from 'supertest';
import type { TestRoster } from '../helpers/roster.js';

export const ISSUER = 'http://roster.test';
export const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  name: string;
  scopes: string[];
}

/** Registers a client through the admin API (201). */
export async function registerClient(t: TestRoster, body: Record<string, unknown>): Promise<RegisteredClient> {
  const res = await t.admin().post('/oauth/clients', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as RegisteredClient;
}

/** POST /oauth/token with a form body and optional HTTP Basic credentials. */
export function tokenRequest(
  t: TestRoster,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): supertest.Test {
  const req = t.request.post('/oauth/token').type('form');
  if (basic) {
    const encode = (v: string) => encodeURIComponent(v);
    req.set('Authorization', `Basic ${Buffer.from(`${encode(basic.id)}:${encode(basic.secret)}`).toString('base64')}`);
  }
  return req.send(new URLSearchParams(form).toString());
}

/** An access token for a secret client (client_secret_basic); fails the test on anything but 200. */
export async function accessToken(t: TestRoster, client: RegisteredClient, scope?: string): Promise<string> {
  const res = await tokenRequest(
    t,
    { grant_type: 'client_credentials', ...(scope && { scope }) },
    { id: client.client_id, secret: client.client_secret! },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}

/** A private_key_jwt client assertion (RFC 7523); claims may be overridden. */
export function clientAssertion(
  key: CryptoKey,
  clientId: string,
  now: Date,
  claims: Record<string, unknown> = {},
  alg = 'ES256',
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({
    iss: clientId,
    sub: clientId,
    aud: TOKEN_ENDPOINT,
    iat,
    exp: iat + 60,
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg })
    .sign(key);
}

/** Replaces the signature of a compact JWS with another's (or flips a byte of it). */
export function tamper(jwt: string): string {
  const [h, p, s] = jwt.split('.');
  const bytes = Buffer.from(s, 'base64url');
  bytes[0] ^= 0x01;
  return [h, p, bytes.toString('base64url')].join('.');
}

/** An unsigned JWT (alg none) with the given payload. */
export function unsignedJwt(payload: Record<string, unknown>, typ = 'at+jwt'): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ })}.${part(payload)}.`;
}
