import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, useBrowserRoster, useChromium } from '../helpers/browser.js';
import { TOKENS } from '../helpers/roster.js';
import {
  createUser,
  getUser,
  lifecycleOf,
  PASSWORD,
  unique,
  verify,
  waitForMailTo,
} from '../lifecycle/lifecycleHelpers.js';

/**
 * The console in real headless Chromium (Debian's package, as the activation page test): sign in,
 * find a user created over SCIM by their alternate email, act on them and see the result in the
 * page, the database and the SMTP sink; events; settings; CSV preview then import; expiry and sign
 * out. No CSP violation, no request elsewhere, and the admin token nowhere after sign-in.
 * Screenshots of each page go to $CONSOLE_SCREENSHOTS (default: <tmp>/roster-console).
 */

const SHOTS = process.env.CONSOLE_SCREENSHOTS ?? path.join(os.tmpdir(), 'roster-console');
const MINUTE = 60_000;

let offsetMs = 0;
const { t, sink, server } = useBrowserRoster(
  () => ({
    passwords: { maxFailedAttempts: 2 },
    console: { session: { idleMinutes: 30, absoluteHours: 8 } },
  }),
  { now: () => new Date(Date.now() + offsetMs) },
);
const browser = useChromium();
beforeAll(() => {
  mkdirSync(SHOTS, { recursive: true });
});

/** A fresh page that records CSP reports, page errors, foreign requests and any answer holding the token. */
async function openConsole(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    if (message.type() === 'error' && !/status of (401|403|409)\b/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url)) problems.push(`foreign request: ${request.url()}`);
    if (request.url().includes(TOKENS.admin)) problems.push(`token in a URL: ${request.url()}`);
  });
  page.on('response', async (response) => {
    if (response.status() === 404) problems.push(`404: ${response.url()}`);
    const body = await response.text().catch(() => '');
    if (body.includes(TOKENS.admin)) problems.push(`token in the answer of ${response.url()}`);
  });
  await page.goto(`${server.url}/console`);
  return { context, page, problems };
}

