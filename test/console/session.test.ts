import { describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';
import { createUser, lifecycleOf, getUser } from '../lifecycle/lifecycleHelpers.js';

/**
 * The console session over plain HTTP: the cookie's attributes, idle and absolute expiry on a test
 * clock, sign-out, CSRF on state-changing admin calls, tampered and foreign cookies, the headers of
 * console responses, and the admin token never coming back.
 */

let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const t = useTestRoster({ console: { session: { idleMinutes: 30, absoluteHours: 2 } } }, { now: clock });
const MINUTE = 60_000;

interface Session {
  cookie: string;
  csrfToken: string;
  setCookie: string;
  body: Record<string, unknown>;
}

async function signIn(): Promise<Session> {
  const res = await supertest(t.roster.app.callback())
    .post('/console/session')
    .send({ token: TOKENS.admin })
    .set('Content-Type', 'application/json');
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const setCookie = String(res.headers['set-cookie']);
  return {
    setCookie,
    cookie: setCookie.split(';')[0],
    csrfToken: res.body.csrfToken as string,
    body: res.body as Record<string, unknown>,
  };
}

const app = () => supertest(t.roster.app.callback());

describe('signing in', () => {
  it('gives an HttpOnly, SameSite=Strict cookie for the whole site, and never echoes the token', async () => {
    const session = await signIn();
    expect(session.setCookie).toMatch(
      /^roster_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=7200$/,
    );
    expect(session.setCookie).not.toMatch(/Secure/); // the public URL is http
    expect(session.body).toEqual({ name: 'admin', csrfToken: expect.any(String), endsAt: expect.any(String) });
    expect(JSON.stringify(session.body)).not.toContain(TOKENS.admin);
    // The database keeps a digest, not the cookie value.
    const stored = await t.db.collection('console_sessions').find().toArray();
    expect(JSON.stringify(stored)).not.toContain(session.cookie.split('=')[1]);
  });

  it('marks the cookie Secure when the public URL is https', async () => {
    const https = await startTestRoster({ server: { publicUrl: 'https://roster.example' } });
    try {
      const res = await supertest(https.roster.app.callback()).post('/console/session').send({ token: TOKENS.admin });
      expect(res.status).toBe(201);
      expect(String(res.headers['set-cookie'])).toMatch(/; Secure;/);
    } finally {
      await https.close();
    }
  });

  it.each([
    ['a wrong token', { token: 'not-the-admin-token-at-all' }, 401],
    ['a SCIM token', { token: TOKENS.scim }, 401],
    ['no token', {}, 400],
  ])('refuses %s without a cookie', async (_name, body, status) => {
    const res = await app().post('/console/session').send(body);
    expect(res.status).toBe(status);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a sign-in posted from another origin', async () => {
    const res = await app()
      .post('/console/session')
      .set('Origin', 'https://evil.example')
      .send({ token: TOKENS.admin });
    expect(res.status).toBe(403);
  });
});

describe('the session as an admin credential', () => {
  it('reads the admin API with the cookie alone, and the session endpoint gives back the CSRF token', async () => {
    const session = await signIn();
    const users = await app().get('/admin/v1/users').set('Cookie', session.cookie);
    expect(users.status, JSON.stringify(users.body)).toBe(200);
    const again = await app().get('/console/session').set('Cookie', session.cookie);
    expect(again.body.csrfToken).toBe(session.csrfToken);
  });

  it('refuses a state-changing call without the CSRF token, with a wrong one, or with another session’s', async () => {
    const user = await createUser(t, { lifecycle: { state: 'STAGED' } });
    const session = await signIn();
    const other = await signIn();
    const call = () => app().post(`/admin/v1/users/${user.id}/activate`).set('Cookie', session.cookie).send({});
    for (const res of [
      await call(),
      await call().set('X-CSRF-Token', 'wrong'),
      await call().set('X-CSRF-Token', other.csrfToken),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('csrf_token_invalid');
    }
    expect(lifecycleOf(await getUser(t, user.id)).state).toBe('STAGED');

    const ok = await call().set('X-CSRF-Token', session.csrfToken);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(lifecycleOf(await getUser(t, user.id)).state).toBe('ACTIVE');
    const events = await t.admin().get(`/events?userId=${user.id}&type=user_activated`);
    expect(events.body.events[0].initiatedBy).toEqual({ type: 'admin', name: 'console:admin', id: 'console:admin' });
  });

  it('refuses a tampered or made-up cookie', async () => {
    const session = await signIn();
    const value = session.cookie.split('=')[1];
    const flipped = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    for (const cookie of [`roster_console=${flipped}`, 'roster_console=x', `roster_console=${value}x`]) {
      const res = await app().get('/admin/v1/users').set('Cookie', cookie);
      expect(res.status).toBe(401);
    }
  });

  it('keeps the bearer token working unchanged, even beside a dead cookie', async () => {
    const res = await app()
      .get('/admin/v1/users/counts')
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Cookie', 'roster_console=whatever');
    expect(res.status).toBe(200);
    expect((await app().get('/admin/v1/users')).status).toBe(401);
  });
});

describe('ending a session', () => {
  it('signs out server-side: the old cookie no longer works', async () => {
    const session = await signIn();
    const sessions = t.db.collection('console_sessions');
    const before = await sessions.countDocuments();
    const noCsrf = await app().delete('/console/session').set('Cookie', session.cookie);
    expect(noCsrf.status).toBe(403);
    const out = await app()
      .delete('/console/session')
      .set('Cookie', session.cookie)
      .set('X-CSRF-Token', session.csrfToken);
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^roster_console=; .*Max-Age=0/);
    expect((await app().get('/admin/v1/users').set('Cookie', session.cookie)).status).toBe(401);
    expect(await sessions.countDocuments()).toBe(before - 1);
  });

  it('ends after the idle timeout, and use keeps it alive', async () => {
    offsetMs = 0;
    const session = await signIn();
    offsetMs = 29 * MINUTE;
    expect((await app().get('/admin/v1/users/counts').set('Cookie', session.cookie)).status).toBe(200);
    offsetMs = 58 * MINUTE; // 29 minutes after the last use
    expect((await app().get('/admin/v1/users/counts').set('Cookie', session.cookie)).status).toBe(200);
    offsetMs = 89 * MINUTE; // 31 minutes idle
    const res = await app().get('/admin/v1/users/counts').set('Cookie', session.cookie);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('session_ended');
    offsetMs = 0;
  });

  it('ends at the absolute timeout however much it is used', async () => {
    offsetMs = 0;
    const session = await signIn();
    for (let minutes = 25; minutes < 120; minutes += 25) {
      offsetMs = minutes * MINUTE;
      expect((await app().get('/admin/v1/users/counts').set('Cookie', session.cookie)).status).toBe(200);
    }
    offsetMs = 121 * MINUTE;
    expect((await app().get('/admin/v1/users/counts').set('Cookie', session.cookie)).status).toBe(401);
    expect((await app().get('/console/session').set('Cookie', session.cookie)).status).toBe(401);
    offsetMs = 0;
  });
});

describe('console responses', () => {
  it.each(['/console', '/console/app.js', '/console/console.css', '/console/session', '/console/nothing.js'])(
    '%s carries the strict CSP and frame headers',
    async (path) => {
      const res = await app().get(path);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    },
  );

  it('serves the files with their content types, revalidated by ETag', async () => {
    const page = await app().get('/console');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const script = await app().get('/console/app.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('no-cache');
    const again = await app().get('/console/app.js').set('If-None-Match', String(script.headers.etag));
    expect(again.status).toBe(304);
    expect((await app().get('/console/console.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await app().get('/console/..%2Fpackage.json')).status).toBe(404);
  });

  it('no page or script holds inline script or style', async () => {
    const page = (await app().get('/console')).text;
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/);
  });
});

describe('sign-in attempts', () => {
  it('are limited per address: over 20 a minute answer 429 with Retry-After, even with the right token', async () => {
    const answers = [];
    for (let i = 0; i < 22; i++)
      answers.push(
        await app()
          .post('/console/session')
          .send({ token: `wrong-${i}` }),
      );
    const limited = answers.filter((res) => res.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThan(0);
    expect(limited[0].body.error.code).toEqual(expect.any(String));
    const right = await app().post('/console/session').send({ token: TOKENS.admin });
    expect(right.status).toBe(429);
    expect(right.headers['set-cookie']).toBeUndefined();
  });
});
