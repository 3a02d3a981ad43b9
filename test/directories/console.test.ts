import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, useBrowserRoster, useChromium } from '../helpers/browser.js';
import { createTestDirectory, type TestDirectory } from '../helpers/directories.js';
import { TOKENS } from '../helpers/roster.js';
import { createUser, LIFECYCLE, userBody } from '../lifecycle/lifecycleHelpers.js';

/**
 * The console's directories (README "Directories") in real headless Chromium: the Directories page
 * lists every directory with its counts, and the directory chosen there or in the header is the one
 * the other pages show (their calls go to /admin/v1/directories/{id}/…), kept for the tab in
 * sessionStorage. No CSP violation, no foreign request, no 404.
 */

const { t, server } = useBrowserRoster();
const browser = useChromium();

let north: TestDirectory;
let south: TestDirectory;
const NORTH_USERS = ['nora.north', 'ned.north'];
const SOUTH_USERS = ['sam.south'];
const DEFAULT_USERS = ['dee.default'];

beforeAll(async () => {
  north = await createTestDirectory(t, 'north', { name: 'North Ltd' });
  south = await createTestDirectory(t, 'south', { name: 'South plc' });
  for (const userName of NORTH_USERS) {
    const res = await north.scim().post('/Users', userBody({ userName, lifecycle: { state: 'ACTIVE' } }));
    expect(res.status, res.text).toBe(201);
  }
  const group = await north.scim().post('/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Northerners',
  });
  expect(group.status, group.text).toBe(201);
  for (const userName of SOUTH_USERS) {
    expect((await south.scim().post('/Users', userBody({ userName }))).status).toBe(201);
  }
  for (const userName of DEFAULT_USERS) await createUser(t, { userName });
});

/** The operators' API of the test Roster, with the configuration's admin token. */
function operator(method: 'patch' | 'delete', path: string, body?: object) {
  const test = t.request[method](`/admin/v1${path}`).set('Authorization', `Bearer ${TOKENS.admin}`);
  return body === undefined ? test : test.send(body);
}

async function openConsole() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const adminCalls: string[] = [];
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    // The only expected failure: the session asked for before signing in (401, below).
    if (message.type() === 'error' && !/status of 401\b/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url)) problems.push(`foreign request: ${request.url()}`);
    const { pathname, search } = new URL(request.url());
    if (pathname.startsWith('/admin/v1/')) adminCalls.push(`${request.method()} ${pathname}${search}`);
  });
  page.on('response', (response) => {
    const beforeSignIn = response.status() === 401 && new URL(response.url()).pathname === '/console/session';
    if (response.status() >= 400 && !beforeSignIn) problems.push(`${response.status()}: ${response.url()}`);
  });
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Admin token').fill(TOKENS.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  return { context, page, problems, adminCalls };
}

/** The user names the users page shows, once its list has answered. */
async function shownUsers(page: Page): Promise<string[]> {
  const list = page.locator('.table-wrap[aria-label="Users"]');
  await list.waitFor();
  return (await list.locator('tbody tr td:first-child').allTextContents()).sort();
}

async function expectUsers(page: Page, expected: string[]) {
  await expect.poll(() => shownUsers(page)).toEqual([...expected].sort());
}

