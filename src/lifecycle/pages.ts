import { randomBytes } from 'node:crypto';
import { escapeHtml } from '../mail/templates.js';

/**
 * The end-user pages of /activate and /reset-password, as plain HTML strings (no Koa here).
 * They work without JavaScript, load nothing from elsewhere and carry one inline <style> whose
 * nonce the route puts in the Content-Security-Policy (securityHeaders).
 *
 * CSRF: the POST is authorised by the hidden single-use token, which only the recipient of the
 * email knows; a cross-site form cannot supply it. The route also rejects a POST whose Origin
 * header names another origin.
 */

export type LinkKind = 'activate' | 'reset';

export interface PageBase {
  /** Shown in the title and heading (mail.orgName). */
  orgName: string;
  /** Per-response random value; the same one goes into securityHeaders(nonce). */
  nonce: string;
}

export interface SetPasswordPage extends PageBase {
  kind: LinkKind;
  /** The raw link token; posted back in a hidden field. */
  token: string;
  username: string;
  /** A message to show (policy failure, passwords differ); the page answers 400 or 422 then. */
  error?: string;
  /** Shown as a hint and used for the browser's own minlength/maxlength checks. */
  policy?: { minLength: number; maxLength: number; requireCharacterClasses: number };
  /** Where the form posts; default `/activate` or `/reset-password`. */
  action?: string;
}

export interface DonePage extends PageBase {
  kind: LinkKind;
  /** Link to sign in (mail.portalUrl); left out when empty. */
  portalUrl?: string;
}

export type InvalidLinkPage = PageBase;

/** A fresh nonce for one response (128 random bits, base64). */
export function createNonce(): string {
  return randomBytes(16).toString('base64');
}

/** Headers for every end-user page response. */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
  };
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1f2328;font:16px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:28rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:6px}
h1{font-size:1.4rem;margin:0 0 1rem}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=password],input[type=text]{width:100%;padding:.6rem;font:inherit;border:1px solid #8c959f;border-radius:6px}
input[readonly]{background:#f6f8fa}
input:focus,button:focus,a:focus{outline:3px solid #0969da;outline-offset:2px}
.hint{font-size:.9rem;color:#57606a;margin:.25rem 0 0}
.error{color:#a40e26;background:#ffebe9;border:1px solid #ff8182;border-radius:6px;padding:.6rem;margin:0 0 1rem}
.error:empty{display:none}
button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1f6feb;border:0;border-radius:6px;cursor:pointer}
a{color:#0969da}
`;

function layout(title: string, nonce: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function policyHint(policy: SetPasswordPage['policy']): string {
  if (!policy) return '';
  const parts = [`at least ${policy.minLength} characters`];
  if (policy.requireCharacterClasses > 0) {
    parts.push(`${policy.requireCharacterClasses} of: lower-case letters, upper-case letters, digits, symbols`);
  }
  parts.push('not your username');
  return `Use ${parts.join('; ')}.`;
}

export function renderSetPasswordPage(page: SetPasswordPage): string {
  const isReset = page.kind === 'reset';
  const title = isReset ? `Choose a new password – ${page.orgName}` : `Activate your account – ${page.orgName}`;
  const heading = isReset ? 'Choose a new password' : 'Activate your account';
  const intro = isReset
    ? `Choose a new password for your ${page.orgName} account.`
    : `Choose a password to activate your ${page.orgName} account.`;
  const action = page.action ?? (isReset ? '/reset-password' : '/activate');
  const hint = policyHint(page.policy);
  const error = page.error ?? '';
  const invalid = error ? ' aria-invalid="true"' : '';
  const describedBy = ['password-error', hint ? 'password-hint' : ''].filter(Boolean).join(' ');
  const lengthAttrs = page.policy ? ` minlength="${page.policy.minLength}" maxlength="${page.policy.maxLength}"` : '';
  const body = `<h1>${escapeHtml(heading)}</h1>
<p>${escapeHtml(intro)}</p>
<div id="password-error" class="error" role="alert" aria-live="assertive">${escapeHtml(error)}</div>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="token" value="${escapeHtml(page.token)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(page.username)}" autocomplete="username" readonly>
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required${lengthAttrs} aria-describedby="${describedBy}"${invalid} autofocus>
${hint ? `<p id="password-hint" class="hint">${escapeHtml(hint)}</p>` : ''}
<label for="confirm">Repeat the password</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" required${lengthAttrs}${invalid}>
<button type="submit">${isReset ? 'Set new password' : 'Activate account'}</button>
</form>`;
  return layout(title, page.nonce, body);
}

export function renderDonePage(page: DonePage): string {
  const isReset = page.kind === 'reset';
  const heading = isReset ? 'Your password has been changed' : 'Your account is active';
  const message = isReset
    ? 'You can now sign in with your new password.'
    : 'Your password is set. You can now sign in.';
  const signIn = page.portalUrl
    ? `<p><a href="${escapeHtml(page.portalUrl)}">Go to ${escapeHtml(page.orgName)}</a></p>`
    : '';
  return layout(
    `${heading} – ${page.orgName}`,
    page.nonce,
    `<h1>${escapeHtml(heading)}</h1>
<p role="status">${escapeHtml(message)}</p>
${signIn}`,
  );
}

/** One page for used, expired and unknown links: it does not tell which (answer it with 410). */
export function renderInvalidLinkPage(page: InvalidLinkPage): string {
  const heading = 'This link is no longer valid';
  return layout(
    `${heading} – ${page.orgName}`,
    page.nonce,
    `<h1>${escapeHtml(heading)}</h1>
<p>The link has already been used, has expired, or is not complete. Links in our emails work once and only for a limited time.</p>
<p>Ask your administrator to send you a new email.</p>`,
  );
}
