import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Koa from 'koa';
import supertest from 'supertest';
import {
  ConflictError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  PreconditionFailedError,
  type DomainError,
} from '../../src/errors.js';
import { errorHandler } from '../../src/http/errors.js';
import { createRouter } from '../../src/http/router.js';
import { createLogger } from '../../src/logger.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';

/**
 * The real error handler in front of routes that throw `err`, in routers that declare their error
 * shape as the app's do (the SCIM API, the admin API, the credential check).
 */
function throwing(err: Error) {
  const app = new Koa();
  app.use(errorHandler(createLogger('silent')));
  const fail = () => {
    throw err;
  };
  const scim = createRouter({ prefix: '/scim/v2', errorShape: 'scim' }).all('/Users', fail);
  const admin = createRouter({ prefix: '/admin/v1', errorShape: 'admin' }).all('/users', fail);
  const credential = createRouter({ errorShape: 'admin' }).post('/auth/verify', fail);
  for (const router of [scim, admin, credential]) app.use(router.routes());
  return supertest(app.callback());
}

describe('a domain error is answered in the shape of the surface it reaches', () => {
  const kinds: [string, DomainError, number][] = [
    ['invalid', new InvalidError('bad value', { scimType: 'invalidValue', code: 'bad_value' }), 400],
    ['forbidden', new ForbiddenError('not you'), 403],
    ['not found', new NotFoundError('no such thing'), 404],
    ['conflict', new ConflictError('taken', { scimType: 'uniqueness' }), 409],
    ['precondition failed', new PreconditionFailedError('changed meanwhile'), 412],
  ];

  it.each(kinds)('%s: a SCIM error body under /scim/v2', async (_name, err, status) => {
    const res = await throwing(err).get('/scim/v2/Users');
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/scim+json');
    expect(res.body).toEqual({
      schemas: [ERROR],
      status: String(status),
      ...(err.scimType ? { scimType: err.scimType } : {}),
      detail: err.message,
    });
  });

  it.each(kinds)('%s: { error: { code, message } } under /admin/v1 and on /auth', async (_name, err, status) => {
    const code = err.code ?? err.scimType ?? { 403: 'forbidden', 404: 'not_found', 412: 'error' }[status];
    for (const path of ['/admin/v1/users', '/auth/verify']) {
      const res = await throwing(err).post(path);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: err.message } });
    }
  });
});

describe('one service error on both surfaces', () => {
  let t: TestRoster;
  let userId: string;
  beforeAll(async () => {
    t = await startTestRoster();
    const res = await t
      .scim()
      .post('/Users', { schemas: [USER], userName: 'both@example.com', [LIFECYCLE]: { state: 'ACTIVE' } });
    expect(res.status).toBe(201);
    userId = res.body.id;
  });
  afterAll(() => t?.close());

  const admin = () => (path: string) =>
    t.request.post(`/admin/v1${path}`).set('Authorization', `Bearer ${TOKENS.admin}`).send({});

  it('an unknown user: SCIM 404 body, admin 404 not_found', async () => {
    const scim = await t.scim().get('/Users/00000000-0000-4000-8000-000000000000');
    expect(scim.status).toBe(404);
    expect(scim.body).toMatchObject({ schemas: [ERROR], status: '404' });
    const res = await admin()('/users/00000000-0000-4000-8000-000000000000/suspend');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('a lifecycle rule: SCIM 400 mutability on a write, admin 409 already_active on an action', async () => {
    const scim = await t.scim().patch(`/Users/${userId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: `${LIFECYCLE}:state`, value: 'STAGED' }],
    });
    expect(scim.status).toBe(400);
    expect(scim.body).toMatchObject({ scimType: 'mutability', detail: 'A user cannot return to STAGED' });
    const res = await admin()(`/users/${userId}/activate`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: 'already_active', message: 'The user is already ACTIVE' } });
  });

  it('per-user results of /users/actions carry the same codes', async () => {
    const res = await t.request
      .post('/admin/v1/users/actions')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .send({ action: 'activate', userIds: [userId, 'nobody'] });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { userId, ok: false, error: { code: 'already_active', message: 'The user is already ACTIVE' } },
      { userId: 'nobody', ok: false, error: { code: 'not_found', message: 'User nobody not found' } },
    ]);
  });
});
