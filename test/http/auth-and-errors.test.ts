import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import Koa from 'koa';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import supertest from 'supertest';
import { errorHandler } from '../../src/http/errors.js';
import { createLogger } from '../../src/logger.js';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';

const t = useTestRoster();

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('SCIM authentication', () => {
  it('rejects a request without a token with 401, a challenge and a SCIM error body', async () => {
    const res = await t.request.get('/scim/v2/ServiceProviderConfig');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.headers['content-type']).toContain('application/scim+json');
    expect(res.body).toEqual({ schemas: [ERROR], status: '401', detail: expect.any(String) });
  });

  it('rejects a wrong token with 401', async () => {
    const res = await t.scim('wrong-token-000000000000').get('/ServiceProviderConfig');
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/Invalid bearer token/);
  });

  it('rejects a non-bearer scheme with 401', async () => {
    const res = await t.request.get('/scim/v2/Schemas').set('Authorization', `Basic ${TOKENS.scim}`);
    expect(res.status).toBe(401);
  });

  it('rejects an admin token on SCIM routes with 403', async () => {
    const res = await t.scim(TOKENS.admin).get('/ServiceProviderConfig');
    expect(res.status).toBe(403);
    expect(res.body.schemas).toEqual([ERROR]);
  });

  it('accepts each configured SCIM token', async () => {
    for (const token of [TOKENS.scim, TOKENS.integration, TOKENS.bulk]) {
      expect((await t.scim(token).get('/ServiceProviderConfig')).status).toBe(200);
    }
  });

  it('accepts a token configured as a sha256 hash', async () => {
    const hash = `sha256:${createHash('sha256').update('hashed-token-value-123').digest('hex')}`;
    const other = await startTestRoster({ auth: { scimTokens: [{ name: 'hashed', hash }], adminTokens: [] } });
    try {
      const ok = await other.request
        .get('/scim/v2/ServiceProviderConfig')
        .set('Authorization', 'Bearer hashed-token-value-123');
      expect(ok.status).toBe(200);
      const bad = await other.request.get('/scim/v2/ServiceProviderConfig').set('Authorization', `Bearer ${hash}`);
      expect(bad.status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('admin authentication', () => {
  it('rejects a SCIM token on admin routes with 403 in the admin error shape', async () => {
    const res = await t.admin(TOKENS.scim).get('/settings');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
  });

  it('rejects a missing token with 401', async () => {
    const res = await t.request.get('/admin/v1/settings');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });
});

describe('error bodies', () => {
  it('answers unknown SCIM paths with a SCIM 404', async () => {
    const res = await t.scim().get('/Nonsense');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('answers unknown root paths with a SCIM 404 and no stack trace', async () => {
    const res = await t.request.get('/no/such/thing');
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('answers a request no route serves in the error shape of the router that owns its path', async () => {
    const admin: [string, string][] = [
      ['get', '/admin/v1/nothing'],
      ['get', '/admin/other'],
      ['put', '/activate'],
      ['put', '/console/session'],
      ['get', '/auth/nothing'],
    ];
    for (const [method, path] of admin) {
      const res = await t.request[method as 'get'](path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    }
    for (const path of ['/oauth/nothing', '/Admin/v1/events', '/activate/more']) {
      const res = await t.request.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toMatchObject({ schemas: [ERROR], status: '404' });
    }
  });

  it.each(['post', 'put', 'patch', 'delete'] as const)(
    'answers %s on discovery endpoints with 405 and Allow',
    async (method) => {
      const call = t.scim()[method];
      const res = method === 'delete' ? await call('/ServiceProviderConfig') : await call('/Schemas', {});
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET');
      expect(res.body).toMatchObject({ schemas: [ERROR], status: '405' });
    },
  );

  it('answers an unparsable body with 400 invalidSyntax', async () => {
    const res = await t.request
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set('Content-Type', 'application/scim+json')
      .send('{"schemas": [');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
  });

  it('answers a body that is JSON but not an object (null, an array, a number) with 400, on every SCIM write (was a 500 on /.search)', async () => {
    for (const path of ['/.search', '/Users/.search', '/Users', '/Groups', '/Bulk']) {
      for (const body of ['null', '[]', '42', '"text"']) {
        const res = await t.request
          .post(`/scim/v2${path}`)
          .set('Authorization', `Bearer ${TOKENS.scim}`)
          .set('Content-Type', 'application/scim+json')
          .send(body);
        expect(res.status, `${path} ${body}`).toBe(400);
        expect(res.body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
      }
    }
  });

  it('answers an unsupported media type with 415', async () => {
    const res = await t.request
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set('Content-Type', 'text/plain')
      .send('hello');
    expect(res.status).toBe(415);
    expect(res.body.schemas).toEqual([ERROR]);
  });

  it('answers an oversized body with 413', async () => {
    const res = await t.request
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify({ pad: 'x'.repeat(t.config.server.bodyLimitBytes + 10) }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '413' });
  });

  it('echoes or assigns a request id', async () => {
    const res = await t.request.get('/healthz').set('X-Request-Id', 'abc-123');
    expect(res.headers['x-request-id']).toBe('abc-123');
    const fresh = await t.request.get('/healthz');
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('metrics', () => {
  it('exposes Prometheus metrics with request counts', async () => {
    await t.request.get('/healthz');
    const res = await supertest(t.roster.app.callback()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/roster_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  });
});

describe('database failures reaching the error handler', () => {
  // The driver sometimes passes a raw socket error on (EPIPE when the server closed the
  // connection mid-write, seen while the outage test stops the database): 503, never 500.
  const answerFor = (err: Error) => {
    const app = new Koa();
    app.use(errorHandler(createLogger('silent')));
    app.use(() => {
      throw err;
    });
    return supertest(app.callback()).get('/scim/v2/Users');
  };

  it.each([
    ['MongoNetworkError', new MongoNetworkError('connection 4 to 127.0.0.1:27017 closed')],
    ['raw EPIPE', Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' })],
    ['raw ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    // FerretDB passing on PostgreSQL going away (the outage test stops PostgreSQL under load).
    [
      'PostgreSQL shutting down behind FerretDB',
      new MongoServerError({ message: 'FATAL: the database system is shutting down (SQLSTATE 57P03)', code: 1 }),
    ],
    [
      'PostgreSQL terminating the connection',
      new MongoServerError({
        message: 'terminating connection due to administrator command (SQLSTATE 57P01)',
        code: 1,
      }),
    ],
    [
      'PostgreSQL refusing connections',
      new MongoServerError({ message: 'failed to connect to `user=postgres database=postgres`: dial error', code: 1 }),
    ],
  ])('answers %s with 503, a SCIM error and Retry-After', async (_name, err) => {
    const res = await answerFor(err);
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '503' });
  });

  it('keeps other failures a 500 without details', async () => {
    const res = await answerFor(Object.assign(new Error('boom'), { code: 'EWHATEVER' }));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ schemas: [ERROR], status: '500', detail: 'Internal server error' });
  });
});
