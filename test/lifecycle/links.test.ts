import { afterEach, describe, expect, it } from 'vitest';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import {
  activateWithLink,
  createUser,
  getUser,
  LIFECYCLE,
  lifecycleOf,
  linkToken,
  movableClock,
  PASSWORD,
  unique,
  verify,
  waitForEvents,
  waitForMailTo,
} from './lifecycleHelpers.js';

/** README "Emails" (the links and their pages): /activate and /reset-password, their tokens and pages. */

const clock = movableClock();
const { t, sink } = useMailRoster(
  { mail: { orgName: 'Example Corp' }, activation: { linkTtlDays: 14, resetLinkTtlHours: 24 } },
  { now: clock.now },
);
afterEach(() => clock.reset());

const NEW_PASSWORD = 'Brand-New-Secret-31';

/** An ACTIVE user without a password and the token of its activation email. */
async function activationLink() {
  const email = `${unique('link')}@corp.example`;
  const user = await createUser(t, { emails: [{ value: email, type: 'work' }] }, TOKENS.integration);
  const mail = await waitForMailTo(sink, email);
  return { user, email, token: linkToken(mail) };
}

/** An ACTIVE user with a password and the token of a password reset email. */
async function resetLink() {
  const email = `${unique('reset')}@corp.example`;
  const user = await createUser(
    t,
    { emails: [{ value: email, type: 'work' }], password: PASSWORD },
    TOKENS.integration,
  );
  await waitForMailTo(sink, email); // welcome
  expect((await t.admin().post(`/users/${user.id}/password-reset-email`, {})).status).toBe(200);
  const mail = await waitForMailTo(sink, email, 2);
  return { user, email, token: linkToken(mail, 'reset-password') };
}

/** The page without its per-response nonce, to compare pages. */
const withoutNonce = (html: string) => html.replace(/nonce="[^"]*"/g, 'nonce=""');

