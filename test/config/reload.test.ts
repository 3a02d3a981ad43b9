import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/devdb/embedded.js';

const ADMIN = 'reload-admin-token-000001';
const SCIM = 'reload-scim-token-0000001';
let server: ChildProcess;
let base: string;
let file: string;
let output = '';

async function settings() {
  const res = await fetch(`${base}/admin/v1/settings`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return (await res.json()) as { users: { defaultState: Record<string, string> }; reminders: { noLoginDays: number } };
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out; server output:\n${output}`);
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-reload-'));
  file = path.join(dir, 'roster.json');
  writeFileSync(file, JSON.stringify({ users: { defaultState: { manual: 'STAGED' } } }));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const uri = new URL(inject('mongoUri'));
  uri.pathname = '/reload_test';
  server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      MONGODB_URI: uri.toString(),
      ROSTER_CONFIG: file,
      ROSTER_ADMIN_TOKEN: ADMIN,
      ROSTER_SCIM_TOKEN: SCIM,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  server.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await waitFor(async () => (await fetch(`${base}/readyz`)).ok, 30_000);
});

afterAll(async () => {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
});

describe('SIGHUP', () => {
  it('reloads default states and reminders from the config file without a restart', async () => {
    expect((await settings()).users.defaultState.manual).toBe('STAGED');
    writeFileSync(
      file,
      JSON.stringify({ users: { defaultState: { manual: 'ACTIVE' } }, reminders: { noLoginDays: 7 } }),
    );
    server.kill('SIGHUP');
    await waitFor(async () => (await settings()).users.defaultState.manual === 'ACTIVE');
    expect((await settings()).reminders.noLoginDays).toBe(7);
    const created = await fetch(`${base}/scim/v2/Users`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${SCIM}`, 'Content-Type': 'application/scim+json' },
      body: JSON.stringify({ userName: `reload-${Date.now()}@example.com` }),
    });
    const user = (await created.json()) as Record<string, { state: string }>;
    expect(user['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User'].state).toBe('ACTIVE');
  });

  it('refuses a bad file and keeps the running configuration', async () => {
    writeFileSync(file, JSON.stringify({ users: { defaultState: { manual: 'SOMETIMES' } } }));
    server.kill('SIGHUP');
    await waitFor(async () => output.includes('configuration reload refused'));
    expect(output).toContain('users.defaultState.manual');
    expect((await settings()).users.defaultState.manual).toBe('ACTIVE');
    expect((await fetch(`${base}/healthz`)).ok).toBe(true);
  });

  it('refuses templates with an unknown token, naming the file and token', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-templates-'));
    const source = path.resolve('config/templates');
    for (const name of ['activation', 'welcome', 'password-reset', 'reminder']) {
      for (const suffix of ['.subject.txt', '.txt', '.html']) {
        const { readFileSync } = await import('node:fs');
        writeFileSync(path.join(dir, name + suffix), readFileSync(path.join(source, name + suffix)));
      }
    }
    writeFileSync(path.join(dir, 'welcome.txt'), 'Hello #{favourite_colour}');
    writeFileSync(file, JSON.stringify({ users: { defaultState: { manual: 'STAGED' } }, mail: { templatesDir: dir } }));
    server.kill('SIGHUP');
    await waitFor(async () => output.includes('favourite_colour'));
    expect((await settings()).users.defaultState.manual).toBe('ACTIVE');
  });

  it('applies SCIM limits and the rate limit on reload, without asking for a restart', async () => {
    const before = output.length;
    writeFileSync(
      file,
      JSON.stringify({
        users: { defaultState: { manual: 'ACTIVE' } },
        scim: { bulk: { maxOperations: 2 } },
        rateLimit: { enabled: false, requestsPerMinute: 300 },
      }),
    );
    server.kill('SIGHUP');
    const scim = (p: string, init: RequestInit = {}) =>
      fetch(`${base}/scim/v2${p}`, {
        ...init,
        headers: { Authorization: `Bearer ${SCIM}`, 'Content-Type': 'application/scim+json' },
      });
    await waitFor(async () => {
      const spc = (await (await scim('/ServiceProviderConfig')).json()) as { bulk: { maxOperations: number } };
      return spc.bulk.maxOperations === 2;
    });
    const bulk = await scim('/Bulk', {
      method: 'POST',
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [1, 2, 3].map((i) => ({
          method: 'POST',
          bulkId: `b${i}`,
          path: '/Users',
          data: { userName: `reload-bulk-${i}-${Date.now()}@example.com` },
        })),
      }),
    });
    expect(bulk.status, 'the Bulk limit advertised is the one enforced').toBe(413);
    expect(output.slice(before)).not.toContain('apply only after a restart');
  });
});
