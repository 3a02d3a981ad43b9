import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Config } from '../config/index.js';

/**
 * Password hashing with scrypt from node:crypto (memory-hard, no native addon). Stored format:
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`, so parameters can be raised later and old
 * hashes still verify (see needsRehash).
 */
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Largest accepted N when verifying a stored hash (guards against a hostile stored value). */
const MAX_N = 2 ** 20;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** scrypt needs about 128 * N * r bytes; give it room. */
function maxmem(n: number, r: number): number {
  return 128 * n * r * 2 + 1024 * 1024;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: maxmem(N, R) });
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = parts.slice(1, 4).map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (!Number.isSafeInteger(n) || n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return undefined;
  if (!Number.isSafeInteger(r) || r < 1 || r > 32 || !Number.isSafeInteger(p) || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(parts[4], 'base64');
  const key = Buffer.from(parts[5], 'base64');
  if (salt.length < 8 || key.length < 16) return undefined;
  return { n, r, p, salt, key };
}

/** Checks a password against a stored hash in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (typeof password !== 'string' || typeof stored !== 'string') return false;
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.n,
    r: parsed.r,
    p: parsed.p,
    maxmem: maxmem(parsed.n, parsed.r),
  });
  return timingSafeEqual(key, parsed.key);
}

/** True when a stored hash uses weaker parameters than hashPassword does now (rehash after a login). */
export function needsRehash(stored: string): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.n < N || parsed.r < R || parsed.p < P;
}

export interface PasswordContext {
  username?: string;
  emails?: string[];
}

const CLASSES: { name: string; test: RegExp }[] = [
  { name: 'lower-case letters', test: /\p{Ll}/u },
  { name: 'upper-case letters', test: /\p{Lu}/u },
  { name: 'digits', test: /\p{Nd}/u },
  { name: 'symbols', test: /[^\p{Ll}\p{Lu}\p{Nd}]/u },
];

/**
 * Checks a new password against the policy. Returns a message for the user, or undefined when
 * the password is acceptable. Lengths count Unicode code points.
 */
export function checkPasswordPolicy(
  password: string,
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength' | 'requireCharacterClasses'>,
  context: PasswordContext = {},
): string | undefined {
  if (typeof password !== 'string' || password.length === 0) return 'Enter a password.';
  const length = [...password.normalize('NFC')].length;
  if (length < policy.minLength) return `The password must be at least ${policy.minLength} characters long.`;
  if (length > policy.maxLength) return `The password must be at most ${policy.maxLength} characters long.`;
  const present = CLASSES.filter((c) => c.test.test(password)).length;
  if (present < policy.requireCharacterClasses) {
    return (
      `The password must contain at least ${policy.requireCharacterClasses} of these 4 kinds of character: ` +
      `lower-case letters, upper-case letters, digits, symbols.`
    );
  }
  const lower = password.normalize('NFC').toLowerCase();
  const username = context.username?.normalize('NFC').toLowerCase().trim() ?? '';
  const usernameParts = [username, username.includes('@') ? username.split('@')[0] : ''];
  if (usernameParts.some((u) => u.length >= 3 && lower.includes(u))) {
    return 'The password must not contain your username.';
  }
  for (const email of context.emails ?? []) {
    const local = email.normalize('NFC').toLowerCase().trim().split('@')[0];
    if (local && local.length >= 3 && lower.includes(local)) {
      return 'The password must not contain your email address.';
    }
  }
  return undefined;
}
