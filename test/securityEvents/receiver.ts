import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { TestRoster } from '../helpers/roster.js';

export interface Received {
  token: string;
  contentType: string | undefined;
  authorization: string | undefined;
}

/** A real RFC 8935 push receiver on a loopback port; `answer` decides each response (default 202). */
export async function startReceiver(
  answer: (n: number) => { status: number; body?: unknown } = () => ({ status: 202 }),
) {
  const received: Received[] = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, body } = answer(++calls);
      if (status === 202) {
        received.push({
          token: Buffer.concat(chunks).toString('utf8'),
          contentType: req.headers['content-type'],
          authorization: req.headers.authorization,
        });
      }
      res.writeHead(status, body ? { 'content-type': 'application/json' } : {});
      res.end(body ? JSON.stringify(body) : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Verifies a SET against Roster's published keys, as a receiver would. */
export async function verifySet(t: TestRoster, token: string, audience: string): Promise<JWTPayload> {
  const jwks = (await t.request.get('/.well-known/jwks.json').expect(200)).body;
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: 'http://roster.test',
    audience,
    typ: 'secevent+jwt',
  });
  if (protectedHeader.alg !== 'ES256') throw new Error(`unexpected alg ${protectedHeader.alg}`);
  return payload;
}

/** Waits until `check` returns a value (or throws after `ms`). */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const USER = (name: string, extra: Record<string, unknown> = {}) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: `${name}@example.com`,
  name: { givenName: name, familyName: 'Test' },
  emails: [{ value: `${name}@example.com`, type: 'work', primary: true }],
  ...extra,
});

export const PROV = 'urn:ietf:params:scim:event:prov';

/** Settings that make push retries and polling quick enough for a test. */
export const FAST = {
  securityEvents: {
    push: { timeoutMs: 2000, retryBaseSeconds: 0.1, retryMaxMinutes: 0.01, giveUpAfterHours: 1 },
    poll: { longPollSeconds: 1, maxEvents: 100 },
    sweepEvery: '1 minute',
    retainDays: 7,
  },
  jobs: { processEvery: '200 milliseconds' },
};