function expectPageHeaders(res: { headers: Record<string, string> }) {
  expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
  const csp = res.headers['content-security-policy'];
  expect(csp).toMatch(/(^|;\s*)default-src 'none'/);
  expect(csp).toContain("form-action 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['cache-control']).toContain('no-store');
}

describe('GET /activate', () => {
  it('shows the password form for a valid link, with strict security headers', async () => {
    const { user, token } = await activationLink();
    const res = await t.request.get(`/activate?token=${token}`);
    expect(res.status).toBe(200);
    expectPageHeaders(res);
    expect(res.text).toContain('<form method="post" action="/activate">');
    expect(res.text).toContain(`value="${token}"`);
    expect(res.text).toContain(user.userName);
    expect(res.text).toMatch(/<label for="password">[^<]+<\/label>\s*<input type="password" id="password"/);
    expect(res.text).toMatch(/<label for="confirm">[^<]+<\/label>\s*<input type="password" id="confirm"/);
    expect(res.text).not.toMatch(/<script|https?:\/\//);
    // Looking at the page does not use the link up.
    expect((await t.request.get(`/activate?token=${token}`)).status).toBe(200);
  });

  it('answers one generic 410 page for unknown, malformed and missing tokens', async () => {
    const unknown = await t.request.get(`/activate?token=${'A'.repeat(43)}`);
    const malformed = await t.request.get('/activate?token=%3Cscript%3E');
    const missing = await t.request.get('/activate');
    for (const res of [unknown, malformed, missing]) {
      expect(res.status).toBe(410);
      expectPageHeaders(res);
      expect(res.text).toContain('This link is no longer valid');
      expect(withoutNonce(res.text)).toBe(withoutNonce(unknown.text));
    }
  });
});

describe('POST /activate', () => {
  it('sets the password once: passwordStatus ACTIVE, login works, the link is used up', async () => {
    const { user, token } = await activationLink();
    const res = await activateWithLink(t, token);
    expect(res.status, res.text).toBe(200);
    expectPageHeaders(res);
    expect(res.text).toContain('Your account is active');
    expect(lifecycleOf(await getUser(t, user.id)).passwordStatus).toBe('ACTIVE');
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
    const [event] = await waitForEvents(t, user.id, 'user_password_set');
    expect(event.initiatedBy).toEqual({ type: 'user', name: user.userName });

    const again = await activateWithLink(t, token, NEW_PASSWORD);
    expect(again.status).toBe(410);
    expect(again.text).toContain('This link is no longer valid');
    expect((await t.request.get(`/activate?token=${token}`)).status).toBe(410);
    expect((await verify(t, user.userName, NEW_PASSWORD)).status).toBe(401);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);
  });

  it('used, expired and unknown links get the same page', async () => {
    const used = await activationLink();
    expect((await activateWithLink(t, used.token)).status).toBe(200);
    const expired = await activationLink();
    const unknown = await t.request.get(`/activate?token=${'B'.repeat(43)}`);
    const usedPage = await t.request.get(`/activate?token=${used.token}`);
    clock.advanceDays(15);
    const expiredPage = await t.request.get(`/activate?token=${expired.token}`);
    for (const res of [usedPage, expiredPage]) {
      expect(res.status).toBe(410);
      expect(withoutNonce(res.text)).toBe(withoutNonce(unknown.text));
    }
  });

  it('an expired link (older than activation.linkTtlDays) is refused; one a day younger works', async () => {
    const fresh = await activationLink();
    const old = await activationLink();
    clock.advanceDays(13.9);
    expect((await t.request.get(`/activate?token=${fresh.token}`)).status).toBe(200);
    clock.advanceDays(0.2);
    expect((await t.request.get(`/activate?token=${old.token}`)).status).toBe(410);
    const res = await activateWithLink(t, old.token);
    expect(res.status).toBe(410);
    expect(lifecycleOf(await getUser(t, old.user.id)).passwordStatus).toBe('PENDING');
    clock.reset();
    clock.advanceDays(13.9);
    expect((await activateWithLink(t, fresh.token)).status).toBe(200);
  });

  it('a password that breaks the policy shows the form again with the reason, and keeps the link', async () => {
    const { user, token } = await activationLink();
    const res = await t.request.post('/activate').type('form').send({ token, password: 'short', confirm: 'short' });
    expect(res.status).toBe(400);
    expectPageHeaders(res);
    expect(res.text).toContain('<form method="post" action="/activate">');
    expect(res.text).toMatch(/id="password-error"[^>]*>[^<]*\d+ characters/);
    expect(res.text).toContain('aria-invalid="true"');
    expect(lifecycleOf(await getUser(t, user.id)).passwordStatus).toBe('PENDING');

    const sameAsUsername = await t.request
      .post('/activate')
      .type('form')
      .send({ token, password: user.userName, confirm: user.userName });
    expect(sameAsUsername.status).toBe(400);

    expect((await activateWithLink(t, token)).status).toBe(200);
  });

  it('a confirmation that differs shows the form again and keeps the link', async () => {
    const { token } = await activationLink();
    const res = await t.request
      .post('/activate')
      .type('form')
      .send({ token, password: PASSWORD, confirm: `${PASSWORD}x` });
    expect(res.status).toBe(400);
    expect(res.text).toContain('do not match');
    expect(res.text).toContain(`value="${token}"`);
    expect((await activateWithLink(t, token)).status).toBe(200);
  });

  it('accepts JSON {token, password}', async () => {
    const { user, token } = await activationLink();
    const bad = await t.request.post('/activate').send({ token, password: 'short' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: expect.any(String),
      message: expect.stringMatching(/\d+ characters/),
    });

    const res = await t.request.post('/activate').send({ token, password: PASSWORD });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['content-type']).toMatch(/json/);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);

    const again = await t.request.post('/activate').send({ token, password: PASSWORD });
    expect(again.status).toBe(410);
    expect(again.body.error.code).toEqual(expect.any(String));
  });

  it('refuses a cross-origin form post (403) without using the link', async () => {
    const { token } = await activationLink();
    const res = await t.request
      .post('/activate')
      .set('Origin', 'https://evil.example')
      .type('form')
      .send({ token, password: PASSWORD, confirm: PASSWORD });
    expect(res.status).toBe(403);
    const sameOrigin = await t.request
      .post('/activate')
      .set('Origin', 'http://roster.test')
      .type('form')
      .send({ token, password: PASSWORD, confirm: PASSWORD });
    expect(sameOrigin.status).toBe(200);
  });

  it('an activation link does not work on /reset-password', async () => {
    const { token } = await activationLink();
    expect((await t.request.get(`/reset-password?token=${token}`)).status).toBe(410);
    const res = await t.request
      .post('/reset-password')
      .type('form')
      .send({ token, password: PASSWORD, confirm: PASSWORD });
    expect(res.status).toBe(410);
    expect((await activateWithLink(t, token)).status).toBe(200);
  });

  it('a change of company or alternate email voids outstanding links; other changes keep them', async () => {
    const kept = await activationLink();
    const title = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }],
    };
    expect((await t.scim().patch(`/Users/${kept.user.id}`, title)).status).toBe(200);
    expect((await t.request.get(`/activate?token=${kept.token}`)).status).toBe(200);

    const company = await activationLink();
    const newCompany = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'replace', path: 'emails', value: [{ value: `${unique('moved')}@corp.example`, type: 'work' }] },
      ],
    };
    expect((await t.scim().patch(`/Users/${company.user.id}`, newCompany)).status).toBe(200);
    expect((await t.request.get(`/activate?token=${company.token}`)).status).toBe(410);
    expect((await activateWithLink(t, company.token)).status).toBe(410);

    const { user, token } = await resetLink();
    const newAlternate = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: `${LIFECYCLE}:alternateEmail`, value: `${unique('alt')}@home.example` }],
    };
    expect((await t.scim().patch(`/Users/${user.id}`, newAlternate)).status).toBe(200);
    const reset = await t.request
      .post('/reset-password')
      .type('form')
      .send({ token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(reset.status).toBe(410);
    expect((await verify(t, user.userName, NEW_PASSWORD)).status).toBe(401);
  });

  it('a link of a deleted user stops working', async () => {
    const { user, token } = await activationLink();
    expect((await t.scim().delete(`/Users/${user.id}`)).status).toBe(204);
    expect((await t.request.get(`/activate?token=${token}`)).status).toBe(410);
  });
});

