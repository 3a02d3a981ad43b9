import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, needsRehash, verifyPassword } from '../../src/lifecycle/passwords.js';

const policy = { minLength: 12, maxLength: 64, requireCharacterClasses: 3, maxFailedAttempts: 5 };

describe('password hashing', () => {
  it('hashes with scrypt in a self-describing format and verifies', async () => {
    const stored = await hashPassword('Correct horse 9 battery');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('Correct horse 9 battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse 9 battery', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
    expect(needsRehash(stored)).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password 1A'), hashPassword('same password 1A')]);
    expect(a).not.toBe(b);
  });

  it('treats NFC and NFD spellings as the same password', async () => {
    const stored = await hashPassword('Café-Passwort-2024');
    expect(await verifyPassword('Cafe\u0301-Passwort-2024', stored)).toBe(true);
  });

  it('never matches a malformed or hostile stored hash', async () => {
    for (const bad of [
      '',
      'plain',
      'scrypt$32768$8$1$c2FsdA==',
      'bcrypt$2b$10$abc',
      `scrypt$${2 ** 30}$8$1$c2FsdHNhbHQ=$${'A'.repeat(43)}=`,
      `scrypt$1000$8$1$c2FsdHNhbHQ=$${'A'.repeat(43)}=`,
    ]) {
      expect(await verifyPassword('whatever', bad)).toBe(false);
    }
    expect(await verifyPassword('whatever', null)).toBe(false);
    expect(needsRehash('scrypt$16384$8$1$c2FsdHNhbHQ=$' + 'A'.repeat(43) + '=')).toBe(true);
  });
});

describe('password policy', () => {
  it('accepts a good password', () => {
    expect(checkPasswordPolicy('Blue-Mountain-42', policy, { username: 'ann', emails: ['ann@corp.example'] })).toBe(
      undefined,
    );
  });

  it('explains what is wrong', () => {
    expect(checkPasswordPolicy('', policy)).toBe('Enter a password.');
    expect(checkPasswordPolicy('Short1!', policy)).toBe('The password must be at least 12 characters long.');
    expect(checkPasswordPolicy('Aa1!'.repeat(20), policy)).toBe('The password must be at most 64 characters long.');
    expect(checkPasswordPolicy('alllowercaseletters', policy)).toBe(
      'The password must contain at least 3 of these 4 kinds of character: lower-case letters, upper-case letters, digits, symbols.',
    );
    expect(checkPasswordPolicy('Xx-annabelle-2024', policy, { username: 'Annabelle' })).toBe(
      'The password must not contain your username.',
    );
    expect(checkPasswordPolicy('Xx-jdoe99-2024!', policy, { username: 'jdoe99@corp.example' })).toBe(
      'The password must not contain your username.',
    );
    expect(checkPasswordPolicy('My-b.smith-pass1', policy, { emails: ['B.Smith@corp.example'] })).toBe(
      'The password must not contain your email address.',
    );
  });

  it('counts characters, not UTF-16 units, and counts non-Latin letters as classes', () => {
    const p = { ...policy, minLength: 4, requireCharacterClasses: 2 };
    expect(checkPasswordPolicy('😀😀😀', p)).toBe('The password must be at least 4 characters long.');
    expect(checkPasswordPolicy('Éé1é', p)).toBe(undefined);
    expect(checkPasswordPolicy('abcdefgh', { ...p, requireCharacterClasses: 0 })).toBe(undefined);
  });
});
