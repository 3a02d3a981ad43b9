import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkDestination, classifyAddress, destinationPolicy } from '../../src/net/destinations.js';
import { createOutbound, systemResolve, type Resolve } from '../../src/net/outbound.js';
import { startTestRoster, testConfig, TOKENS, type TestRoster } from '../helpers/roster.js';
import { FAST, startReceiver, until, USER } from '../securityEvents/receiver.js';

/**
 * Issue: push receivers and trusted issuers' JWKS URLs reached anything (Roster's own admin API, the
 * database, cloud metadata), checked nowhere; a receiver's error text came back as Roster's. Every
 * Roster here runs with the default `outbound.allowedDestinations` ([]) unless the test says otherwise;
 * receivers are real HTTP servers on loopback, and a resolver the test controls stands in for DNS.
 */
const NONE = { outbound: { allowedDestinations: [] } };
const LOOPBACK = { outbound: { allowedDestinations: ['127.0.0.1'] } };

/**
 * A resolver the test controls: each listed name answers from its list, one answer per lookup, the
 * last repeating; other names go to the system resolver (localhost, names that do not exist).
 */
function fakeDns(answers: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve: Resolve = async (hostname) => {
    calls.push(hostname);
    const list = answers[hostname];
    if (!list) return systemResolve(hostname);
    const n = calls.filter((h) => h === hostname).length;
    const address = list[Math.min(n, list.length) - 1];
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  return { resolve, calls };
}

/**
 * A receiver as shown once its one SET has failed (the counts and the failures are two reads, so
 * both are waited for).
 */
interface ShownReceiver {
  deliveries: { pending: number; delivered: number; failed: number };
  recentFailures: {
    error: { err: string; description?: string; receiverSaid?: { err?: string; description?: string } };
  }[];
}
const failedOnce = (shown: ShownReceiver) =>
  shown.deliveries.failed === 1 && shown.recentFailures.length === 1 ? shown : undefined;

const receiverBody = (endpoint: string, extra: Record<string, unknown> = {}) => ({
  name: 'r',
  delivery: 'push',
  endpoint,
  audience: 'r',
  ...extra,
});

describe('destination policy (src/net/destinations.ts)', () => {
  const none = destinationPolicy([], false);
  it('classifies the refused kinds, also inside IPv6, and public addresses', () => {
    const kinds: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['2002:7f00:1::', 'loopback'],
      ['64:ff9b::a00:1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['10.0.0.1', 'private'],
      ['172.16.5.4', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fd12:3456::1', 'unique-local'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['8.8.8.8', 'public'],
      ['203.0.113.7', 'public'],
      ['2606:4700:4700::1111', 'public'],
      ['172.32.0.1', 'public'],
    ];
    for (const [address, kind] of kinds) expect([address, classifyAddress(address)]).toEqual([address, kind]);
    expect(classifyAddress('localhost')).toBeUndefined();
  });

  it('refuses what is not public unless the allow-list has it; plain http in production only to the allow-list', () => {
    expect(checkDestination('127.0.0.1', none)).toMatchObject({ allowed: false, reason: /loopback/ });
    expect(checkDestination('::ffff:10.1.2.3', none)).toMatchObject({ allowed: false, reason: /private/ });
    expect(checkDestination('8.8.8.8', none, true)).toEqual({ allowed: true });
    const siem = destinationPolicy(['10.20.0.0/16', '::1'], false);
    expect(checkDestination('10.20.3.4', siem)).toEqual({ allowed: true });
    expect(checkDestination('::ffff:10.20.3.4', siem)).toEqual({ allowed: true });
    expect(checkDestination('::1', siem)).toEqual({ allowed: true });
    expect(checkDestination('10.21.0.1', siem)).toMatchObject({ allowed: false });
    const production = destinationPolicy(['10.20.0.0/16'], true);
    expect(checkDestination('8.8.8.8', production, true)).toMatchObject({ allowed: false, reason: /plain http/ });
    expect(checkDestination('8.8.8.8', production, false)).toEqual({ allowed: true });
    expect(checkDestination('10.20.3.4', production, true)).toEqual({ allowed: true });
  });

  it('outbound.allowedDestinations takes addresses and CIDR ranges only', () => {
    expect(testConfig({ outbound: { allowedDestinations: ['10.0.0.0/8', '::1', '192.168.4.4'] } }).outbound).toEqual({
      allowedDestinations: ['10.0.0.0/8', '::1', '192.168.4.4'],
    });
    for (const bad of ['siem.internal', '10.0.0.0/33', '10.0.0.0/8/1', '*'])
      expect(() => testConfig({ outbound: { allowedDestinations: [bad] } })).toThrow(/outbound\.allowedDestinations/);
    // The default is the empty list.
    expect(testConfig(NONE).outbound.allowedDestinations).toEqual([]);
  });
});

describe('push receivers, default settings (nothing allowed but public addresses)', () => {
  let t: TestRoster;
  let rosterServer: Server;
  let rosterPort: number;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const dns = fakeDns({
    'siem.example': ['203.0.113.7'],
    // Public when registered, loopback when connected to: DNS rebinding.
    'rebind.example': ['203.0.113.8', '127.0.0.1'],
    'closed.example': ['203.0.113.9', '127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
  });
  beforeAll(async () => {
    t = await startTestRoster({ ...FAST, ...NONE }, { start: true, resolve: dns.resolve });
    rosterServer = createServer(t.roster.app.callback());
    await new Promise<void>((resolve) => rosterServer.listen(0, '127.0.0.1', resolve));
    rosterPort = (rosterServer.address() as AddressInfo).port;
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await new Promise((resolve) => rosterServer.close(resolve));
    await receiver.close();
    await t.close();
  });

  it('refuses every loopback, metadata, private and database endpoint at registration, with a clear 400', async () => {
    const port = new URL(receiver.url).port;
    const databasePort = new URL(inject('mongoUri')).port;
    const endpoints = [
      `http://127.0.0.1:${rosterPort}/admin/v1/users`,
      `http://localhost:${port}/events`, // the system resolver: localhost is loopback
      `http://[::1]:${port}/events`,
      `http://0x7f000001:${port}/events`,
      `http://2130706433:${port}/events`,
      `http://127.1:${port}/events`,
      `http://0177.0.0.1:${port}/events`,
      `http://[::ffff:127.0.0.1]:${port}/events`,
      `http://0.0.0.0:${port}/events`,
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.example/latest/meta-data/',
      'http://10.0.0.1/events',
      'http://192.168.0.10/events',
      'http://[fd00::1]/events',
      'http://224.0.0.1/events',
      `http://127.0.0.1:${databasePort}/`,
    ];
    for (const endpoint of endpoints) {
      const res = await t.admin().post('/event-receivers', receiverBody(endpoint));
      expect([endpoint, res.status]).toEqual([endpoint, 400]);
      expect(res.body.error.code).toBe('invalid_receiver');
      expect(res.body.error.message).toMatch(
        /^endpoint is not an allowed destination: .*(loopback|link-local|private|unique-local|unspecified|multicast) address/,
      );
    }
    // PATCH and PUT are checked the same way.
    const ok = await t.admin().post('/event-receivers', receiverBody('https://siem.example/events')).expect(201);
    const patched = await t.request
      .patch(`/admin/v1/event-receivers/${ok.body.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ endpoint: `http://127.1:${port}/events` })
      .expect(400);
    expect(patched.body.error.message).toMatch(/loopback/);
    await t.request
      .put(`/admin/v1/event-receivers/${ok.body.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send(receiverBody('http://10.1.1.1/x'))
      .expect(400);
    // Roster's own public URL is no receiver either.
    const self = await t.admin().post('/event-receivers', receiverBody('http://roster.test/admin/v1/users'));
    expect(self.status).toBe(400);
    expect(self.body.error.message).toMatch(/Roster itself/);
    await t.admin().delete(`/event-receivers/${ok.body.id}`).expect(204);
    expect((await t.admin().get('/event-receivers').expect(200)).body.receivers).toEqual([]);
    expect(receiver.calls()).toBe(0);
  });

  it('DNS rebinding: a name public when registered and loopback when connected is refused at the connection; nothing is sent', async () => {
    const port = new URL(receiver.url).port;
    const open = await t
      .admin()
      .post(
        '/event-receivers',
        receiverBody(`http://rebind.example:${port}/events`, { name: 'rebind', authorization: 'Bearer planted-admin' }),
      )
      .expect(201);
    // Another loopback port, closed: the answer must not tell it apart from the open one (no port scanner).
    const closed = await t
      .admin()
      .post('/event-receivers', receiverBody('http://closed.example:1/events', { name: 'closed' }))
      .expect(201);
    expect(dns.calls.filter((h) => h === 'rebind.example')).toHaveLength(1); // the registration check
    await t.scim().post('/Users', USER('rebound')).expect(201);
    const failure = async (id: string) => {
      const shown = await t.admin().get(`/event-receivers/${id}`).expect(200);
      return failedOnce(shown.body);
    };
    const [a, b] = [await until(() => failure(open.body.id)), await until(() => failure(closed.body.id))];
    await t.roster.securityEvents.settled();
    expect(receiver.calls()).toBe(0);
    expect(dns.calls.filter((h) => h === 'rebind.example').length).toBeGreaterThanOrEqual(2); // checked again at the connection
    for (const [shown, name] of [
      [a, 'rebind.example'],
      [b, 'closed.example'],
    ] as const) {
      expect(shown.deliveries).toEqual({ pending: 0, delivered: 0, failed: 1 });
      expect(shown.recentFailures[0].error).toEqual({
        err: 'destination_refused',
        description: expect.stringMatching(
          new RegExp(`^${name.replace('.', '\\.')}: 127\\.0\\.0\\.1 is a loopback address`),
        ),
      });
    }
    for (const id of [open.body.id, closed.body.id]) await t.admin().delete(`/event-receivers/${id}`).expect(204);
  });

  it('an endpoint allowed when registered is refused at the connection once the setting no longer allows it', async () => {
    await t.roster.reload(testConfig({ ...FAST, ...LOOPBACK }));
    try {
      const made = await t
        .admin()
        .post('/event-receivers', receiverBody(receiver.url, { name: 'was-allowed' }))
        .expect(201);
      await t.roster.reload(testConfig({ ...FAST, ...NONE }));
      await t.scim().post('/Users', USER('after-reload')).expect(201);
      const shown = await until(async () => {
        const body = (await t.admin().get(`/event-receivers/${made.body.id}`).expect(200)).body;
        return failedOnce(body);
      });
      expect(shown.recentFailures[0].error).toMatchObject({ err: 'destination_refused', description: /loopback/ });
      expect(receiver.calls()).toBe(0);
      await t.admin().delete(`/event-receivers/${made.body.id}`).expect(204);
    } finally {
      await t.roster.reload(testConfig({ ...FAST, ...NONE }));
    }
  });
});

describe('outbound.allowedDestinations', () => {
  let t: TestRoster;
  beforeAll(async () => {
    t = await startTestRoster({ ...FAST, ...LOOPBACK }, { start: true });
  });
  afterAll(() => t.close());

  it('admits what it lists (a receiver on 127.0.0.1), and nothing else', async () => {
    const receiver = await startReceiver();
    const made = await t.admin().post('/event-receivers', receiverBody(receiver.url)).expect(201);
    for (const endpoint of ['http://10.0.0.1/events', `http://[::1]:${new URL(receiver.url).port}/events`]) {
      const res = await t.admin().post('/event-receivers', receiverBody(endpoint)).expect(400);
      expect(res.body.error.message).toMatch(/not an allowed destination/);
    }
    await t.scim().post('/Users', USER('allowed')).expect(201);
    await until(() => receiver.received.length >= 1);
    await t.admin().delete(`/event-receivers/${made.body.id}`).expect(204);
    await receiver.close();
  });

  it("records a receiver's error report as its words, bounded, apart from Roster's own", async () => {
    const planted = `db password=hunter2\r\nX-Injected: 1 ${'x'.repeat(5000)}`;
    const receiver = await startReceiver(() => ({
      status: 400,
      body: { err: 'db password=hunter2', description: planted },
    }));
    const made = await t.admin().post('/event-receivers', receiverBody(receiver.url)).expect(201);
    await t.scim().post('/Users', USER('reflected')).expect(201);
    const shown = await until(async () => {
      const body = (await t.admin().get(`/event-receivers/${made.body.id}`).expect(200)).body;
      return failedOnce(body);
    });
    const { error } = shown.recentFailures[0];
    // Roster's own code and words: never the receiver's.
    expect(error.err).toBe('receiver_refused');
    expect(error.description).toBe('the receiver answered 400, without an RFC 8935 error code');
    // The receiver's words, as data, bounded, without control characters.
    const said = error.receiverSaid!;
    expect(said.err).toBe('db password=hunter2');
    expect(said.description).toHaveLength(1000);
    expect(said.description!.startsWith('db password=hunter2  X-Injected: 1 xxx')).toBe(true);
    expect(said.description).not.toMatch(/[\r\n]/);
    await t.admin().delete(`/event-receivers/${made.body.id}`).expect(204);
    await receiver.close();
  });
});

describe('the outbound request (src/net/outbound.ts)', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      res.writeHead(req.url === '/redirect' ? 302 : 200, { location: 'http://127.0.0.1:1/' }).end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  const get = { method: 'GET', timeoutMs: 2000, maxResponseBytes: 1024 } as const;

  it('in production, refuses plain http except to the allow-list; https goes anywhere public', async () => {
    const dns = fakeDns({ 'public.example': ['203.0.113.20'], 'local.example': ['127.0.0.1'] });
    const production = createOutbound({
      settings: () => ({ allowedDestinations: ['127.0.0.1'], production: true }),
      resolve: dns.resolve,
    });
    expect(await production.check('http://public.example/events')).toMatch(/plain http to 203\.0\.113\.20 is refused/);
    expect(await production.check('http://203.0.113.20/events')).toMatch(/plain http/);
    expect(await production.check('https://public.example/events')).toBeUndefined();
    expect(await production.check(`http://local.example:${port}/`)).toBeUndefined();
    // An unknown name passes registration (it may not exist yet); the connection is checked again.
    expect(await production.check('https://not-yet.example/')).toBeUndefined();
    const answer = await production.request(`http://local.example:${port}/`, get);
    expect([answer.status, answer.body.toString()]).toEqual([200, 'hello']);
    const development = createOutbound({
      settings: () => ({ allowedDestinations: [], production: false }),
      resolve: dns.resolve,
    });
    expect(await development.check('http://public.example/events')).toBeUndefined();
  });

  it('connects to the checked address only, bounds the answer, and follows no redirect', async () => {
    const before = requests;
    const dns = fakeDns({ 'rebind.example': ['127.0.0.1'] });
    const none = createOutbound({
      settings: () => ({ allowedDestinations: [], production: false }),
      resolve: dns.resolve,
    });
    await expect(none.request(`http://rebind.example:${port}/`, get)).rejects.toMatchObject({
      code: 'destination_refused',
    });
    await expect(none.request(`http://2130706433:${port}/`, get)).rejects.toMatchObject({
      code: 'destination_refused',
    });
    expect(requests).toBe(before);
    const allowed = createOutbound({ settings: () => ({ allowedDestinations: ['127.0.0.1'], production: false }) });
    const small = await allowed.request(`http://127.0.0.1:${port}/`, { ...get, maxResponseBytes: 2 });
    expect([small.body.toString(), small.truncated]).toEqual(['he', true]);
    const redirect = await allowed.request(`http://127.0.0.1:${port}/redirect`, get);
    expect(redirect.status).toBe(302);
    expect(requests).toBe(before + 2);
  });
});

describe("trusted issuers' JWKS URLs", () => {
  const ISSUER = 'https://idp.example/tenant';
  const AUDIENCE = 'api://roster';
  let server: Server;
  let jwksUri: string;
  let jwksRequests = 0;
  let key: { privateKey: CryptoKey; jwk: JWK };
  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    key = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' } };
    server = createServer((_req, res) => {
      jwksRequests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [key.jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const issuer = (uri: string) => ({
    oauth: {
      trustedIssuers: [{ name: 'idp', issuer: ISSUER, jwksUri: uri, audience: AUDIENCE, allowedSubjects: ['svc'] }],
    },
  });
  const token = () => {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'svc', iat, exp: iat + 600 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(key.privateKey);
  };

  it('a literal loopback or metadata address is refused when the configuration loads', () => {
    expect(() => testConfig({ ...NONE, ...issuer(jwksUri) })).toThrow(
      /oauth\.trustedIssuers\.0\.jwksUri: 127\.0\.0\.1 is a loopback address/,
    );
    expect(() => testConfig({ ...NONE, ...issuer('http://169.254.169.254/keys') })).toThrow(/link-local/);
    expect(() => testConfig({ ...LOOPBACK, ...issuer(jwksUri) })).not.toThrow();
  });

  it('a name that resolves to loopback is refused at the connection: the token is refused, the JWKS never read', async () => {
    const port = new URL(jwksUri).port;
    const dns = fakeDns({ 'keys.example': ['127.0.0.1'] });
    const t = await startTestRoster(
      { ...NONE, ...issuer(`http://keys.example:${port}/keys`) },
      { resolve: dns.resolve },
    );
    try {
      const before = jwksRequests;
      expect((await t.scim(await token()).get('/Users')).status).toBe(401);
      expect(dns.calls).toContain('keys.example');
      expect(jwksRequests).toBe(before);
    } finally {
      await t.close();
    }
    // Allowed, the same issuer works.
    const allowed = await startTestRoster(
      { ...LOOPBACK, ...issuer(`http://keys.example:${port}/keys`) },
      {
        resolve: dns.resolve,
      },
    );
    try {
      const before = jwksRequests;
      expect((await allowed.scim(await token()).get('/Users')).status).toBe(200);
      expect(jwksRequests).toBe(before + 1);
    } finally {
      await allowed.close();
    }
  });
});
