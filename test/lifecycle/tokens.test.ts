import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLinkToken, hashLinkToken, looksLikeLinkToken } from '../../src/lifecycle/tokens.js';

describe('link tokens', () => {
  it('creates 32-byte base64url tokens and stores only their SHA-256', () => {
    const { token, hash } = createLinkToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashLinkToken(token)).toBe(hash);
    expect(hash).not.toContain(token);
    expect(looksLikeLinkToken(token)).toBe(true);
  });

  it('never repeats', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => createLinkToken().token));
    expect(seen.size).toBe(1000);
  });

  it('recognises malformed tokens before any look-up', () => {
    for (const bad of ['', 'short', 'a'.repeat(44), `${'a'.repeat(42)}=`, `${'a'.repeat(42)}/`, 42, undefined]) {
      expect(looksLikeLinkToken(bad)).toBe(false);
    }
  });
});