describe('directories in the console', () => {
  it('lists the directories with their counts and SCIM base URLs', { timeout: 60_000 }, async () => {
    const { context, page, problems, adminCalls } = await openConsole();
    await page.getByRole('navigation').getByRole('link', { name: 'Directories' }).click();
    const region = page.locator('.table-wrap[aria-label="Directories"]');
    await region.waitFor();
    const rows = async () =>
      Object.fromEntries(
        await region
          .locator('tbody tr')
          .evaluateAll((trs) =>
            trs.map((tr) => [
              tr.children[0].textContent,
              [...tr.children].slice(1, 6).map((td) => td.textContent?.trim()),
            ]),
          ),
      );
    const table = await rows();
    expect(Object.keys(table).sort()).toEqual(['default', 'north', 'south']);
    expect(table.north).toEqual(['North Ltd', 'active', '2', '1', `${server.url}/directories/north/scim/v2`]);
    expect(table.south).toEqual(['South plc', 'active', '1', '0', `${server.url}/directories/south/scim/v2`]);
    expect(table.default).toEqual(['Default directory', 'active', '1', '0', `${server.url}/scim/v2`]);
    // The default directory is the current one until another is chosen.
    await expect(region.locator('tr[aria-current="true"] td').first().textContent()).resolves.toBe('default');
    expect(adminCalls).toContain('GET /admin/v1/directories');
    await expectAccessible(page);

    // A suspended directory says so in the list and in the header's selector.
    expect((await operator('patch', `/directories/${south.id}`, { status: 'suspended' })).status).toBe(200);
    try {
      await page.reload();
      await region.waitFor();
      expect((await rows()).south[1]).toBe('suspended');
      await expect(page.getByLabel('Directory').locator('option', { hasText: 'south' }).textContent()).resolves.toBe(
        'south (suspended)',
      );
    } finally {
      expect((await operator('patch', `/directories/${south.id}`, { status: 'active' })).status).toBe(200);
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  it(
    'shows the chosen directory in the other pages, kept for the tab across reloads',
    { timeout: 90_000 },
    async () => {
      const { context, page, problems, adminCalls } = await openConsole();
      // Before any choice: the default directory's users.
      await expectUsers(page, DEFAULT_USERS);

      // "Work in north" on the directories page: north's users, through north's admin API.
      await page.getByRole('navigation').getByRole('link', { name: 'Directories' }).click();
      await page.getByRole('button', { name: 'Work in south' }).waitFor();
      // The current directory (the default one) has no button.
      expect(await page.getByRole('button', { name: 'Work in default' }).count()).toBe(0);
      await page.getByRole('button', { name: 'Work in north' }).click();
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
      await expectUsers(page, NORTH_USERS);
      expect(adminCalls.some((c) => c.startsWith(`GET /admin/v1/directories/${north.id}/users?`))).toBe(true);
      // The counts are north's: its two ACTIVE users.
      await expect
        .poll(() => page.locator('.counts li').evaluateAll((lis) => lis.map((li) => li.textContent)))
        .toContain('2Active');
      expect(await page.getByLabel('Directory').inputValue()).toBe(north.id);
      const stored = await page.evaluate(() => sessionStorage.getItem('roster.console.directory'));
      expect(JSON.parse(stored ?? 'null')).toEqual({ id: north.id, slug: 'north' });

      // A user's page and an action act in the directory too (its CSRF-checked POST included).
      await page.getByRole('link', { name: 'nora.north' }).click();
      await page.getByRole('heading', { name: 'Actions' }).waitFor();
      await page.getByRole('button', { name: 'Suspend' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click();
      await expect.poll(() => page.locator('#action-result').textContent()).toBe('nora.north is now SUSPENDED.');
      const nora = await north.scim().get(`/Users?filter=${encodeURIComponent('userName eq "nora.north"')}`);
      expect(nora.body.Resources[0][LIFECYCLE].state).toBe('SUSPENDED');

      // The header's selector: south, from a user's page, lands on south's users list.
      await page.getByLabel('Directory').selectOption({ label: 'south' });
      await page.waitForURL(/#\/users$/);
      await expectUsers(page, SOUTH_USERS);

      // Kept across a reload of the tab.
      await page.reload();
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
      await expectUsers(page, SOUTH_USERS);
      await expect.poll(() => page.getByLabel('Directory').inputValue()).toBe(south.id);

      // The events page reads the chosen directory's log: south's user, none of north's.
      await page.getByRole('navigation').getByRole('link', { name: 'Events' }).click();
      await page.getByLabel('Type').selectOption('user_create');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      const events = page.getByRole('region', { name: 'Event log' });
      await expect.poll(() => events.locator('tbody tr').count()).toBe(1);
      await expect(events.textContent()).resolves.toContain('sam.south');

      // Back to the default directory: its users, through the unprefixed admin API.
      await page.getByLabel('Directory').selectOption({ label: 'default' });
      await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
      await expectUsers(page, DEFAULT_USERS);
      expect(await page.evaluate(() => sessionStorage.getItem('roster.console.directory'))).toBeNull();
      expect(adminCalls.at(-1)).toMatch(/^GET \/admin\/v1\/users(\/counts|\?)/);

      // Signing out forgets the choice.
      await page.getByLabel('Directory').selectOption({ label: 'north' });
      await expectUsers(page, NORTH_USERS);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin token').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('roster.console.directory'))).toBeNull();
      expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }))).not.toContain(TOKENS.admin);
      expect(problems).toEqual([]);
      await context.close();
    },
  );

  it('falls back to the default directory when the chosen one is deleted', { timeout: 60_000 }, async () => {
    const gone = await createTestDirectory(t, 'gone', { name: 'Gone' });
    expect((await gone.scim().post('/Users', userBody({ userName: 'ghost.gone' }))).status).toBe(201);
    const { context, page } = await openConsole();
    await page.getByLabel('Directory').selectOption({ label: 'gone' });
    await expectUsers(page, ['ghost.gone']);
    expect((await operator('delete', `/directories/${gone.id}`)).status).toBe(200);
    await page.reload();
    await expectUsers(page, DEFAULT_USERS);
    expect(await page.evaluate(() => sessionStorage.getItem('roster.console.directory'))).toBeNull();
    await expect(page.getByLabel('Directory').locator('option', { hasText: 'gone' }).count()).resolves.toBe(0);
    await context.close();
  });
});
