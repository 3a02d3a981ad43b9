import { randomBytes, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEVELOPMENT_KEY_FILE = 'key-encryption-key';

/**
 * Development only (no ROSTER_KEY_ENCRYPTION_KEY outside production): the key-encryption key kept in
 * the data folder (mode 0600) beside the embedded database and the development tokens, made on the
 * first start. Instances started at once agree on one key: the file appears whole or not at all (a
 * hard link of a finished temporary file, which fails when the file exists), and a loser reads it.
 */
export function developmentKeyEncryptionKey(dataDir: string): { key: string; file: string; created: boolean } {
  const file = path.join(dataDir, DEVELOPMENT_KEY_FILE);
  const read = () => {
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (!text) throw new Error(`${file} is empty: delete it to make a new key, or restore it`);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const existing = read();
  if (existing) return { key: existing, file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  const temporary = `${file}.${randomUUID()}.tmp`;
  writeFileSync(temporary, `${key}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
    return { key, file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { key: read()!, file, created: false };
  } finally {
    rmSync(temporary, { force: true });
  }
}
