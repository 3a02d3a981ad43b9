import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { runCli } from '../helpers/cli.js';
import { startTestRoster, TOKENS } from '../helpers/roster.js';
import { useServedRoster } from '../helpers/server.js';
import { FAST, PROV, startReceiver, until, USER } from './receiver.js';

const SECRET = 'Bearer push-secret-never-shown-7f3a';

const { t, server } = useServedRoster();

const patch = (id: string, body: unknown, token = TOKENS.admin) =>
  t.request
    .patch(`/admin/v1/event-receivers/${id}`)
    .set('Authorization', `Bearer ${token}`)
    .send(body as object);

describe('receiver API', () => {
  it('needs an admin token: none is 401, a SCIM or verify token 403', async () => {
    await t.request.get('/admin/v1/event-receivers').expect(401);
    await t.admin(TOKENS.scim).get('/event-receivers').expect(403);
    await t.admin(TOKENS.verify).post('/event-receivers', {}).expect(403);
    await t.admin('wrong-token').get('/event-receivers').expect(401);
  });

  it('refuses bad registrations with a clear 400', async () => {
    const push = { name: 'x', delivery: 'push', endpoint: 'https://r.example/events', audience: 'x' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...push, delivery: 'carrier-pigeon' }, /delivery must be "push" or "poll"/],
      [{ ...push, endpoint: 'ftp://r.example/' }, /http:\/\/ or https:\/\//],
      [{ ...push, endpoint: 'not a url' }, /not a URL/],
      [{ ...push, endpoint: 'https://user:pw@r.example/' }, /credentials/],
      [{ ...push, endpoint: undefined }, /endpoint is required/],
      [{ ...push, audience: '' }, /audience must be a non-empty string/],
      [{ ...push, audience: undefined }, /audience is required/],
      [{ ...push, name: undefined }, /name is required/],
      [{ ...push, events: ['urn:ietf:params:scim:event:prov:explode'] }, /unknown event URI/],
      [{ ...push, events: [`${PROV}:create:full`, `${PROV}:create:notice`] }, /choose one/],
      [{ ...push, events: 'all' }, /events must be a list of strings/],
      [{ ...push, level: 'verbose' }, /level must be/],
      [{ ...push, attributes: ['name; drop'] }, /not an attribute name/],
      [{ ...push, authorization: 'Bearer a\r\nX-Evil: 1' }, /one line/],
      [{ ...push, colour: 'blue' }, /unknown field "colour"/],
      [{ name: 'p', delivery: 'poll', audience: 'p', endpoint: 'https://r.example/' }, /push delivery only/],
    ];
    for (const [body, message] of cases) {
      const res = await t.admin().post('/event-receivers', body).expect(400);
      expect(res.body.error.code).toBe('invalid_receiver');
      expect(res.body.error.message).toMatch(message);
    }
    const notJson = await t
      .admin()
      .post('/event-receivers')
      .set('Content-Type', 'application/json')
      .send('{')
      .expect(400);
    expect(notJson.body.error.code).toBe('invalid_json');
    expect((await t.admin().get('/event-receivers')).body.receivers).toEqual([]);
  });

  it('registers, lists, shows, changes and deletes a receiver; the Authorization value is never shown', async () => {
    const created = await t
      .admin()
      .post('/event-receivers', {
        name: 'mirror',
        delivery: 'push',
        endpoint: 'https://mirror.example/events',
        authorization: SECRET,
        audience: 'https://mirror.example',
        events: [`${PROV}:create:full`, `${PROV}:delete`],
        attributes: ['userName'],
      })
      .expect(201);
    expect(created.headers.location).toBe(`http://roster.test/admin/v1/event-receivers/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: 'mirror',
      delivery: 'push',
      endpoint: 'https://mirror.example/events',
      authorization: 'set',
      level: 'notice',
      enabled: true,
    });
    expect(created.body.pollToken).toBeUndefined();
    const id = created.body.id as string;
    const answers = [
      created,
      await t.admin().get('/event-receivers').expect(200),
      await t.admin().get(`/event-receivers/${id}`).expect(200),
      await patch(id, { enabled: false, name: 'mirror-2' }).expect(200),
      await t.request.get('/admin/v1/settings').set('Authorization', `Bearer ${TOKENS.admin}`).expect(200),
    ];
    for (const answer of answers) expect(JSON.stringify(answer.body)).not.toContain('push-secret');
    expect(answers[3].body).toMatchObject({ enabled: false, name: 'mirror-2', authorization: 'set' });
    // PATCH keeps what it does not name; authorization null removes the header; delivery cannot change.
    expect((await patch(id, { authorization: null }).expect(200)).body.authorization).toBe('none');
    expect((await patch(id, { delivery: 'poll' }).expect(400)).body.error.message).toMatch(/delivery cannot change/);
    await patch(randomUUID(), { enabled: true }).expect(404);
    // PUT replaces every field: what it leaves out goes back to its default.
    await patch(id, { authorization: SECRET }).expect(200);
    const put = (body: unknown) =>
      t.request
        .put(`/admin/v1/event-receivers/${id}`)
        .set('Authorization', `Bearer ${TOKENS.admin}`)
        .send(body as object);
    const replaced = await put({
      name: 'm3',
      delivery: 'push',
      endpoint: 'https://m3.example/e',
      audience: 'm3',
    }).expect(200);
    expect(replaced.body).toMatchObject({
      name: 'm3',
      authorization: 'none',
      events: [],
      attributes: [],
      enabled: true,
    });
    expect((await put({ name: 'm3', delivery: 'poll', audience: 'm3' }).expect(400)).body.error.message).toMatch(
      /must stay "push"/,
    );
    await t.admin().delete(`/event-receivers/${id}`).expect(204);
    await t.admin().delete(`/event-receivers/${id}`).expect(404);
    await t.admin().get(`/event-receivers/${id}`).expect(404);
  });

  it('ServiceProviderConfig advertises the event URIs and asynchronous requests on request', async () => {
    const res = await t.scim().get('/ServiceProviderConfig').expect(200);
    expect(res.body.securityEvents.asyncRequest).toBe('request');
    expect(res.body.securityEvents.eventUris).toEqual(
      expect.arrayContaining([
        `${PROV}:create:notice`,
        `${PROV}:patch:full`,
        `${PROV}:deactivate`,
        'urn:roster:params:event:user_lockout',
      ]),
    );
    const schema = await t
      .scim()
      .get('/Schemas/urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig')
      .expect(200);
    expect(schema.body.attributes.map((a: { name: string }) => a.name)).toContain('securityEvents');
  });
});

describe('roster receivers (the CLI, as a child process)', () => {
  const roster = (args: string[], env: Record<string, string> = {}) =>
    runCli(['receivers', ...args], { url: server.url, env });

  it('adds, lists, shows, disables and removes receivers', async () => {
    const added = await roster(
      [
        'add',
        '--name',
        'cli-push',
        '--push',
        'https://cli.example/sets',
        '--audience',
        'cli',
        '--event',
        `${PROV}:delete`,
        '--authorization-env',
        'PUSH_AUTH',
        '--json',
      ],
      { PUSH_AUTH: SECRET },
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const receiver = JSON.parse(added.stdout) as { id: string; authorization: string; events: string[] };
    expect(receiver).toMatchObject({ authorization: 'set', events: [`${PROV}:delete`] });
    expect((await t.admin().get(`/event-receivers/${receiver.id}`)).body.endpoint).toBe('https://cli.example/sets');

    const poll = await roster([
      'add',
      '--name',
      'cli-poll',
      '--poll',
      '--audience',
      'siem',
      '--client',
      'token:cli-client',
    ]);
    expect(poll.code).toBe(0);
    expect(poll.stdout).toMatch(/async responses for\s+token:cli-client/);
    expect(poll.stdout).toMatch(/Poll token \(shown once[^\n]*\n[A-Za-z0-9_-]{43}\n/);

    const list = await roster(['list']);
    expect(list.stdout).toMatch(/cli-push\s+push\s+https:\/\/cli\.example\/sets\s+1\s+yes/);
    expect(list.stdout).toMatch(/cli-poll\s+poll\s+all \(notice\)\s+yes/);
    expect(list.stdout + poll.stdout + added.stdout).not.toContain('push-secret');

    expect((await roster(['disable', receiver.id])).stdout).toMatch(/enabled\s+no/);
    expect((await roster(['show', receiver.id])).stdout).toMatch(/deliveries\s+0 pending, 0 delivered, 0 failed/);
    expect((await roster(['remove', receiver.id])).stdout).toBe(`Removed event receiver ${receiver.id}.\n`);
    const missing = await roster(['show', receiver.id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No event receiver/);
  }, 120_000);

  it('explains wrong usage and server refusals', async () => {
    const none = await roster([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/an action is required/);
    const both = await roster(['add', '--name', 'x', '--audience', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either --push URL or --poll/);
    const unset = await roster([
      'add',
      '--name',
      'x',
      '--audience',
      'x',
      '--push',
      'https://x.example',
      '--authorization-env',
      'NOPE_UNSET',
    ]);
    expect(unset.code).toBe(2);
    const refused = await roster(['add', '--name', 'x', '--audience', 'x', '--push', 'gopher://x']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/http:\/\/ or https:\/\//);
    const help = await roster(['--help']);
    expect(help.stdout).toMatch(/--authorization-env VAR/);
  }, 120_000);
});

describe('logs', () => {
  it('never contain the Authorization value sent to a receiver, even when its pushes fail', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logged = await startTestRoster(FAST, { start: true, logger: createLogger('trace', sink) });
    const receiver = await startReceiver((n) =>
      n === 1 ? { status: 500 } : n === 2 ? { status: 400, body: { err: 'authentication_failed' } } : { status: 202 },
    );
    await logged
      .admin()
      .post('/event-receivers', {
        name: 'logged',
        delivery: 'push',
        endpoint: receiver.url,
        authorization: SECRET,
        audience: 'l',
      })
      .expect(201);
    await logged.scim().post('/Users', USER('logme')).expect(201);
    await until(() => receiver.calls() >= 2);
    await logged.roster.securityEvents.settled();
    await logged.close();
    await receiver.close();
    const text = lines.join('');
    expect(text).toContain('security event push failed; retrying');
    expect(text).toContain('receiver refused a security event token');
    expect(text).not.toContain('push-secret');
  });
});
