import { describe, expect, it } from 'vitest';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import {
  activateWithLink,
  createUser,
  expectNoMailTo,
  linkToken,
  mailsTo,
  PASSWORD,
  unique,
  verify,
  waitForEvents,
  waitForMailTo,
} from './lifecycleHelpers.js';

/** README "Emails": "Send activation email" and "password reset email" for each state. */

const { t, sink } = useMailRoster({ mail: { orgName: 'Example Corp' } });

const address = (label: string) => `${unique(label)}@corp.example`;

/** An ACTIVE user without a password whose first activation email has arrived. */
async function pendingUser() {
  const email = address('pending');
  const user = await createUser(t, { emails: [{ value: email, type: 'work' }] }, TOKENS.integration);
  const first = await waitForMailTo(sink, email);
  return { user, email, firstToken: linkToken(first) };
}

/** An ACTIVE user with a password (its welcome email has arrived). */
async function userWithPassword() {
  const email = address('withpw');
  const user = await createUser(
    t,
    { emails: [{ value: email, type: 'work' }], password: PASSWORD },
    TOKENS.integration,
  );
  await waitForMailTo(sink, email);
  return { user, email };
}

describe.concurrent('POST /admin/v1/users/{id}/activation-email', () => {
  it('on a PENDING user sends a new activation email, and the earlier link stops working', async () => {
    const { user, email, firstToken } = await pendingUser();
    const res = await t.admin().post(`/users/${user.id}/activation-email`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ kind: 'activation', recipient: email });
    const second = await waitForMailTo(sink, email, 2);
    expect(second.subject).toBe('Activate your Example Corp account');
    const secondToken = linkToken(second);
    expect(secondToken).not.toBe(firstToken);

    expect((await t.request.get(`/activate?token=${firstToken}`)).status).toBe(410);
    expect((await activateWithLink(t, firstToken)).status).toBe(410);
    expect((await t.request.get(`/activate?token=${secondToken}`)).status).toBe(200);
    expect((await activateWithLink(t, secondToken)).status).toBe(200);
    expect((await verify(t, user.userName, PASSWORD)).status).toBe(200);

    const events = await waitForEvents(t, user.id, 'user_activation_email', 2);
    // Both sends are events (their order depends on when each job finished).
    expect(events.map((e) => `${e.recipientEmail} ${e.initiatedBy.type} ${e.success}`).sort()).toEqual([
      `${email} admin true`,
      `${email} scim true`,
    ]);
  });

  it('takes a destination for this one email', async () => {
    const { user, email } = await pendingUser();
    const other = `${unique('helpdesk')}@partner.example`;
    const res = await t.admin().post(`/users/${user.id}/activation-email`, { destination: other });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await waitForMailTo(sink, other);
    expect(mailsTo(sink, email)).toHaveLength(1);
  });

  it('on a user with a password sends a password reset email instead', async () => {
    const { user, email } = await userWithPassword();
    const res = await t.admin().post(`/users/${user.id}/activation-email`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ kind: 'password-reset', recipient: email });
    const mail = await waitForMailTo(sink, email, 2);
    expect(mail.subject).toBe('Reset your Example Corp password');
    expect(mail.text).not.toContain('/activate?token=');
    const token = linkToken(mail, 'reset-password');
    expect((await t.request.get(`/reset-password?token=${token}`)).status).toBe(200);
    const [event] = await waitForEvents(t, user.id, 'user_password_reset_email');
    expect(event).toMatchObject({ recipientEmail: email, success: true, initiatedBy: { type: 'admin' } });
  });

  it('on STAGED and SUSPENDED users answers 409 and sends nothing', async () => {
    const stagedEmail = address('staged');
    const suspendedEmail = address('suspended');
    const staged = await createUser(t, { emails: [{ value: stagedEmail, type: 'work' }] }, TOKENS.scim);
    const suspended = await createUser(
      t,
      { emails: [{ value: suspendedEmail, type: 'work' }], active: false },
      TOKENS.integration,
    );
    for (const user of [staged, suspended]) {
      const res = await t.admin().post(`/users/${user.id}/activation-email`, {});
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
    await expectNoMailTo(sink, stagedEmail, suspendedEmail);
  });

  it('on an unknown user answers 404', async () => {
    const res = await t.admin().post('/users/00000000-0000-4000-8000-000000000000/activation-email', {});
    expect(res.status).toBe(404);
  });

  it('needs an admin token', async () => {
    const { user } = await pendingUser();
    const res = await t.admin(TOKENS.scim).post(`/users/${user.id}/activation-email`, {});
    expect([401, 403]).toContain(res.status);
  });
});

describe.concurrent('POST /admin/v1/users/{id}/password-reset-email', () => {
  it('sends a reset link to an ACTIVE user; a newer one invalidates it', async () => {
    const { user, email } = await userWithPassword();
    expect((await t.admin().post(`/users/${user.id}/password-reset-email`, {})).status).toBe(200);
    const first = linkToken(await waitForMailTo(sink, email, 2), 'reset-password');
    expect((await t.admin().post(`/users/${user.id}/password-reset-email`, {})).status).toBe(200);
    const second = linkToken(await waitForMailTo(sink, email, 3), 'reset-password');
    expect((await t.request.get(`/reset-password?token=${first}`)).status).toBe(410);
    expect((await t.request.get(`/reset-password?token=${second}`)).status).toBe(200);
  });

  it('answers 409 for STAGED and SUSPENDED users and sends nothing', async () => {
    const stagedEmail = address('staged-reset');
    const suspendedEmail = address('suspended-reset');
    const staged = await createUser(
      t,
      { emails: [{ value: stagedEmail, type: 'work' }], password: PASSWORD },
      TOKENS.scim,
    );
    const suspended = await createUser(
      t,
      { emails: [{ value: suspendedEmail, type: 'work' }], password: PASSWORD, active: false },
      TOKENS.integration,
    );
    for (const user of [staged, suspended]) {
      const res = await t.admin().post(`/users/${user.id}/password-reset-email`, {});
      expect(res.status).toBe(409);
    }
    await expectNoMailTo(sink, stagedEmail, suspendedEmail);
  });
});
