import { describe, expect, it } from 'vitest';
import { useBrowserRoster, useChromium } from '../helpers/browser.js';
import { TOKENS } from '../helpers/roster.js';
import { createUser, getUser, lifecycleOf, unique, verify, waitForMailTo } from './lifecycleHelpers.js';

/**
 * The activation link from a real email, opened in real headless Chromium (Debian's `chromium`
 * package, installed by .ci/run). A missing browser fails the test: it is never skipped.
 */

const SCREENSHOT = '/tmp/roster-activation-page.png';

// The links in the emails must point at the real listening server.
const { t, sink, server } = useBrowserRoster((url) => ({
  mail: { orgName: 'Example Corp', portalUrl: `${url}/portal` },
}));
const browser = useChromium();

describe('the activation page in a real browser', () => {
  it('the emailed link sets the password once, with no CSP violations', { timeout: 60_000 }, async () => {
    const email = `${unique('browser')}@corp.example`;
    const user = await createUser(
      t,
      { givenName: 'Bea', emails: [{ value: email, type: 'work' }] },
      TOKENS.integration,
    );
    const mail = await waitForMailTo(sink, email);
    const link = /https?:\/\/\S+\/activate\?token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
    expect(link, mail.text).toBeDefined();
    expect(link?.startsWith(`${server.url}/activate?token=`)).toBe(true);

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // The 400 (form shown again) and 410 (used link) answers below are expected statuses.
      if (/status of (400|410)\b/.test(message.text())) return;
      if (message.type() === 'error' || /content security policy/i.test(message.text())) {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    const externalRequests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(server.url)) externalRequests.push(request.url());
    });

    const response = await page.goto(link as string);
    expect(response?.status()).toBe(200);
    await expect(page.title()).resolves.toContain('Activate your account');
    const password = page.getByLabel('New password');
    const confirm = page.getByLabel('Repeat the password');
    await expect(password.getAttribute('type')).resolves.toBe('password');
    await expect(confirm.getAttribute('type')).resolves.toBe('password');
    expect(await password.isVisible()).toBe(true);
    await expect(page.getByLabel('Username').inputValue()).resolves.toBe(user.userName);
    // The nonce-carrying stylesheet applied (a CSP block would leave the button unstyled).
    const buttonColour = await page
      .getByRole('button', { name: 'Activate account' })
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(buttonColour).toBe('rgb(31, 111, 235)');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The browser's own mismatch/policy round trip: the form comes back with the message.
    await password.fill('Chosen-Password-2024');
    await confirm.fill('Chosen-Password-2025');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Activate account' }).click()]);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('do not match');

    await page.getByLabel('New password').fill('Chosen-Password-2024');
    await page.getByLabel('Repeat the password').fill('Chosen-Password-2024');
    const [done] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/activate` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Activate account' }).click(),
    ]);
    expect(done.status()).toBe(200);
    await page.waitForLoadState('load');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Your account is active');
    await expect(page.getByRole('status').textContent()).resolves.toContain('You can now sign in');

    expect(lifecycleOf(await getUser(t, user.id)).passwordStatus).toBe('ACTIVE');
    expect((await verify(t, user.userName, 'Chosen-Password-2024')).status).toBe(200);

    const again = await page.goto(link as string);
    expect(again?.status()).toBe(410);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('This link is no longer valid');
    await expect(page.locator('form').count()).resolves.toBe(0);

    expect(problems).toEqual([]);
    expect(externalRequests).toEqual([]);
  });
});
