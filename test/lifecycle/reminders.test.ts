import { describe, expect, it } from 'vitest';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  linkToken,
  mailsTo,
  movableClock,
  PASSWORD,
  sleep,
  SETTLE_MS,
  unique,
  verify,
  waitForEvents,
  waitForMailTo,
} from './lifecycleHelpers.js';

/**
 * README "Emails": the daily reminder for users who have not logged in for
 * reminders.noLoginDays, including users who never activated, at most once per interval.
 * The clock is injected; the daily job's body (lifecycle.sendReminders) is run by the test.
 */

const clock = movableClock();
const { t, sink } = useMailRoster(
  { mail: { orgName: 'Example Corp' }, reminders: { noLoginDays: 3, hourUtc: 9 } },
  { now: clock.now },
);

const address = (label: string) => `${unique(label)}@corp.example`;
const reminderSubject = 'Your Example Corp account is waiting for you';

describe('no-login reminders', () => {
  it('remind users who have not logged in for noLoginDays, once per interval', async () => {
    // Day 0: the users are created (and the ones with an email get it).
    const neverActivatedCompany = address('never');
    const neverActivatedAlternate = `${unique('never')}@home.example`;
    const neverActivated = await createUser(
      t,
      {
        givenName: 'Nora',
        emails: [{ value: neverActivatedCompany, type: 'work' }],
        lifecycle: { alternateEmail: neverActivatedAlternate },
      },
      TOKENS.integration,
    );
    const neverLoggedIn = address('nologin');
    const neverLoggedInUser = await createUser(
      t,
      { emails: [{ value: neverLoggedIn, type: 'work' }], password: PASSWORD },
      TOKENS.integration,
    );
    const loggedInLongAgo = address('longago');
    const longAgoUser = await createUser(
      t,
      { emails: [{ value: loggedInLongAgo, type: 'work' }], password: PASSWORD },
      TOKENS.integration,
    );
    expect((await verify(t, longAgoUser.userName, PASSWORD)).status).toBe(200);
    const recent = address('recent');
    const recentUser = await createUser(
      t,
      { emails: [{ value: recent, type: 'work' }], password: PASSWORD },
      TOKENS.integration,
    );
    const staged = address('staged');
    await createUser(t, { emails: [{ value: staged, type: 'work' }] }, TOKENS.scim);
    const suspended = address('suspended');
    await createUser(t, { emails: [{ value: suspended, type: 'work' }], active: false }, TOKENS.integration);
    // The emails of day 0: activation for the first, welcome for the three with a password.
    for (const to of [neverActivatedAlternate, neverLoggedIn, loggedInLongAgo, recent]) await waitForMailTo(sink, to);
    const firstLink = linkToken(mailsTo(sink, neverActivatedAlternate)[0]);

    // Day 3.5: one user logs in.
    clock.advanceDays(3.5);
    expect((await verify(t, recentUser.userName, PASSWORD)).status).toBe(200);

    // Day 4: the daily run.
    clock.advanceDays(0.5);
    expect(await t.roster.lifecycle.sendReminders()).toBe(3);
    const reminder = await waitForMailTo(sink, neverActivatedAlternate, 2);
    expect(reminder.subject).toBe(reminderSubject);
    expect(reminder.text).toContain('Hello Nora,');
    expect(reminder.text).toContain(neverActivated.userName);
    // A user who never activated gets a working activation link (which replaces the first one).
    const reminderLink = linkToken(reminder);
    expect(reminder.html).toContain(`/activate?token=${reminderLink}`);
    expect((await t.request.get(`/activate?token=${reminderLink}`)).status).toBe(200);
    expect((await t.request.get(`/activate?token=${firstLink}`)).status).toBe(410);

    const activatedReminder = await waitForMailTo(sink, neverLoggedIn, 2);
    expect(activatedReminder.subject).toBe(reminderSubject);
    expect(activatedReminder.text).not.toContain('/activate?token=');
    expect((await waitForMailTo(sink, loggedInLongAgo, 2)).subject).toBe(reminderSubject);
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, recent)).toHaveLength(1);
    expect(mailsTo(sink, staged)).toHaveLength(0);
    expect(mailsTo(sink, suspended)).toHaveLength(0);
    expect(mailsTo(sink, neverActivatedCompany)).toHaveLength(0);

    const [event] = await waitForEvents(t, neverActivated.id, 'user_reminder_email');
    expect(event).toMatchObject({
      recipientEmail: neverActivatedAlternate,
      success: true,
      initiatedBy: { type: 'system' },
    });
    expect(await waitForEvents(t, neverLoggedInUser.id, 'user_reminder_email')).toHaveLength(1);

    // Later the same day: nothing new.
    clock.advanceDays(0.1);
    expect(await t.roster.lifecycle.sendReminders()).toBe(0);
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, neverActivatedAlternate)).toHaveLength(2);
    expect(mailsTo(sink, neverLoggedIn)).toHaveLength(2);
    expect(mailsTo(sink, loggedInLongAgo)).toHaveLength(2);
    expect(mailsTo(sink, recent)).toHaveLength(1);

    // Two days later: still within the interval since the last reminder.
    clock.advanceDays(2);
    expect(await t.roster.lifecycle.sendReminders()).toBe(0);
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, neverLoggedIn)).toHaveLength(2);

    // Day 7.6: a full interval after the reminder, and more than 3 days after the recent login.
    clock.advanceDays(1.5);
    expect(await t.roster.lifecycle.sendReminders()).toBe(4);
    await waitForMailTo(sink, neverLoggedIn, 3);
    await waitForMailTo(sink, neverActivatedAlternate, 3);
    await waitForMailTo(sink, recent, 2);
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, loggedInLongAgo)).toHaveLength(3);
    expect(mailsTo(sink, staged)).toHaveLength(0);
    expect(await eventsOf(t, neverLoggedInUser.id, 'user_reminder_email')).toHaveLength(2);
  });

  it('is a recurring Agenda job at reminders.hourUtc', async () => {
    const job = await t.db.collection('agendaJobs').findOne({ name: 'no-login-reminders' });
    expect(job).toMatchObject({ type: 'single', repeatInterval: '0 9 * * *', repeatTimezone: 'UTC' });
  });
});
