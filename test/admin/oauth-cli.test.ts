import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { useCli } from '../helpers/cli.js';

/** `roster(args)`: `node bin/roster.js oauth-clients ...` as a real child process against a served Roster. */
const { t, dir, roster } = useCli('roster-oauth-cli-');

const field = (stdout: string, name: string) => new RegExp(`^${name}\\s+(\\S+)$`, 'm').exec(stdout)?.[1];

const grant = (id: string, secret: string) =>
  t.request
    .post('/oauth/token')
    .type('form')
    .send(new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString());

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
    const file = path.join(dir.path, 'okta.jwk.json');
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
