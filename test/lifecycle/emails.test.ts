import { describe, expect, it } from 'vitest';
import { EMAILS_COLLECTION, type OutboxEmail } from '../../src/jobs/index.js';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  expectNoMailTo,
  linkToken,
  mailsTo,
  onlyMailTo,
  PASSWORD,
  patchUser,
  SETTLE_MS,
  sleep,
  unique,
  USER,
  waitForEvents,
  waitForMailTo,
} from './lifecycleHelpers.js';

/**
 * README "Emails": which email a transition to ACTIVE sends, to whom, with what content, once.
 * Default state: manual STAGED, integration ACTIVE, bulk ACTIVE (overridden here for /Bulk).
 */

const { t, sink } = useMailRoster({
  mail: { orgName: 'Example Corp', portalUrl: 'https://portal.example.com' },
  users: { defaultState: { manual: 'STAGED', bulk: 'ACTIVE', integration: 'ACTIVE' } },
});

const address = (label: string) => `${unique(label)}@corp.example`;
const privateAddress = (label: string) => `${unique(label)}@home.example`;

describe.concurrent('activation email for a user without a password', () => {
  it('goes to the alternate email when one is set', async () => {
    const company = address('ann');
    const alternate = privateAddress('ann');
    const user = await createUser(
      t,
      { emails: [{ value: company, type: 'work', primary: true }], lifecycle: { alternateEmail: alternate } },
      TOKENS.integration,
    );
    const mail = await onlyMailTo(sink, alternate);
    expect(mailsTo(sink, company)).toHaveLength(0);
    expect(linkToken(mail)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [event] = await waitForEvents(t, user.id, 'user_activation_email');
    expect(event).toMatchObject({
      recipientEmail: alternate,
      success: true,
      initiatedBy: { type: 'scim', name: 'hr-integration' },
      resource: { type: 'User', id: user.id, username: user.userName },
    });
  });

  it('goes to the primary company email when there is no alternate email', async () => {
    const [home, work, primary] = [address('home'), address('work'), address('primary')];
    await createUser(
      t,
      {
        emails: [
          { value: home, type: 'home' },
          { value: work, type: 'work' },
          { value: primary, type: 'other', primary: true },
        ],
      },
      TOKENS.integration,
    );
    await onlyMailTo(sink, primary);
    expect(mailsTo(sink, home).length + mailsTo(sink, work).length).toBe(0);
  });

  it('goes to the work email when none is primary', async () => {
    const [home, work] = [address('home'), address('work')];
    await createUser(
      t,
      {
        emails: [
          { value: home, type: 'home' },
          { value: work, type: 'work' },
        ],
      },
      TOKENS.integration,
    );
    await onlyMailTo(sink, work);
    expect(mailsTo(sink, home)).toHaveLength(0);
  });

  it('goes to the first email when none is primary or work', async () => {
    const [first, second] = [address('first'), address('second')];
    await createUser(t, { emails: [{ value: first }, { value: second, type: 'home' }] }, TOKENS.integration);
    await onlyMailTo(sink, first);
    expect(mailsTo(sink, second)).toHaveLength(0);
  });

  it('says where it was sent, and the company address when sent to the alternate address', async () => {
    const company = address('carla');
    const alternate = privateAddress('carla');
    const user = await createUser(
      t,
      {
        givenName: 'Carla',
        emails: [{ value: company, type: 'work', primary: true }],
        lifecycle: { alternateEmail: alternate },
      },
      TOKENS.integration,
    );
    const mail = await onlyMailTo(sink, alternate);
    const link = `http://roster.test/activate?token=${linkToken(mail)}`;
    expect(mail.subject).toBe('Activate your Example Corp account');
    for (const body of [mail.text, mail.html]) {
      expect(body).toContain(link);
      expect(body).toContain(user.userName);
      expect(body).toContain('Carla');
      expect(body).toContain(alternate);
      expect(body).toContain(company);
      expect(body).toContain('14 days');
    }
    expect(mail.text).toContain(`This email was sent to ${alternate}.`);
    expect(mail.text).toContain(`Your company email address is ${company}.`);
    expect(mail.html).toContain(`href="${link}"`);
  });

  it('sent to the company address, it does not repeat the company address', async () => {
    const company = address('dan');
    await createUser(t, { givenName: 'Dan', emails: [{ value: company, type: 'work' }] }, TOKENS.integration);
    const mail = await onlyMailTo(sink, company);
    expect(mail.text).toContain(`This email was sent to ${company}.`);
    expect(mail.text).not.toContain('Your company email address is');
    expect(mail.html).not.toContain('Your company email');
    expect(mail.text).toContain('Hello Dan,');
  });

  it('HTML-escapes user values in the HTML body (and keeps them as they are in the text)', async () => {
    const company = address('escape');
    await createUser(
      t,
      { givenName: '<b>Ann & Co</b>', familyName: '"Quote"', emails: [{ value: company, type: 'work' }] },
      TOKENS.integration,
    );
    const mail = await onlyMailTo(sink, company);
    expect(mail.html).not.toContain('<b>Ann');
    expect(mail.html).not.toContain('Ann & Co');
    expect(mail.html).toMatch(/(&lt;|&#60;|&#x3c;)b(&gt;|&#62;|&#x3e;)Ann (&amp;|&#38;|&#x26;) Co/i);
    expect(mail.text).toContain('Hello <b>Ann & Co</b>,');
  });
});

describe.concurrent('welcome email for a user with a password', () => {
  it('a SCIM password at create sends the welcome email to the company address, not the alternate one', async () => {
    const company = address('wendy');
    const alternate = privateAddress('wendy');
    const user = await createUser(
      t,
      {
        givenName: 'Wendy',
        password: PASSWORD,
        emails: [{ value: company, type: 'work', primary: true }],
        lifecycle: { alternateEmail: alternate },
      },
      TOKENS.integration,
    );
    const mail = await onlyMailTo(sink, company);
    expect(mailsTo(sink, alternate)).toHaveLength(0);
    expect(mail.subject).toBe('Welcome to Example Corp');
    expect(mail.text).toContain(user.userName);
    expect(mail.text).toContain('Hello Wendy,');
    expect(mail.text).toContain(`This email was sent to ${company}.`);
    expect(mail.text).not.toContain('/activate?token=');
    expect(mail.text).not.toContain(PASSWORD);
    expect(mail.html).not.toContain(PASSWORD);
    const [event] = await waitForEvents(t, user.id, 'user_welcome_email');
    expect(event).toMatchObject({ recipientEmail: company, success: true });
    expect(await eventsOf(t, user.id, 'user_activation_email')).toEqual([]);
  });

  for (const authority of ['activeDirectory', 'scim']) {
    it(`passwordAuthority ${authority}: welcome email, and no activation or reset links (409)`, async () => {
      const company = address(authority);
      const user = await createUser(
        t,
        { emails: [{ value: company, type: 'work' }], lifecycle: { passwordAuthority: authority } },
        TOKENS.integration,
      );
      const mail = await onlyMailTo(sink, company);
      expect(mail.subject).toBe('Welcome to Example Corp');
      expect(mail.text).not.toContain('token=');
      for (const action of ['activation-email', 'password-reset-email']) {
        const res = await t.admin().post(`/users/${user.id}/${action}`, {});
        expect(res.status, action).toBe(409);
        expect(res.body.error.message).toContain(authority);
      }
      await sleep(SETTLE_MS);
      expect(mailsTo(sink, company)).toHaveLength(1);
    });
  }
});

describe.concurrent('no email for staged and suspended users', () => {
  it('a STAGED user, a user created SUSPENDED, and an ACTIVE user being suspended get none', async () => {
    const staged = address('staged');
    const suspended = address('suspended');
    await createUser(t, { emails: [{ value: staged, type: 'work' }] }, TOKENS.scim);
    await createUser(t, { emails: [{ value: suspended, type: 'work' }], active: false }, TOKENS.integration);
    await expectNoMailTo(sink, staged, suspended);

    const active = address('tobesuspended');
    const user = await createUser(t, { emails: [{ value: active, type: 'work' }] }, TOKENS.integration);
    await waitForMailTo(sink, active);
    await patchUser(t, user.id, [{ op: 'replace', path: 'active', value: false }]);
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, active)).toHaveLength(1);
  });
});

describe.concurrent('emails of admin activation', () => {
  it('destination "company" overrides the alternate address once; a later resend goes to the alternate again', async () => {
    const company = address('erin');
    const alternate = privateAddress('erin');
    const user = await createUser(t, {
      emails: [{ value: company, type: 'work' }],
      lifecycle: { alternateEmail: alternate },
    });
    const res = await t.admin().post(`/users/${user.id}/activate`, { destination: 'company' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain('destination');
    const mail = await onlyMailTo(sink, company);
    expect(linkToken(mail)).toBeTruthy();
    expect(mailsTo(sink, alternate)).toHaveLength(0);

    const resend = await t.admin().post(`/users/${user.id}/activation-email`, {});
    expect(resend.status, JSON.stringify(resend.body)).toBe(200);
    await onlyMailTo(sink, alternate);
    expect(mailsTo(sink, company)).toHaveLength(1);
    const events = await waitForEvents(t, user.id, 'user_activation_email', 2);
    expect(events.map((e) => `${e.recipientEmail} ${e.initiatedBy.type} ${e.success}`).sort()).toEqual(
      [`${alternate} admin true`, `${company} admin true`].sort(),
    );
  });

  it('destination "alternate" sends to the alternate address', async () => {
    const company = address('fay');
    const alternate = privateAddress('fay');
    const user = await createUser(t, {
      emails: [{ value: company, type: 'work' }],
      lifecycle: { alternateEmail: alternate },
    });
    expect((await t.admin().post(`/users/${user.id}/activate`, { destination: 'alternate' })).status).toBe(200);
    await onlyMailTo(sink, alternate);
    expect(mailsTo(sink, company)).toHaveLength(0);
  });

  it('an explicit address is used once and not stored', async () => {
    const company = address('gus');
    const explicit = `${unique('gus-manager')}@partner.example`;
    const user = await createUser(t, { emails: [{ value: company, type: 'work' }] });
    expect((await t.admin().post(`/users/${user.id}/activate`, { destination: explicit })).status).toBe(200);
    const mail = await onlyMailTo(sink, explicit);
    expect(mail.text).toContain(`This email was sent to ${explicit}.`);
    expect(mail.text).toContain(`Your company email address is ${company}.`);
    expect(mailsTo(sink, company)).toHaveLength(0);
    const stored = await t.scim().get(`/Users/${user.id}`);
    expect(JSON.stringify(stored.body)).not.toContain(explicit);

    expect((await t.admin().post(`/users/${user.id}/activation-email`, {})).status).toBe(200);
    await onlyMailTo(sink, company);
    expect(mailsTo(sink, explicit)).toHaveLength(1);
  });

  it('an invalid destination is a 400 and changes nothing', async () => {
    const user = await createUser(t);
    const res = await t.admin().post(`/users/${user.id}/activate`, { destination: 'not an address' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toEqual(expect.any(String));
    const get = await t.scim().get(`/Users/${user.id}`);
    expect(get.body.active).toBe(false);
  });

  it('sendEmail:false activates without any email', async () => {
    const company = address('quiet');
    const user = await createUser(t, { emails: [{ value: company, type: 'work' }] });
    const res = await t.admin().post(`/users/${user.id}/activate`, { sendEmail: false });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
    await expectNoMailTo(sink, company);
    expect(await eventsOf(t, user.id, 'user_activation_email')).toEqual([]);
    expect(await eventsOf(t, user.id, 'user_activated')).toHaveLength(1);
  });
});

describe.concurrent('users created through /Bulk', () => {
  it('with an ACTIVE default for bulk, each gets its activation email', async () => {
    const a = address('bulk-a');
    const b = address('bulk-b');
    const res = await t.scim(TOKENS.bulk).post('/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [a, b].map((email, i) => ({
        method: 'POST',
        path: '/Users',
        bulkId: `b${i}`,
        data: { schemas: [USER], userName: unique('bulk'), emails: [{ value: email, type: 'work' }] },
      })),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.Operations.map((op: { status: string }) => op.status)).toEqual(['201', '201']);
    const [mailA] = await Promise.all([onlyMailTo(sink, a), onlyMailTo(sink, b)]);
    expect(mailA.subject).toBe('Activate your Example Corp account');
  });
});

describe.concurrent('delivery', () => {
  it('each email is one outbox document, sent once, with its body cleared after sending', async () => {
    const company = address('outbox');
    const user = await createUser(t, { emails: [{ value: company, type: 'work' }] }, TOKENS.integration);
    await onlyMailTo(sink, company);
    await waitForEvents(t, user.id, 'user_activation_email');
    const docs = await t.db.collection<OutboxEmail>(EMAILS_COLLECTION).find({ userId: user.id }).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ status: 'sent', attempts: 1, subject: null, text: null, html: null });
  });
});

