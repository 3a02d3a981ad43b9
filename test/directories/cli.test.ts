import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCli } from '../helpers/cli.js';
import { TOKENS } from '../helpers/roster.js';

/**
 * The CLI and directories: `roster directories …` (the operators' API) and the global option
 * --directory / ROSTER_DIRECTORY that sends every admin call of any command to one directory's
 * admin API. The CLI runs as a child process against a served Roster.
 */

const { t, dir, server, roster } = useCli('roster-dir-cli-');

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const LIFECYCLE_SCHEMA = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A SCIM call on the served Roster with a bearer token (a directory's SCIM base when given). */
async function scim(method: string, base: string, p: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}${base}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/scim+json',
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const userBody = (userName: string) => ({
  schemas: [USER_SCHEMA, LIFECYCLE_SCHEMA],
  userName,
  emails: [{ value: userName, type: 'work', primary: true }],
  [LIFECYCLE_SCHEMA]: { state: 'ACTIVE' },
});

/** The user names of the JSON export of a CLI run. */
function exportedNames(stdout: string): string[] {
  return (JSON.parse(stdout) as { userName: string }[]).map((u) => u.userName).sort();
}

/** The rows of `directories list` keyed by slug. */
function listRows(stdout: string): Map<string, string[]> {
  const lines = stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^SLUG\s+NAME\s+STATUS\s+USERS\s+GROUPS\s+SCIM BASE URL$/);
  return new Map(
    lines.slice(1).map((line) => {
      const cells = line.split(/\s{2,}/);
      return [cells[0], cells];
    }),
  );
}

let acme: { id: string; slug: string; scimBaseUrl: string };
let acmeToken: string;
let acmeUserId: string;

beforeAll(async () => {
  // The default directory's own users, through the configuration's SCIM token.
  for (const name of ['home-1@default.example', 'home-2@default.example']) {
    expect((await t.scim().post('/Users', userBody(name))).status).toBe(201);
  }
});

