import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { loadTemplates, renderTemplate, TEMPLATE_NAMES, type TemplateVars } from '../../src/mail/templates.js';

const DEFAULT_DIR = path.join(PROJECT_ROOT, 'config/templates');
const templates = loadTemplates(DEFAULT_DIR);
const tmpDirs: string[] = [];

function copyOfDefaults(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-templates-'));
  tmpDirs.push(dir);
  cpSync(DEFAULT_DIR, dir, { recursive: true });
  return dir;
}

afterEach(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const base: TemplateVars = {
  user_email: 'ann.private@example.org',
  user_company_email: 'ann@corp.example',
  first_name: 'Ann',
  last_name: 'Lee',
  username: 'ann',
  activation_link: 'https://roster.example.com/activate?token=abc_DEF-123',
  link_expiry_days: 14,
  reset_link_expiry_hours: 24,
  org_name: 'Example Corp',
  portal_url: 'https://portal.example.com',
};

describe('email templates', () => {
  it('loads the four default templates and renders every one without leftover tokens', () => {
    for (const name of TEMPLATE_NAMES) {
      const out = renderTemplate(templates, name, base);
      for (const part of [out.subject, out.text, out.html]) {
        expect(part).not.toMatch(/#\{/);
        expect(part.length).toBeGreaterThan(0);
      }
      expect(out.subject).toContain('Example Corp');
      expect(out.subject).not.toMatch(/\n/);
      expect(out.html).toMatch(/^<!doctype html>\s*<html lang="en">/i);
      // No external assets: the only URLs are the links we put in.
      const urls = out.html.match(/(?:src|href)="[^"]*"/g) ?? [];
      for (const u of urls)
        expect(u).toMatch(/^href="(https:\/\/portal\.example\.com|https:\/\/roster\.example\.com\/activate)/);
      expect(out.html).not.toMatch(/<img|<link|<script|url\(/i);
    }
  });

  it('activation: names the recipient address and, when different, the company address', () => {
    const out = renderTemplate(templates, 'activation', base);
    expect(out.subject).toBe('Activate your Example Corp account');
    expect(out.text).toContain('Hello Ann,');
    expect(out.text).toContain('https://roster.example.com/activate?token=abc_DEF-123');
    expect(out.text).toContain('expires in 14 days');
    expect(out.text).toContain(
      'This email was sent to ann.private@example.org. Your company email address is ann@corp.example.',
    );
    expect(out.html).toContain('<strong>ann.private@example.org</strong>');
    expect(out.html.replace(/\s+/g, ' ')).toContain('Your company email address is <strong>ann@corp.example</strong>');

    const toCompany = renderTemplate(templates, 'activation', { ...base, user_email: 'ANN@corp.example' });
    expect(toCompany.text).toContain('This email was sent to ANN@corp.example.\n');
    expect(toCompany.text).not.toContain('company email address');
    expect(toCompany.html).not.toContain('company email address');
  });

  it('#{if:token} blocks show only when the value is present', () => {
    const noName = renderTemplate(templates, 'welcome', { ...base, first_name: '' });
    expect(noName.text).toMatch(/^Hello,\n/);
    const reminder = renderTemplate(templates, 'reminder', { ...base, activation_link: undefined });
    expect(reminder.text).not.toContain('not activated');
    const pending = renderTemplate(templates, 'reminder', base);
    expect(pending.text).toContain('not activated yet');
    expect(pending.text).toContain(base.activation_link);
  });

  it('escapes values in the HTML body only', () => {
    const evil = '<script>alert("x")</script> & \'Bo\'';
    const out = renderTemplate(templates, 'welcome', { ...base, first_name: evil, org_name: 'A&B <Corp>' });
    expect(out.html).not.toContain('<script>');
    expect(out.html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;Bo&#39;');
    expect(out.html).toContain('A&#38;B &#60;Corp&#62;');
    expect(out.text).toContain(`Hello ${evil},`);
    expect(out.subject).toBe('Welcome to A&B <Corp>');
  });

  it('keeps the subject on one line', () => {
    const out = renderTemplate(templates, 'welcome', { ...base, org_name: 'Evil\r\nBcc: x@example.com' });
    expect(out.subject).toBe('Welcome to Evil Bcc: x@example.com');
  });

  it('password reset uses the reset link and its lifetime in hours', () => {
    const out = renderTemplate(templates, 'password-reset', base);
    expect(out.subject).toBe('Reset your Example Corp password');
    expect(out.text).toContain(base.activation_link);
    expect(out.text).toContain('expires in 24 hours');
  });

  it('an unknown token is a start-up error naming the file and the token', () => {
    const dir = copyOfDefaults();
    writeFileSync(path.join(dir, 'welcome.html'), '<p>Hi #{first_name} #{favourite_colour}</p>\n');
    expect(() => loadTemplates(dir)).toThrow(/welcome\.html, line 1: unknown token #\{favourite_colour\}/);
  });

  it('an unknown token in a condition is an error too', () => {
    const dir = copyOfDefaults();
    writeFileSync(path.join(dir, 'reminder.txt'), 'a\n#{if:nickname}x#{end}\n');
    expect(() => loadTemplates(dir)).toThrow(/reminder\.txt, line 2: unknown token "nickname"/);
  });

  it('a missing file is a start-up error naming the file', () => {
    const dir = copyOfDefaults();
    unlinkSync(path.join(dir, 'password-reset.subject.txt'));
    expect(() => loadTemplates(dir)).toThrow(/password-reset\.subject\.txt is missing/);
  });

  it('rejects unbalanced, nested and unclosed markup', () => {
    const dir = copyOfDefaults();
    const file = path.join(dir, 'activation.txt');
    writeFileSync(file, '#{if_not_company_email} no end\n');
    expect(() => loadTemplates(dir)).toThrow(/activation\.txt, line 1: block is not closed/);
    writeFileSync(file, 'x #{end}\n');
    expect(() => loadTemplates(dir)).toThrow(/activation\.txt, line 1: unexpected #\{end\}/);
    writeFileSync(file, '#{if:first_name}#{if_not_company_email}#{end}#{end}\n');
    expect(() => loadTemplates(dir)).toThrow(/do not nest/);
    writeFileSync(file, 'ok\nHello #{first_name\n');
    expect(() => loadTemplates(dir)).toThrow(/activation\.txt, line 2: a "#\{" is not closed/);
  });
});