// The retry backoff (30 s, doubling) is a createJobs option that neither config nor createRoster
// reaches, so the attempts are driven one by one through jobs.sendEmailNow.
describe('SMTP failures', () => {
  // A sink of its own: failNext() must not hit the emails of the other tests. Not started: no job
  // runs by itself, so the test decides when each delivery attempt happens.
  const { t: paused, sink: failing } = useMailRoster({ mail: { maxAttempts: 3 } }, { start: false });

  async function outboxEmailOf(userId: string) {
    const docs = await paused.db.collection<OutboxEmail>(EMAILS_COLLECTION).find({ userId }).toArray();
    expect(docs).toHaveLength(1);
    return docs[0];
  }
  /** Stands in for the backoff passing (30 s, 60 s, …) without waiting for it. */
  const makeDue = (id: string) =>
    paused.db
      .collection<OutboxEmail>(EMAILS_COLLECTION)
      .updateOne({ _id: id }, { $set: { nextAttemptAt: new Date() } });

  it('a temporary failure is retried, then the email is sent once and recorded once', async () => {
    const company = address('retry');
    const user = await createUser(paused, { emails: [{ value: company, type: 'work' }] }, TOKENS.integration);
    const email = await outboxEmailOf(user.id);
    failing.failNext(2);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('retry');
    const afterFirst = await outboxEmailOf(user.id);
    expect(afterFirst.status).toBe('pending');
    expect(afterFirst.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 20_000);
    // Not due yet: another attempt now does nothing.
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('skipped');
    await makeDue(email._id);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('retry');
    await makeDue(email._id);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('sent');
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('skipped');
    expect(mailsTo(failing, company)).toHaveLength(1);
    const events = await eventsOf(paused, user.id, 'user_activation_email');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ recipientEmail: company, success: true, details: { attempts: 3 } });
  });

  it('two attempts at once send one email', async () => {
    const company = address('race');
    const user = await createUser(paused, { emails: [{ value: company, type: 'work' }] }, TOKENS.integration);
    const email = await outboxEmailOf(user.id);
    const outcomes = await Promise.all([
      paused.roster.jobs.sendEmailNow(email._id),
      paused.roster.jobs.sendEmailNow(email._id),
      paused.roster.jobs.sendEmailNow(email._id),
    ]);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    await sleep(200);
    expect(mailsTo(failing, company)).toHaveLength(1);
    expect(await eventsOf(paused, user.id, 'user_activation_email')).toHaveLength(1);
  });

  it('failing every attempt ends as a failed event with the recipient', async () => {
    const company = address('fail');
    const user = await createUser(paused, { emails: [{ value: company, type: 'work' }] }, TOKENS.integration);
    const email = await outboxEmailOf(user.id);
    failing.failNext(3);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('retry');
    await makeDue(email._id);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('retry');
    await makeDue(email._id);
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('failed');
    expect(await paused.roster.jobs.sendEmailNow(email._id)).toBe('skipped');
    failing.failNext(0);
    expect(mailsTo(failing, company)).toHaveLength(0);
    const events = await eventsOf(paused, user.id, 'user_activation_email');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ recipientEmail: company, success: false });
    expect(String(events[0].details?.error)).toMatch(/451|try again/i);
    expect((await outboxEmailOf(user.id)).status).toBe('failed');
  });
});
