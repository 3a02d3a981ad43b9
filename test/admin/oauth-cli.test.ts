import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/roster.js');

let t: TestRoster;
let server: Server;
let url: string;
let tmp: string;

/** `node bin/roster.js oauth-clients ...` as a real child process against a served Roster. */
function roster(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ROSTER_URL: url, ROSTER_ADMIN_TOKEN: TOKENS.admin };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env, cwd: tmp }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

const field = (stdout: string, name: string) => new RegExp(`^${name}\\s+(\\S+)$`, 'm').exec(stdout)?.[1];

const grant = (id: string, secret: string) =>
  t.request
    .post('/oauth/token')
    .type('form')
    .send(new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString());

beforeAll(async () => {
  t = await startTestRoster();
  server = createServer(t.roster.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'roster-oauth-cli-'));
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('roster oauth-clients', () => {
  it('creates a client, prints its secret once, lists, rotates and revokes it', async () => {
    const created = await roster([
      'oauth-clients',
      'create',
      '--name',
      'entra',
      '--source',
      'integration',
      '--scope',
      'scim:read,scim:write',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const id = field(created.stdout, 'client_id')!;
    const secret = field(created.stdout, 'client_secret')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(secret).toMatch(/^rcs_/);
    expect(created.stdout).toContain('shown only now');
    expect((await grant(id, secret)).status).toBe(200);

    const list = await roster(['oauth-clients', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^CLIENT ID\s+NAME\s+SOURCE\s+SCOPES\s+AUTH\s+STATUS$/m);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/entra\s+integration\s+scim:read scim:write\s+client_secret_basic\s+active/);
    expect(list.stdout).not.toContain(secret);

    const rotated = await roster(['oauth-clients', 'rotate', id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = field(rotated.stdout, 'client_secret')!;
    expect(fresh).not.toBe(secret);
    expect(rotated.stdout).toMatch(/valid until \d{4}-/);
    expect((await grant(id, secret)).status).toBe(200);
    expect((await grant(id, fresh)).status).toBe(200);

    const shown = await roster(['oauth-clients', 'show', id, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ client_id: id, name: 'entra' });
    expect(shown.stdout).not.toContain(fresh);

    const revoked = await roster(['oauth-clients', 'revoke', id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked at\s+\d{4}-/m);
    expect((await grant(id, fresh)).status).toBe(401);
    expect((await roster(['oauth-clients', 'list'])).stdout).toMatch(/revoked \d{4}-/);
  });

  it('registers a private_key_jwt client from a JWK file (no secret)', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const file = path.join(tmp, 'okta.jwk.json');
    writeFileSync(file, JSON.stringify(await exportJWK(publicKey)));
    const run = await roster(['oauth-clients', 'create', '--name', 'okta', '--source', 'manual', '--jwk-file', file]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^auth method\s+private_key_jwt$/m);
    expect(run.stdout).not.toContain('client_secret');
  });

  it('explains wrong usage (exit 2) and server refusals (exit 1)', async () => {
    const noName = await roster(['oauth-clients', 'create', '--source', 'manual']);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('--name and --source are required');
    expect((await roster(['oauth-clients', 'frobnicate'])).code).toBe(2);
    expect((await roster(['oauth-clients', 'show'])).code).toBe(2);
    expect((await roster(['oauth-clients', 'list', '--name', 'x'])).code).toBe(2);
    const badSource = await roster(['oauth-clients', 'create', '--name', 'x', '--source', 'elsewhere']);
    expect(badSource.code).toBe(1);
    expect(badSource.stderr).toMatch(/server answered 400 invalid_request: source must be one of/);
    const missing = await roster(['oauth-clients', 'show', 'no-such-client']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
    const help = await roster(['oauth-clients', '--help']);
    expect(help.stdout).toMatch(/^Usage: roster oauth-clients/);
    expect((await roster(['--help'])).stdout).toContain('oauth-clients');
  });
});
