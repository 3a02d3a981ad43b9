import type { Layer } from '@koa/router';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster } from '../helpers/roster.js';

/**
 * Every route of the SCIM and admin APIs, read from the app's own routers (a new route is covered
 * without editing this file), is refused without a token however its prefix is spelled.
 */
const t = useTestRoster();
let userId: string;
let groupId: string;
const PROTECTED = ['/scim/v2', '/admin/v1', '/auth'];

interface Route {
  method: string;
  path: string;
}

function appRoutes(): Route[] {
  const routes: Route[] = [];
  for (const middleware of t.roster.app.middleware as { router?: { stack: Layer[] } }[]) {
    for (const layer of middleware.router?.stack ?? []) {
      const path = layer.path;
      if (layer.methods.length === 0 || typeof path !== 'string') continue;
      if (!PROTECTED.some((p) => path === p || path.startsWith(`${p}/`))) continue;
      const method = layer.methods.includes('GET') ? 'GET' : layer.methods.find((m) => m !== 'HEAD')!;
      // A real id, so a route that answered would answer with real data.
      const id = path.includes('/Groups/') ? groupId : userId;
      routes.push({ method, path: path.replace(/:\w+/g, id) });
    }
  }
  return routes;
}

const mixedCase = (s: string) => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');

function spellings(path: string): string[] {
  const prefix = PROTECTED.find((p) => path.startsWith(p))!;
  const rest = path.slice(prefix.length);
  const upperFirst = prefix.replace(/\/(\w)/, (_, c: string) => `/${c.toUpperCase()}`);
  return [
    `${prefix.toUpperCase()}${rest}`,
    `${upperFirst}${rest}`,
    `${mixedCase(prefix)}${rest}`,
    `${prefix.replace(/v(\d)$/, 'V$1')}${rest}`,
    `${path}/`,
    path.toUpperCase(),
  ];
}

async function send(route: Route, path: string, token?: string) {
  let test = t.request[route.method.toLowerCase() as 'get'](path);
  if (token) test = test.set('Authorization', `Bearer ${token}`);
  if (['POST', 'PUT', 'PATCH'].includes(route.method)) {
    test = test.set('Content-Type', 'application/scim+json').send('{"userName":"x@example.com"}');
  }
  return test;
}

beforeAll(async () => {
  const user = await t.scim().post('/Users', { userName: 'guarded@example.com' }).expect(201);
  userId = user.body.id;
  const group = await t.scim().post('/Groups', { displayName: 'Guarded' }).expect(201);
  groupId = group.body.id;
});

describe('authentication belongs to the routers', () => {
  it('finds the routes of both APIs in the app', () => {
    const paths = appRoutes().map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain(`GET /scim/v2/Users/${userId}`);
    expect(paths).toContain('GET /admin/v1/exports/users');
    expect(paths).toContain('GET /admin/v1/settings');
    expect(paths).toContain('POST /auth/verify');
    expect(paths.length).toBeGreaterThan(30);
  });

  it('refuses every route without a token as spelled in the contract (401)', async () => {
    for (const route of appRoutes()) {
      const res = await send(route, route.path);
      expect(res.status, `${route.method} ${route.path}`).toBe(401);
    }
  });

  it('refuses every route without a token whatever the case of the prefix or a trailing slash (401 or 404)', async () => {
    for (const route of appRoutes()) {
      for (const path of spellings(route.path)) {
        const res = await send(route, path);
        expect([401, 404], `${route.method} ${path} answered ${res.status}`).toContain(res.status);
        expect(res.text).not.toContain('guarded@example.com');
      }
    }
  });

  it('serves only the contract spelling even with a valid token', async () => {
    const ok = await t.scim().get(`/Users/${userId}`);
    expect(ok.status).toBe(200);
    for (const path of [`/SCIM/v2/Users/${userId}`, `/scim/V2/Users/${userId}`]) {
      const res = await t.request.get(path).set('Authorization', `Bearer ${TOKENS.scim}`);
      expect(res.status, path).toBe(404);
    }
    const admin = await t.request.get('/Admin/v1/exports/users').set('Authorization', `Bearer ${TOKENS.admin}`);
    expect(admin.status).toBe(404);
  });

  it('answers 404 for paths no router knows, under either prefix', async () => {
    for (const path of ['/scim/v2/Nothing', '/admin/v1/nothing', '/SCIM/v2/Users', '/Admin/v1/events']) {
      const res = await t.request.get(path);
      expect(res.status, path).toBe(404);
    }
  });
});