async function signIn(page: Page) {
  await page.getByLabel('Admin token').fill(TOKENS.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
}

async function confirm(page: Page, label: string) {
  await page.getByRole('dialog').getByRole('button', { name: label }).click();
}

async function shot(page: Page, name: string) {
  await expectAccessible(page);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function expectNoTokenStored(page: Page) {
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  expect(stored).not.toContain(TOKENS.admin);
  expect(await page.evaluate(() => document.cookie)).toBe(''); // the session cookie is HttpOnly
  expect(page.url()).not.toContain(TOKENS.admin);
}

describe('the admin console in a browser', () => {
  it(
    'signs in, finds a user by alternate email, acts on them, reads events and settings, signs out',
    { timeout: 90_000 },
    async () => {
      const name = unique('bea');
      const alternate = `${name}.home@home.example`;
      const staged = await createUser(t, {
        userName: name,
        givenName: 'Bea',
        lifecycle: { state: 'STAGED', alternateEmail: alternate },
      });
      const lockedName = unique('lou');
      const locked = await createUser(t, { userName: lockedName, password: PASSWORD, lifecycle: { state: 'ACTIVE' } });
      for (let i = 0; i < 2; i++) expect((await verify(t, lockedName, 'wrong-password')).status).toBe(401);
      expect(lifecycleOf(await getUser(t, locked.id)).locked).toBe(true);

      const { context, page, problems } = await openConsole();
      expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
      await shot(page, 'sign-in');
      await page.getByLabel('Admin token').fill('not-the-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toBe('This is not a valid admin token');
      await signIn(page);
      await expectNoTokenStored(page);

      // Search as you type: a piece of the alternate email finds the user.
      await page.getByLabel('Search').fill(`${name}.home@`);
      const link = page.getByRole('link', { name });
      await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
      await link.waitFor();
      await expect(page.locator('.counts').textContent()).resolves.toMatch(/Staged/);
      await shot(page, 'users');

      // Activate now, to the alternate address.
      await link.click();
      await page.getByRole('heading', { name: 'Actions' }).waitFor();
      await page.getByLabel('Activation email to').selectOption('alternate');
      await page.getByRole('button', { name: 'Activate now' }).click();
      await confirm(page, 'Activate');
      await expect.poll(() => page.locator('#action-result').textContent()).toBe(`${name} is now ACTIVE.`);
      expect(lifecycleOf(await getUser(t, staged.id)).state).toBe('ACTIVE');
      await waitForMailTo(sink, alternate);

      // Resend the activation email to the company address, then see both in "Emails sent".
      const company = `${name}@corp.example`;
      await page.getByLabel('Send to').selectOption('company');
      await page.getByRole('button', { name: 'Resend activation email' }).click();
      await confirm(page, 'Send');
      await expect
        .poll(() => page.locator('#action-result').textContent())
        .toBe(`Activation email queued for ${company}.`);
      await waitForMailTo(sink, company);
      await expect
        .poll(
          async () => {
            await page.reload();
            await page.getByRole('heading', { name: 'Emails sent' }).waitFor();
            return page.getByRole('region', { name: 'Emails sent to this user' }).textContent();
          },
          { timeout: 15_000 },
        )
        .toMatch(new RegExp(`${alternate}.*Delivered|${company}.*Delivered`));
      await shot(page, 'user');

      // Schedule a suspension, see it listed, cancel it.
      await page.getByLabel('Scheduled change').selectOption('SUSPENDED');
      await page.getByLabel('At (your local time)').fill('2030-01-15T09:30');
      await page.getByRole('button', { name: 'Schedule', exact: true }).click();
      await confirm(page, 'Schedule');
      await expect.poll(() => page.locator('#action-result').textContent()).toMatch(/^Scheduled: SUSPENDED at /);
      expect(lifecycleOf(await getUser(t, staged.id)).scheduledSuspension).toBeDefined();
      await page.getByRole('button', { name: 'Cancel the scheduled suspension' }).click();
      await confirm(page, 'Cancel schedule');
      await expect.poll(() => page.locator('#action-result').textContent()).toBe('Schedule cancelled.');
      expect(lifecycleOf(await getUser(t, staged.id)).scheduledSuspension).toBeUndefined();

      // An API error is shown in its words: an alternate email another user already has.
      await page.getByLabel('Alternate email').fill(`${lockedName}@corp.example`);
      await page.getByRole('button', { name: 'Save alternate email' }).click();
      await confirm(page, 'Save');
      await expect.poll(() => page.locator('#action-result.error').count()).toBe(1);
      expect(await page.locator('#action-result').textContent()).toMatch(/already|taken|unique/i);
      expect(lifecycleOf(await getUser(t, staged.id)).alternateEmail).toBe(alternate);

      // Unlock the locked user.
      await page.goto(`${server.url}/console#/users/${locked.id}`);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await confirm(page, 'Unlock');
      await expect.poll(() => page.locator('#action-result').textContent()).toBe(`${lockedName} is unlocked.`);
      expect(lifecycleOf(await getUser(t, locked.id)).locked).toBe(false);
      expect((await verify(t, lockedName, PASSWORD)).status).toBe(200);

      // Events, filtered by type and actor.
      await page.getByRole('navigation').getByRole('link', { name: 'Events' }).click();
      await page.getByLabel('Type').selectOption('user_unlocked');
      await page.getByLabel('Actor').fill('console:admin');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      const events = page.getByRole('region', { name: 'Event log' });
      await expect.poll(() => events.locator('tbody tr').count()).toBe(1);
      await expect(events.textContent()).resolves.toContain(lockedName);
      await shot(page, 'events');

      await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
      await page.locator('#reload-status').waitFor();
      const settings = await page.locator('main').textContent();
      expect(settings).toContain('integration');
      expect(settings).not.toContain(TOKENS.admin);
      await shot(page, 'settings');

      // Idle past the timeout: the next call ends on the sign-in page.
      offsetMs = 31 * MINUTE;
      await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('session has ended');
      offsetMs = 0;

      // Sign in again, then sign out: the server forgets the session.
      await signIn(page);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin token').waitFor();
      const after = await page.evaluate(async () => (await fetch('/admin/v1/users/counts')).status);
      expect(after).toBe(401);
      await expectNoTokenStored(page);
      expect(problems).toEqual([]);
      await context.close();
    },
  );

  it('previews a CSV import per line, then imports it with progress and a report', { timeout: 60_000 }, async () => {
    const existing = await createUser(t, { userName: unique('csv-existing'), givenName: 'Old' });
    const fresh = unique('csv-new');
    const csv = [
      'Username,FirstName,LastName,Email',
      `${fresh},Nia,New,${fresh}@corp.example`,
      `${existing.userName},Changed,Lee,${existing.userName}@corp.example`,
      'bad user,,,not-an-email',
    ].join('\n');
    const { context, page, problems } = await openConsole(360);
    await signIn(page);
    // 360 px wide: the page itself does not scroll sideways (tables scroll inside their box).
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.getByRole('navigation').getByRole('link', { name: 'CSV import' }).click();
    await page
      .getByLabel('CSV file')
      .setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    const preview = page.getByRole('region', { name: 'Preview per line' });
    await preview.waitFor();
    const rows = await preview.locator('tbody tr').allTextContents();
    expect(rows[0]).toContain('would create');
    expect(rows[1]).toContain('would update');
    expect(rows[2]).toMatch(/failed.+/);
    expect(await t.db.collection('users').countDocuments({ userName: fresh })).toBe(0);
    await shot(page, 'import-preview');

    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await confirm(page, 'Import');
    await page.getByText('Import done').waitFor();
    expect(await page.locator('progress').evaluate((el) => (el as HTMLProgressElement).value)).toBe(1);
    await expect(page.getByRole('status').textContent()).resolves.toContain('3 lines, 1 created, 1 updated');
    expect(await t.db.collection('users').countDocuments({ userName: fresh })).toBe(1);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByText('Download the report').click(),
    ]);
    const report = await import('node:fs/promises').then(async (fs) => fs.readFile((await download.path())!, 'utf8'));
    expect(report).toContain(`2,${fresh},created`);
    expect(report).toMatch(/4,,failed,/);
    await shot(page, 'import-done');
    expect(problems).toEqual([]);
    await context.close();
  });
});
