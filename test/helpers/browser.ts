import { existsSync } from 'node:fs';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { beforeAll, expect } from 'vitest';
import type { Json } from '../../src/config/index.js';
import { useFixture } from './fixture.js';
import { useMailRoster, type TestRoster, type TestRosterOptions } from './roster.js';
import { startLoopbackServer, type LoopbackServer } from './server.js';
import type { SmtpSink } from './smtpSink.js';

/** Debian's `chromium` package (installed by .ci/run), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium; a missing browser is an error (a browser test is never skipped). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; install Debian's package ` +
        '(apt-get update && apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** This file's Chromium: launched before its tests, closed after them (see useFixture). */
export function useChromium(): Browser {
  return useFixture(launchChromium, (browser) => browser.close());
}

/**
 * A Roster for a browser: served on a loopback port that its links point at (server.publicUrl is
 * `server.url`), its emails going to an SMTP sink, its jobs running (see useMailRoster). The
 * overrides are given the server's address.
 */
export function useBrowserRoster(
  overrides: (url: string) => Json = () => ({}),
  options: TestRosterOptions = {},
): { t: TestRoster; sink: SmtpSink; server: LoopbackServer } {
  // Listen first, then build Roster with the address, then hand the server to Roster.
  const server = useFixture(
    () => startLoopbackServer(),
    (s) => s.close(),
  );
  const { t, sink } = useMailRoster(() => {
    const given = overrides(server.url);
    return { ...given, server: { publicUrl: server.url, ...(given.server as Json | undefined) } };
  }, options);
  beforeAll(() => server.serve(t.roster.app.callback()));
  return { t, sink, server };
}

/**
 * axe-core's WCAG 2 A and AA rules on the page as shown. Its source is evaluated over the DevTools
 * protocol, which the page's CSP does not govern, so the console's policy stays as served.
 */
export async function expectAccessible(page: Page) {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  expect(violations).toEqual([]);
}