describe('/reset-password', () => {
  it('shows the form, sets the new password once, and the old password stops working', async () => {
    const { user, token } = await resetLink();
    const page = await t.request.get(`/reset-password?token=${token}`);
    expect(page.status).toBe(200);
    expectPageHeaders(page);
    expect(page.text).toContain('<form method="post" action="/reset-password">');
    expect(page.text).toContain(user.userName);

    const res = await t.request
      .post('/reset-password')
      .type('form')
      .send({ token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('Your password has been changed');
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(401);
    expect((await verify(t, user.userName, NEW_PASSWORD)).status).toBe(200);

    const again = await t.request
      .post('/reset-password')
      .type('form')
      .send({ token, password: PASSWORD, confirm: PASSWORD });
    expect(again.status).toBe(410);
    expect((await t.request.get(`/reset-password?token=${token}`)).status).toBe(410);
  });

  it('policy violation and mismatch keep the link; JSON works; cross-origin is 403', async () => {
    const { user, token } = await resetLink();
    const short = await t.request.post('/reset-password').type('form').send({ token, password: 'x', confirm: 'x' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('action="/reset-password"');
    const mismatch = await t.request
      .post('/reset-password')
      .type('form')
      .send({ token, password: NEW_PASSWORD, confirm: PASSWORD });
    expect(mismatch.status).toBe(400);
    const cross = await t.request
      .post('/reset-password')
      .set('Origin', 'https://evil.example')
      .send({ token, password: NEW_PASSWORD });
    expect(cross.status).toBe(403);
    const json = await t.request.post('/reset-password').send({ token, password: NEW_PASSWORD });
    expect(json.status, JSON.stringify(json.body)).toBe(200);
    expect((await verify(t, user.userName, NEW_PASSWORD)).status).toBe(200);
  });

  it('a reset link expires after activation.resetLinkTtlHours', async () => {
    const { token } = await resetLink();
    clock.advanceDays(25 / 24);
    expect((await t.request.get(`/reset-password?token=${token}`)).status).toBe(410);
    const res = await t.request.post('/reset-password').send({ token, password: NEW_PASSWORD });
    expect(res.status).toBe(410);
  });
});
