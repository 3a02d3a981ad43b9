import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ProgressBar } from '../../src/cli/progress.js';
import { formatTable } from '../../src/cli/table.js';
import { BIN, useCli } from '../helpers/cli.js';
import { TOKENS, type TestRoster } from '../helpers/roster.js';
import { startServedRoster } from '../helpers/server.js';

const { t, dir, roster } = useCli('roster-cli-');

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

beforeAll(async () => {
  const base = Date.parse('2024-05-01T10:00:00Z');
  for (let i = 0; i < 5; i++) {
    await t.roster.events.record({
      type: i === 4 ? 'user_activation_email' : 'user_update',
      timestamp: new Date(base + i * 60_000),
      resource: { type: 'User', id: `id-${i}`, username: `user${i}@example.com` },
      initiatedBy: { type: 'admin', name: 'ops' },
      success: i !== 3,
      recipientEmail: i === 4 ? 'user4@home.example' : undefined,
    });
  }
  await t.roster.events.record({
    type: 'user_update',
    timestamp: new Date(base - 60_000),
    resource: { type: 'User', id: 'evil', username: 'evil\u001b[31m\nname' },
    initiatedBy: { type: 'scim', name: 'okta' },
  });
});

describe('roster --help', () => {
  it('prints the usage with every command and exits 0', async () => {
    const run = await roster(['--help'], { ROSTER_ADMIN_TOKEN: undefined });
    expect(run.code).toBe(0);
    for (const command of ['serve', 'import', 'export', 'users', 'events']) expect(run.stdout).toContain(command);
    expect(run.stdout).toContain('ROSTER_ADMIN_TOKEN');
    expect(run.stderr).toBe('');
  });

  it.each(['import', 'export', 'users', 'events', 'serve'])('prints help for %s', async (command) => {
    const run = await roster([command, '--help'], { ROSTER_ADMIN_TOKEN: undefined });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: roster ${command}`));
  });

  it('prints help with `help <command>` and after an action', async () => {
    expect((await roster(['help', 'events'])).stdout).toMatch(/^Usage: roster events/);
    expect((await roster(['users', 'activate', '--help'])).stdout).toMatch(/^Usage: roster users/);
  });

  it('prints usage and exits 2 without a command', async () => {
    const run = await roster([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^Usage: roster/);
  });
});

describe('usage and configuration errors', () => {
  it('rejects an unknown command with exit code 2', async () => {
    const run = await roster(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('roster: unknown command "frobnicate"');
    expect(run.stdout).toBe('');
  });

  it('rejects an unknown option', async () => {
    const run = await roster(['events', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^roster: events: Unknown option '--colour'/);
    expect(run.stderr).toContain('roster events --help');
  });

  it('explains a missing ROSTER_ADMIN_TOKEN', async () => {
    const run = await roster(['events'], { ROSTER_ADMIN_TOKEN: undefined });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "roster: ROSTER_ADMIN_TOKEN is not set; set it to an admin API token (one of the server's admin tokens)\n",
    );
  });

  it('says when the server cannot be reached', async () => {
    const port = await freePort();
    const run = await roster(['events'], { ROSTER_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`roster: cannot reach Roster at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(run.stderr).not.toContain(TOKENS.admin);
  });

  it('rejects a ROSTER_URL that is not http(s)', async () => {
    const run = await roster(['events'], { ROSTER_URL: 'ftp://example.com' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('ROSTER_URL must start with http:// or https://');
  });

  it('shows the status and message of a refused token, never the token', async () => {
    const wrong = await roster(['events'], { ROSTER_ADMIN_TOKEN: 'wrong-token-123456789' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^roster: server answered 401 unauthorized: Invalid bearer token/);
    expect(wrong.stderr).not.toContain('wrong-token-123456789');

    const scim = await roster(['events'], { ROSTER_ADMIN_TOKEN: TOKENS.scim });
    expect(scim.code).toBe(1);
    expect(scim.stderr).toMatch(/^roster: server answered 403 forbidden: .*admin token/);
    expect(scim.stderr).not.toContain(TOKENS.scim);
  });
});

describe('roster events', () => {
  it('prints a table, newest first, with user, actor, success and recipient', async () => {
    const run = await roster(['events']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIMESTAMP\s+TYPE\s+USER\s+BY\s+SUCCESS\s+RECIPIENT$/);
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(
      /^2024-05-01T10:04:00.000Z\s+user_activation_email\s+user4@example.com\s+admin:ops\s+yes\s+user4@home.example$/,
    );
    expect(lines[2]).toMatch(/^2024-05-01T10:03:00.000Z\s+user_update\s+user3@example.com\s+admin:ops\s+no$/);
    // Control characters from stored data never reach the terminal.
    expect(lines[6]).toMatch(/^2024-05-01T09:59:00.000Z\s+user_update\s+evil \[31m name\s+scim:okta\s+yes$/);
    expect(run.stdout).not.toContain('\u001b');
  });

  it('passes the filters and reports a next page on stderr', async () => {
    const run = await roster(['events', '--type', 'user_update', '--limit', '2', '--since', '2024-05-01T10:00:00Z']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(1).map((l) => l.split(/\s+/)[2])).toEqual(['user3@example.com', 'user2@example.com']);
    const cursor = /--cursor (\S+)/.exec(run.stderr)?.[1];
    expect(cursor).toBeTruthy();

    const next = await roster([
      'events',
      '--type',
      'user_update',
      '--since',
      '2024-05-01T10:00:00Z',
      '--cursor',
      cursor!,
    ]);
    expect(
      next.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[2]),
    ).toEqual(['user1@example.com', 'user0@example.com']);
    expect(next.stderr).toBe('');
  });

  it('filters by user and prints JSON with --json', async () => {
    const run = await roster(['events', '--user', 'id-4', '--json']);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout);
    expect(body.events).toHaveLength(1);
    expect(body.events[0]).toMatchObject({ type: 'user_activation_email', recipientEmail: 'user4@home.example' });
  });

  it('says so when nothing matches', async () => {
    const run = await roster(['events', '--user', 'nobody']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('No events.\n');
  });

  it('checks dates before asking the server and shows server-side validation errors', async () => {
    const local = await roster(['events', '--since', 'last week']);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--since must be an ISO 8601 date');
    const remote = await roster(['events', '--type', 'nonsense']);
    expect(remote.code).toBe(1);
    expect(remote.stderr).toMatch(/^roster: server answered 400 invalid_parameter: unknown event type "nonsense"/);
  });
});

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const LIFECYCLE_SCHEMA = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** A user over SCIM in the CLI's server; returns its id. */
async function scimUser(userName: string, state: 'STAGED' | 'ACTIVE' | 'SUSPENDED'): Promise<string> {
  const res = await t.scim().post('/Users', {
    schemas: [USER_SCHEMA, LIFECYCLE_SCHEMA],
    userName,
    emails: [{ value: userName, type: 'work', primary: true }],
    [LIFECYCLE_SCHEMA]: { state },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

describe('roster import', () => {
  it('imports a file, prints the counts and the failed lines, and exits 1 when a line failed', async () => {
    const file = path.join(dir.path, 'mixed.csv');
    writeFileSync(file, 'Username,Email,FirstName\ncli1@example.com,cli1@example.com,One\nbad,not-an-email,Two\n');
    const run = await roster(['import', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Import finished\.\n/);
    expect(run.stdout).toMatch(/total\s+2\n\s*created\s+1\n\s*updated\s+0\n\s*unchanged\s+0\n\s*failed\s+1\n/);
    expect(run.stdout).toMatch(/Failed lines:\nLINE\s+REASON\n3\s+Email "not-an-email" is not a valid email address\n/);
    const created = await t.scim().get(`/Users?filter=${encodeURIComponent('userName eq "cli1@example.com"')}`);
    expect(created.body.totalResults).toBe(1);
    expect(created.body.Resources[0][LIFECYCLE_SCHEMA]).toMatchObject({ source: 'bulk', state: 'STAGED' });
  });

  it('exits 0 when every line was imported', async () => {
    const file = path.join(dir.path, 'good.csv');
    writeFileSync(file, 'Username,Email\ncli2@example.com,cli2@example.com\n');
    const run = await roster(['import', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/created\s+1/);
  });

  it('--dry-run validates and writes nothing', async () => {
    const file = path.join(dir.path, 'dry.csv');
    writeFileSync(file, 'Username,Email\ncli-dry@example.com,cli-dry@example.com\ncli2@example.com,cli2@example.com\n');
    const run = await roster(['import', file, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Dry run: nothing was written\.\n/);
    expect(run.stdout).toMatch(/would create\s+1\n\s*would update\s+0/);
    const none = await t.scim().get(`/Users?filter=${encodeURIComponent('userName eq "cli-dry@example.com"')}`);
    expect(none.body.totalResults).toBe(0);
  });

  it('shows a refused header with its reasons', async () => {
    const file = path.join(dir.path, 'header.csv');
    writeFileSync(file, 'Username,Shoe\nx,44\n');
    const run = await roster(['import', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^roster: server answered 400 invalid_header: The CSV header is not valid: Unknown column "Shoe"/,
    );
  });

  it('reports a missing file without calling the server', async () => {
    const run = await roster(['import', path.join(dir.path, 'missing.csv')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^roster: cannot read .*missing\.csv: ENOENT/);
  });
});

describe('roster export', () => {
  it('writes a CSV file that imports into an empty Roster with the same users', async () => {
    const out = path.join(dir.path, 'export.csv');
    const run = await roster(['export', '--format', 'csv', '--out', out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`Exported users to ${out}\n`);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^Username,FirstName,LastName,Email,Password,/);
    expect(text).toContain('cli1@example.com');

    // Another Roster on its own empty database, served over http like the first.
    const other = await startServedRoster();
    try {
      const back = await roster(['import', out], { ROSTER_URL: other.url });
      expect(back.stdout, back.stderr).toMatch(/failed\s+0/);
      expect(back.code).toBe(0);
      const names = async (x: TestRoster) =>
        ((await x.scim().get('/Users?count=1000&sortBy=userName')).body.Resources as { userName: string }[]).map(
          (u) => u.userName,
        );
      expect(await names(other.t)).toEqual(await names(t));
    } finally {
      await other.close();
    }
  });

  it('writes JSON to standard output', async () => {
    const run = await roster(['export', '--format', 'json']);
    expect(run.code).toBe(0);
    const users = JSON.parse(run.stdout) as { userName: string }[];
    expect(users.map((u) => u.userName)).toContain('cli1@example.com');
  });

  it('shows the server error and leaves no file behind', async () => {
    const out = path.join(dir.path, 'refused.csv');
    const run = await roster(['export', '--out', out], { ROSTER_ADMIN_TOKEN: TOKENS.scim });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^roster: server answered 403/);
    expect(existsSync(out)).toBe(false);
  });

  it('rejects an unknown format', async () => {
    const run = await roster(['export', '--format', 'xml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--format must be csv or json');
  });
});

describe('roster users', () => {
  it('activate prints a row per id and exits 1 when any failed', async () => {
    const a = await scimUser('cli-act-a@example.com', 'STAGED');
    const b = await scimUser('cli-act-b@example.com', 'STAGED');
    const run = await roster(['users', 'activate', a, UNKNOWN_ID, b, '--no-email']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+RESULT\s+MESSAGE$/);
    expect(lines[1]).toMatch(new RegExp(`^${a}\\s+ok\\s+state ACTIVE$`));
    expect(lines[2]).toMatch(new RegExp(`^${UNKNOWN_ID}\\s+error\\s+404 not_found: User ${UNKNOWN_ID} not found$`));
    expect(lines[3]).toMatch(new RegExp(`^${b}\\s+ok\\s+state ACTIVE$`));
    expect(run.stderr).toBe('2 ok, 1 failed\n');
    const user = await t.scim().get(`/Users/${a}`);
    expect(user.body[LIFECYCLE_SCHEMA].state).toBe('ACTIVE');
  });

  it('exits 0 when every user succeeded', async () => {
    const id = await scimUser('cli-sus@example.com', 'ACTIVE');
    const run = await roster(['users', 'suspend', id]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${id}\\s+ok\\s+state SUSPENDED`));
  });

  it('schedule creates a schedule per user', async () => {
    const id = await scimUser('cli-sched@example.com', 'STAGED');
    const run = await roster(['users', 'schedule', id, '--state', 'active', '--at', '2031-01-01T08:00:00Z']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`${id}\\s+ok\\s+ACTIVE scheduled at 2031-01-01T08:00:00.000Z \\(schedule \\S+\\)`),
    );
    const schedules = await t.admin().get(`/schedules?userId=${id}`);
    expect(schedules.body.schedules).toEqual([
      expect.objectContaining({ state: 'ACTIVE', at: '2031-01-01T08:00:00.000Z' }),
    ]);
  });

  it('send-activation and send-reset show the server refusal per user', async () => {
    const staged = await scimUser('cli-mail@example.com', 'STAGED');
    const activation = await roster(['users', 'send-activation', staged]);
    expect(activation.code).toBe(1);
    expect(activation.stdout).toMatch(new RegExp(`${staged}\\s+error\\s+409 not_eligible: `));
    const reset = await roster(['users', 'send-reset', staged, '--destination', 'alternate']);
    expect(reset.code).toBe(1);
    expect(reset.stdout).toMatch(/409 not_eligible: .*password reset emails go to ACTIVE users only/);
  });

  it('reads ids from standard input with -', async () => {
    const run = await roster(['users', 'suspend', '-'], {}, 'x1\nx2 x3\n');
    expect(
      run.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['x1', 'x2', 'x3']);
    expect(run.stderr).toBe('0 ok, 3 failed\n');
  });

  it.each([
    [['users'], /an action is required/],
    [['users', 'delete', 'a'], /unknown action "delete"/],
    [['users', 'activate'], /at least one user ID/],
    [['users', 'suspend', 'a', '--no-email'], /--no-email does not apply/],
    [['users', 'activate', 'a', '--destination', 'nowhere'], /--destination must be/],
    [['users', 'schedule', 'a', '--state', 'STAGED', '--at', '2030-01-01T00:00:00Z'], /--state ACTIVE or/],
    [['users', 'schedule', 'a', '--state', 'ACTIVE', '--at', 'tomorrow'], /--at must be/],
  ])('users usage error %j', async (args, message) => {
    const run = await roster(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});

describe('roster events after real changes', () => {
  it('--type user_create lists the users the CLI created', async () => {
    const run = await roster(['events', '--type', 'user_create', '--limit', '1000']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIMESTAMP\s+TYPE\s+USER\s+BY\s+SUCCESS/);
    expect(lines.slice(1).every((l) => /\suser_create\s/.test(l))).toBe(true);
    expect(run.stdout).toMatch(/user_create\s+cli1@example\.com\s+admin:admin\s+yes/);
    expect(run.stdout).toMatch(/user_create\s+cli-act-a@example\.com\s+scim:okta\s+yes/);
  });

  it('--type import_end shows the imports', async () => {
    const run = await roster(['events', '--type', 'import_end', '--json']);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as { events: { details: { total: number } }[] };
    expect(body.events.length).toBeGreaterThanOrEqual(2);
    expect(body.events.map((e) => e.details.total)).toContain(2);
  });
});

describe('roster serve', () => {
  it('starts the server from the environment and stops on SIGTERM', async () => {
    const port = await freePort();
    const dbName = `t_serve_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const mongo = new URL(inject('mongoUri'));
    mongo.pathname = `/${dbName}`;
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: dir.path,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        MONGODB_URI: mongo.href,
        ROSTER_ADMIN_TOKEN: TOKENS.admin,
        ROSTER_SCIM_TOKEN: TOKENS.scim,
        LOG_LEVEL: 'warn',
        ROSTER_DATA_DIR: path.join(dir.path, 'data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let healthy = false;
      for (let i = 0; i < 150 && !healthy && child.exitCode === null; i++) {
        healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      expect(healthy, output).toBe(true);
      const events = await roster(['events'], { ROSTER_URL: `http://127.0.0.1:${port}` });
      expect(events.stdout).toBe('No events.\n');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const client = new MongoClient(inject('mongoUri'));
      await client
        .db(dbName)
        .dropDatabase()
        .catch(() => undefined);
      await client.close();
    }
  });
});

describe('CLI helpers', () => {
  it('draws a progress bar only on a terminal', () => {
    const written: string[] = [];
    let now = 0;
    const tty = new ProgressBar({ isTTY: true, write: (s: string) => written.push(s) }, 2048, 'Uploading x', () => now);
    tty.add(1024);
    now = 50;
    tty.add(10); // throttled
    now = 200;
    tty.add(1014);
    expect(written).toHaveLength(2);
    expect(written[1]).toContain('[##############################] 100%  2.0 KB / 2.0 KB');
    tty.clear();
    expect(written[2]).toBe('\r\u001b[K');

    const none: string[] = [];
    const pipe = new ProgressBar({ isTTY: false, write: (s: string) => none.push(s) }, 10, 'x');
    pipe.add(10);
    pipe.status('waiting');
    pipe.clear();
    expect(none).toEqual([]);
  });

  it('formats tables with padded columns', () => {
    expect(
      formatTable(
        ['A', 'BB'],
        [
          ['long', 'x'],
          [1, undefined],
        ],
      ),
    ).toBe('A     BB\nlong  x\n1\n');
  });
});
