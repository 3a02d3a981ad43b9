import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { signInOriginAllowed } from '../../src/console/routes.js';
import { addressList, clientAddress } from '../../src/net/addresses.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

/**
 * Console sign-in behind a reverse proxy: failed sign-ins count per caller address (read from
 * X-Forwarded-For only when the peer is in server.trustProxy), so nobody's failures lock the real
 * admin out from elsewhere; and a development start accepts the console from the address it prints.
 */

describe('the caller address behind trusted proxies', () => {
  const trusted = addressList(['10.0.0.0/8', '::1']);

  it('is the peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.5', '198.51.100.1', trusted)).toBe('203.0.113.5');
  });

  it('is the first address from the right that is not a trusted proxy', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.7', trusted)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:10.0.0.2', '203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientAddress('::1', '2001:db8::5', trusted)).toBe('2001:db8::5');
  });

  it('stops at a hop that is not an address (the proxy that wrote it is the caller we know)', () => {
    expect(clientAddress('10.0.0.2', 'evil, not-an-ip', trusted)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', '', trusted)).toBe('10.0.0.2');
  });

  it('refuses a trustProxy entry that is not an address or CIDR at start-up, naming the key', () => {
    expect(() => loadConfig({ env: {}, overrides: { server: { trustProxy: ['proxy.internal'] } } })).toThrow(
      /server\.trustProxy\.0: must be an IP address or a CIDR range/,
    );
    expect(() => loadConfig({ env: {}, overrides: { server: { trustProxy: ['10.0.0.0/33'] } } })).toThrow(
      /server\.trustProxy/,
    );
  });
});

describe('console sign-in failures behind a proxy', () => {
  let t: TestRoster;
  beforeAll(async () => {
    t = await startTestRoster({ server: { publicUrl: 'http://roster.test', trustProxy: ['127.0.0.1', '::1'] } });
  });
  afterAll(() => t.close());

  const signIn = (address: string, token: string) =>
    t.request
      .post('/console/session')
      .set('X-Forwarded-For', address)
      .set('Content-Type', 'application/json')
      .send({ token });

  it("21 wrong sign-ins from one address lock out that address, not the admin's", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await signIn('203.0.113.66', 'not-the-admin-token-000')).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
    expect((await signIn('203.0.113.66', TOKENS.admin)).status).toBe(429);
    const admin = await signIn('192.0.2.10', TOKENS.admin);
    expect(admin.status, JSON.stringify(admin.body)).toBe(201);
  });

  it('successful sign-ins are not counted as failures', async () => {
    for (let i = 0; i < 25; i++) expect((await signIn('192.0.2.11', TOKENS.admin)).status).toBe(201);
  });
});

describe('the console from the address a development start prints', () => {
  const dev = (env: NodeJS.ProcessEnv = {}) => loadConfig({ env: { ...env } });

  it('accepts 127.0.0.1, localhost and [::1] on the same port in development with the default public URL', () => {
    const config = dev();
    expect(config.server.publicUrl).toBe('http://localhost:8080');
    for (const origin of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']) {
      expect(signInOriginAllowed(origin, config), origin).toBe(true);
    }
    for (const origin of ['http://127.0.0.1:9090', 'https://127.0.0.1:8080', 'http://evil.test', 'null']) {
      expect(signInOriginAllowed(origin, config), origin).toBe(false);
    }
  });

  it('accepts only the public URL in production or with a public URL that is not loopback', () => {
    const production = dev({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/roster' });
    expect(signInOriginAllowed('http://127.0.0.1:8080', production)).toBe(false);
    expect(signInOriginAllowed('http://localhost:8080', production)).toBe(true);
    const named = dev({ ROSTER_PUBLIC_URL: 'https://roster.example.com' });
    expect(signInOriginAllowed('https://roster.example.com', named)).toBe(true);
    expect(signInOriginAllowed('http://127.0.0.1:8080', named)).toBe(false);
  });

  it('over HTTP: a foreign origin is told which address to open', async () => {
    const t = await startTestRoster({ server: { publicUrl: 'http://localhost:8080' } });
    try {
      const post = (origin: string) =>
        t.request
          .post('/console/session')
          .set('Origin', origin)
          .set('Content-Type', 'application/json')
          .send({ token: TOKENS.admin });
      expect((await post('http://127.0.0.1:8080')).status).toBe(201);
      const refused = await post('http://evil.test');
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('open http://localhost:8080/console');
    } finally {
      await t.close();
    }
  });
});
