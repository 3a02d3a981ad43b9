import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PrincipalKind } from './auth.js';

export interface DevToken {
  kind: PrincipalKind;
  name: string;
  token: string;
}

/**
 * Development only: when no token of a kind is configured, generate one, keep it in the data folder
 * (mode 0600) so the next start reuses it, and report it as new so main prints it once.
 */
export function developmentTokens(
  dataDir: string,
  missing: PrincipalKind[],
): { tokens: DevToken[]; created: DevToken[] } {
  const file = path.join(dataDir, 'dev-tokens.json');
  const saved: DevToken[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DevToken[]) : [];
  const tokens: DevToken[] = [];
  const created: DevToken[] = [];
  for (const kind of missing) {
    let token = saved.find((t) => t.kind === kind);
    if (!token) {
      token = { kind, name: `dev-${kind}`, token: randomBytes(32).toString('base64url') };
      created.push(token);
    }
    tokens.push(token);
  }
  if (created.length) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify([...saved, ...created], null, 2), { mode: 0o600 });
  }
  return { tokens, created };
}