describe('roster directories', () => {
  it('create makes a directory and prints it as JSON', async () => {
    const run = await roster(['directories', 'create', 'acme', '--name', 'Acme Corp']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    acme = JSON.parse(run.stdout);
    expect(acme).toMatchObject({ slug: 'acme', name: 'Acme Corp', status: 'active' });
    expect(acme.id).toMatch(UUID);
    expect(acme.scimBaseUrl).toMatch(/\/directories\/acme\/scim\/v2$/);
    const stored = await t.request
      .get(`/admin/v1/directories/${acme.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ slug: 'acme', name: 'Acme Corp' });
  });

  it('create shows the server refusal of a bad or taken slug', async () => {
    const bad = await roster(['directories', 'create', 'Not A Slug', '--name', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^roster: server answered 400 invalid_slug: /);
    const taken = await roster(['directories', 'create', 'acme', '--name', 'Again']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^roster: server answered 409 slug_taken: /);
  });

  it('token mints a SCIM token of the directory, shown once, that works in it and nowhere else', async () => {
    const run = await roster(['directories', 'token', 'acme', '--name', 'acme-idp', '--source', 'integration']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^directory\\s+acme \\(${acme.id}\\)$`, 'm'));
    expect(run.stdout).toMatch(/^kind\s+scim$/m);
    expect(run.stdout).toMatch(/^source\s+integration$/m);
    expect(run.stdout).toContain('shown only now');
    acmeToken = /^(rst_\S+)$/m.exec(run.stdout)?.[1] ?? '';
    expect(acmeToken).toMatch(/^rst_[A-Za-z0-9_-]{20,}$/);

    const created = await scim('POST', '/directories/acme/scim/v2', '/Users', acmeToken, userBody('wile@acme.example'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body[LIFECYCLE_SCHEMA].source).toBe('integration');
    acmeUserId = created.body.id;
    const group = await scim('POST', '/directories/acme/scim/v2', '/Groups', acmeToken, {
      schemas: [GROUP_SCHEMA],
      displayName: 'Coyotes',
    });
    expect(group.status).toBe(201);
    // Not a credential of the default directory.
    expect((await scim('GET', '/scim/v2', '/Users', acmeToken)).status).toBe(401);
    // The token is listed (without its value) in the directory's tokens.
    const tokens = await t.request
      .get(`/admin/v1/directories/${acme.id}/tokens`)
      .set('Authorization', `Bearer ${TOKENS.admin}`);
    expect(tokens.body.tokens.map((x: { name: string }) => x.name)).toContain('acme-idp');
    expect(JSON.stringify(tokens.body)).not.toContain(acmeToken);
  });

  it('list shows every directory with its status, counts and SCIM base URL', async () => {
    const run = await roster(['directories', 'list']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rows = listRows(run.stdout);
    expect(rows.get('acme')).toEqual(['acme', 'Acme Corp', 'active', '1', '1', acme.scimBaseUrl]);
    expect(rows.get('default')?.slice(0, 5)).toEqual(['default', 'Default directory', 'active', '2', '0']);
    expect(rows.get('default')?.[5]).toMatch(/\/scim\/v2$/);
    expect(rows.get('default')?.[5]).not.toContain('/directories/');

    const json = await roster(['directories', 'list', '--json']);
    const listed = JSON.parse(json.stdout) as { id: string; counts: { users: number } }[];
    expect(listed.find((d) => d.id === acme.id)?.counts.users).toBe(1);
  });
});

describe('--directory', () => {
  it('sends an existing command to the directory: events of that directory only', async () => {
    const inAcme = await roster(['--directory', 'acme', 'events', '--type', 'user_create']);
    expect(inAcme.stderr).toBe('');
    expect(inAcme.code).toBe(0);
    expect(inAcme.stdout).toMatch(/user_create\s+wile@acme\.example\s+scim:acme-idp/);
    expect(inAcme.stdout).not.toContain('default.example');

    const inDefault = await roster(['events', '--type', 'user_create']);
    expect(inDefault.code).toBe(0);
    expect(inDefault.stdout).toContain('home-1@default.example');
    expect(inDefault.stdout).toContain('home-2@default.example');
    expect(inDefault.stdout).not.toContain('acme.example');
  });

  it('is taken before or after the command, by slug or by id, or from ROSTER_DIRECTORY', async () => {
    const acmeOnly = ['wile@acme.example'];
    const defaultOnly = ['home-1@default.example', 'home-2@default.example'];
    for (const [args, env, expected] of [
      [['--directory', 'acme', 'export', '--format', 'json'], {}, acmeOnly],
      [['export', '--format', 'json', '--directory=acme'], {}, acmeOnly],
      [['export', '--directory', acme.id, '--format', 'json'], {}, acmeOnly],
      [['export', '--format', 'json'], { ROSTER_DIRECTORY: 'acme' }, acmeOnly],
      // --directory wins over ROSTER_DIRECTORY; `default` is the default directory.
      [['export', '--format', 'json', '--directory', 'default'], { ROSTER_DIRECTORY: 'acme' }, defaultOnly],
      [['export', '--format', 'json'], {}, defaultOnly],
    ] as [string[], Record<string, string>, string[]][]) {
      const run = await roster(args, env);
      expect(run.stderr, args.join(' ')).toBe('');
      expect(exportedNames(run.stdout), args.join(' ')).toEqual(expected);
    }
  });

  it('acts on the directory: users actions and an import land in it', async () => {
    // The acme user is unknown to the default directory...
    const outside = await roster(['users', 'suspend', acmeUserId]);
    expect(outside.code).toBe(1);
    expect(outside.stdout).toMatch(new RegExp(`${acmeUserId}\\s+error\\s+404 not_found`));
    // ...and suspended in its own.
    const inside = await roster(['--directory', 'acme', 'users', 'suspend', acmeUserId]);
    expect(inside.code).toBe(0);
    expect(inside.stdout).toMatch(new RegExp(`${acmeUserId}\\s+ok\\s+state SUSPENDED`));
    const user = await scim('GET', '/directories/acme/scim/v2', `/Users/${acmeUserId}`, acmeToken);
    expect(user.body[LIFECYCLE_SCHEMA].state).toBe('SUSPENDED');

    // An upload is streamed to the directory too (after the slug is looked up).
    const file = path.join(dir.path, 'acme.csv');
    writeFileSync(file, 'Username,Email\nroad@acme.example,road@acme.example\n');
    const imported = await roster(['import', file, '--directory', 'acme']);
    expect(imported.stdout, imported.stderr).toMatch(/created\s+1/);
    expect(imported.code).toBe(0);
    const found = await scim(
      'GET',
      '/directories/acme/scim/v2',
      `/Users?filter=${encodeURIComponent('userName eq "road@acme.example"')}`,
      acmeToken,
    );
    expect(found.body.totalResults).toBe(1);
    const notHome = await t.scim().get(`/Users?filter=${encodeURIComponent('userName eq "road@acme.example"')}`);
    expect(notHome.body.totalResults).toBe(0);
  });

  it('an unknown directory is a usage error, before any command runs', async () => {
    for (const [args, env] of [
      [['--directory', 'nope', 'events'], {}],
      [['events'], { ROSTER_DIRECTORY: 'nope' }],
      [['users', 'suspend', acmeUserId, '--directory', 'nope'], {}],
    ] as [string[], Record<string, string>][]) {
      const run = await roster(args, env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^roster: unknown directory "nope" \(no directory has this id or slug/);
      expect(run.stdout).toBe('');
    }
    // Nothing was done to the user.
    const user = await scim('GET', '/directories/acme/scim/v2', `/Users/${acmeUserId}`, acmeToken);
    expect(user.body[LIFECYCLE_SCHEMA].state).toBe('SUSPENDED');
  });

  it('refuses a missing value and does not apply to serve or directories', async () => {
    const missing = await roster(['events', '--directory']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('roster: --directory needs a directory id or slug');
    const twice = await roster(['--directory', 'acme', 'events', '--directory', 'default']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--directory is given twice');
    const operators = await roster(['--directory', 'acme', 'directories', 'list']);
    expect(operators.code).toBe(2);
    expect(operators.stderr).toMatch(/^roster: directories: --directory does not apply/);
    expect(operators.stdout).toBe('');
    // ROSTER_DIRECTORY (set for the other commands) does not change what `directories` does.
    const listed = await roster(['directories', 'list'], { ROSTER_DIRECTORY: 'acme' });
    expect(listed.code).toBe(0);
    expect(listRows(listed.stdout).has('default')).toBe(true);
  });

  it("a directory's own admin token works with --directory ID (not by slug, not without)", async () => {
    const minted = await roster(['directories', 'token', acme.id, '--name', 'acme-ops', '--kind', 'admin', '--json']);
    expect(minted.code).toBe(0);
    const { token, kind } = JSON.parse(minted.stdout) as { token: string; kind: string };
    expect(kind).toBe('admin');
    const env = { ROSTER_ADMIN_TOKEN: token };
    const byId = await roster(['--directory', acme.id, 'export', '--format', 'json'], env);
    expect(byId.stderr).toBe('');
    expect(exportedNames(byId.stdout)).toEqual(['road@acme.example', 'wile@acme.example']);
    // Another directory's token is no credential in the default context, where slugs are looked up.
    const bySlug = await roster(['--directory', 'acme', 'export', '--format', 'json'], env);
    expect(bySlug.code).toBe(1);
    expect(bySlug.stderr).toMatch(
      /^roster: server answered 401 .*looking up directory "acme" needs an operator's token/,
    );
    expect(bySlug.stdout).toBe('');
    // An admin token of the default directory reads no list either (403): a slug is a usage error.
    const home = JSON.parse(
      (await roster(['directories', 'token', 'default', '--name', 'home-ops', '--kind', 'admin', '--json'])).stdout,
    ) as { token: string };
    const homeBySlug = await roster(['--directory', 'acme', 'events'], { ROSTER_ADMIN_TOKEN: home.token });
    expect(homeBySlug.code).toBe(2);
    expect(homeBySlug.stderr).toContain("only an operator's token may name a directory by its slug");
    const unscoped = await roster(['export', '--format', 'json'], env);
    expect(unscoped.code).toBe(1);
    expect(unscoped.stderr).toMatch(/^roster: server answered 401/);
    expect(unscoped.stderr).not.toContain(token);
  });
});

describe('roster directories suspend, resume, delete', () => {
  it('suspend refuses the SCIM API (the admin API still answers), resume allows it again', async () => {
    const suspended = await roster(['directories', 'suspend', 'acme']);
    expect(suspended.stderr).toBe('');
    expect(suspended.code).toBe(0);
    expect(suspended.stdout).toBe(`Directory acme (${acme.id}) is now suspended.\n`);
    expect((await scim('GET', '/directories/acme/scim/v2', '/Users', acmeToken)).status).toBe(403);
    expect(listRows((await roster(['directories', 'list'])).stdout).get('acme')?.[2]).toBe('suspended');
    const events = await roster(['--directory', 'acme', 'events', '--type', 'directory_updated']);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/directory_updated\s+acme\s+admin:admin/);

    const resumed = await roster(['directories', 'resume', acme.id]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toBe(`Directory acme (${acme.id}) is now active.\n`);
    expect((await scim('GET', '/directories/acme/scim/v2', '/Users', acmeToken)).status).toBe(200);
  });

  it('delete removes a directory from use; --directory then names a deleted one', async () => {
    const created = await roster(['directories', 'create', 'gone', '--name', 'Gone Inc']);
    const gone = JSON.parse(created.stdout) as { id: string };
    const run = await roster(['directories', 'delete', 'gone']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Deleted directory gone \\(${gone.id}\\); its data is kept until \\d{4}-`));
    const stored = await t.request
      .get(`/admin/v1/directories/${gone.id}`)
      .set('Authorization', `Bearer ${TOKENS.admin}`);
    expect(stored.body.status).toBe('deleted');
    const inside = await roster(['--directory', 'gone', 'events']);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/^roster: directory "gone" is deleted/);
    const unknown = await roster(['directories', 'suspend', 'no-such-directory']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^roster: unknown directory "no-such-directory"/);
  });

  it('the default directory is neither suspended nor deleted (the server says why)', async () => {
    const run = await roster(['directories', 'suspend', 'default']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^roster: server answered 409 default_directory: /);
  });
});

describe('help and usage', () => {
  it('documents the command and the global option', async () => {
    const global = await roster(['--help'], { ROSTER_ADMIN_TOKEN: undefined });
    expect(global.stdout).toMatch(/^ {2}directories <action> /m);
    expect(global.stdout).toMatch(/^ {2}--directory ID\|SLUG /m);
    expect(global.stdout).toMatch(/^ {2}ROSTER_DIRECTORY /m);
    for (const args of [
      ['directories', '--help'],
      ['help', 'directories'],
      ['directories', 'token', '-h'],
    ]) {
      const run = await roster(args, { ROSTER_ADMIN_TOKEN: undefined });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: roster directories <action>/);
      expect(run.stdout).toContain('token ID|SLUG --name NAME');
    }
  });

  it.each([
    [['directories'], /an action is required/],
    [['directories', 'rename', 'acme'], /unknown action "rename"/],
    [['directories', 'create', '--name', 'x'], /the new directory's slug is required/],
    [['directories', 'create', 'x'], /create: --name is required/],
    [['directories', 'token', 'acme'], /token: --name is required/],
    [['directories', 'token', 'acme', '--name', 'x', '--kind', 'root'], /--kind must be scim or admin/],
    [['directories', 'token', 'acme', '--name', 'x', '--source', 'okta'], /--source must be manual, bulk or/],
    [['directories', 'suspend'], /a directory id or slug is required/],
    [['directories', 'list', 'acme'], /unexpected argument "acme"/],
    [['directories', 'suspend', 'acme', '--name', 'x'], /--name applies to create and token only/],
  ])('usage error %j', async (args, message) => {
    const run = await roster(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('See: roster directories --help');
  });
});
