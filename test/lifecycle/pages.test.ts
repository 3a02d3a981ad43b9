import { describe, expect, it } from 'vitest';
import {
  createNonce,
  renderDonePage,
  renderInvalidLinkPage,
  renderSetPasswordPage,
  securityHeaders,
} from '../../src/lifecycle/pages.js';

const nonce = 'bm9uY2Utdmx1ZQ==';
const policy = { minLength: 12, maxLength: 256, requireCharacterClasses: 3 };

function expectSelfContained(html: string) {
  expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|style="/i);
  // The only <style> carries the nonce.
  expect(html.match(/<style[^>]*>/g)).toEqual([`<style nonce="${nonce}">`]);
}

describe('end-user pages', () => {
  it('renders the activation form', () => {
    const html = renderSetPasswordPage({
      kind: 'activate',
      token: 'tok_123-ABC',
      orgName: 'Example Corp',
      username: 'ann',
      nonce,
      policy,
    });
    expectSelfContained(html);
    expect(html).toContain('<form method="post" action="/activate">');
    expect(html).toContain('<input type="hidden" name="token" value="tok_123-ABC">');
    expect(html).toMatch(
      /<label for="password">[^<]+<\/label>\n<input type="password" id="password" name="password" autocomplete="new-password" required minlength="12" maxlength="256"/,
    );
    expect(html).toMatch(
      /<label for="confirm">[^<]+<\/label>\n<input type="password" id="confirm" name="confirm" autocomplete="new-password"/,
    );
    expect(html).toContain('autocomplete="username"');
    expect(html).toContain('role="alert" aria-live="assertive"');
    expect(html).toContain('id="password-hint"');
    expect(html).toContain('<title>Activate your account – Example Corp</title>');
    expect(html).not.toContain('aria-invalid');
  });

  it('renders the reset form with an error', () => {
    const html = renderSetPasswordPage({
      kind: 'reset',
      token: 't',
      orgName: 'Example Corp',
      username: 'ann',
      nonce,
      error: 'The passwords do not match.',
    });
    expectSelfContained(html);
    expect(html).toContain('action="/reset-password"');
    expect(html).toContain('aria-live="assertive">The passwords do not match.</div>');
    expect(html).toContain('aria-invalid="true"');
  });

  it('escapes everything it is given', () => {
    const html = renderSetPasswordPage({
      kind: 'activate',
      token: '"><script>x</script>',
      orgName: '<b>Org</b>',
      username: '<img src=x onerror=alert(1)>',
      nonce,
      error: '<i>bad</i>',
    });
    expect(html).not.toContain('<script>x');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>Org');
    expect(html).not.toContain('<i>bad');
    expect(html).toContain('value="&#60;img src=x onerror=alert(1)&#62;"');
    expect(html).toContain('value="&#34;&#62;&#60;script&#62;x&#60;/script&#62;"');
  });

  it('renders the done and invalid-link pages', () => {
    const done = renderDonePage({ kind: 'activate', orgName: 'Example Corp', nonce });
    expectSelfContained(done);
    expect(done).toContain('Your account is active');
    const withPortal = renderDonePage({ kind: 'reset', orgName: 'Example Corp', nonce, portalUrl: '/portal' });
    expect(withPortal).toContain('<a href="/portal">Go to Example Corp</a>');
    expect(withPortal).toContain('Your password has been changed');

    const invalid = renderInvalidLinkPage({ orgName: 'Example Corp', nonce });
    expectSelfContained(invalid);
    expect(invalid).toContain('This link is no longer valid');
    // One generic text for used, expired and unknown links.
    expect(invalid).toContain('has already been used, has expired, or is not complete');
  });

  it('security headers allow only the nonce style and same-origin form posts', () => {
    const n = createNonce();
    expect(Buffer.from(n, 'base64')).toHaveLength(16);
    expect(createNonce()).not.toBe(n);
    expect(securityHeaders(n)).toEqual({
      'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${n}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
    });
  });
});
