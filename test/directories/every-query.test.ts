import type { CommandStartedEvent, Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTORY_COLLECTIONS } from '../../src/db/directoryScope.js';
import { createTestDirectory, type TestDirectory } from '../helpers/directories.js';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import { LIFECYCLE, PATCH_OP, USER } from '../helpers/scim.js';

/**
 * "A query without a directory is a bug, caught by a test" (README "Directories", docs/ARCHITECTURE.md "Directories"): a
 * workload over every kind of request, in a second directory, watched command by command. Every
 * command on directory data must name one directory: its filters (find, count, distinct, update,
 * delete, findAndModify), its documents (insert) and its pipelines (aggregate).
 */
const { t, sink } = useMailRoster();
let a: TestDirectory;
const commands: CommandStartedEvent[] = [];
const watch = (event: CommandStartedEvent) => commands.push(event);

beforeAll(async () => {
  a = await createTestDirectory(t, 'watched', { source: 'integration' });
  t.client.on('commandStarted', watch);
});
afterAll(() => {
  t.client.off('commandStarted', watch);
});

/** The directory a filter names, or undefined. */
const named = (filter: Document | undefined) => (typeof filter?.directory === 'string' ? filter.directory : undefined);

/** What each command on directory data says its directory is: one entry per filter, document or pipeline. */
function directoriesNamed(command: Document): (string | undefined)[] {
  if ('find' in command) return [named(command.filter)];
  if ('count' in command || 'distinct' in command) return [named(command.query)];
  if ('findAndModify' in command) return [named(command.query)];
  if ('update' in command) return (command.updates as Document[]).map((u) => named(u.q));
  if ('delete' in command) return (command.deletes as Document[]).map((d) => named(d.q));
  if ('insert' in command) return (command.documents as Document[]).map((d) => named(d));
  if ('aggregate' in command) return [named((command.pipeline as Document[])[0]?.$match)];
  return [];
}

const collectionOf = (event: CommandStartedEvent) => String(event.command[event.commandName]);

describe('every command on directory data names its directory', () => {
  it('through SCIM, the admin API, jobs and emails', async () => {
    // SCIM: users (with the lifecycle extension, so an activation email goes out), filters, PATCH, PUT.
    const ann = await a.scim().post('/Users', {
      schemas: [USER, LIFECYCLE],
      userName: 'ann@watched.example',
      emails: [{ value: 'ann@watched.example', type: 'work', primary: true }],
      [LIFECYCLE]: { alternateEmail: 'ann@home.example' },
    });
    expect(ann.status, ann.text).toBe(201);
    const bob = await a.scim().post('/Users', { userName: 'bob@watched.example', title: 'Dev' });
    expect(bob.status).toBe(201);
    expect(
      (await a.scim().get(`/Users?filter=${encodeURIComponent('userName eq "ann@watched.example"')}`)).body
        .totalResults,
    ).toBe(1);
    expect((await a.scim().get('/Users?count=1&cursor')).status).toBe(200);
    expect(
      (
        await a.scim().patch(`/Users/${bob.body.id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', path: 'title', value: 'Lead' }],
        })
      ).status,
    ).toBe(200);
    expect(
      (await a.scim().put(`/Users/${bob.body.id}`, { userName: 'bob@watched.example', title: 'CTO' })).status,
    ).toBe(200);
    // Groups, members, /GroupMembers, /Bulk, /.search.
    const group = await a.scim().post('/Groups', { displayName: 'Watchers', members: [{ value: ann.body.id }] });
    expect(group.status).toBe(201);
    const add = await a.scim().patch(`/Groups/${group.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: bob.body.id }] }],
    });
    expect(add.status).toBe(204);
    expect(
      (await a.scim().get(`/Groups?filter=${encodeURIComponent(`members.value eq "${bob.body.id}"`)}`)).body
        .totalResults,
    ).toBe(1);
    expect(
      (await a.scim().get(`/GroupMembers?filter=${encodeURIComponent(`group.value eq "${group.body.id}"`)}`)).status,
    ).toBe(200);
    const bulk = await a.scim().post('/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'c', data: { userName: 'cat@watched.example' } },
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'g',
          data: { displayName: 'Bulked', members: [{ value: 'bulkId:c' }] },
        },
      ],
    });
    expect(bulk.status).toBe(200);
    expect((await a.scim().post('/.search', { filter: 'userName sw "c"' })).status).toBe(200);
    // The admin API: events, a schedule made and cancelled, an import, an export, a receiver.
    expect((await a.admin().get('/events?limit=5')).status).toBe(200);
    const schedule = await a
      .admin()
      .post(`/users/${bob.body.id}/schedules`, { state: 'SUSPENDED', at: '2030-01-01T00:00:00Z' });
    expect(schedule.status, schedule.text).toBe(201);
    expect((await a.admin().delete(`/schedules/${schedule.body.id}`)).status).toBe(204);
    const imported = await t.request
      .post(`/admin/v1/directories/${a.id}/imports`)
      .set('Authorization', `Bearer ${TOKENS.admin}`)
      .set('Content-Type', 'text/csv')
      .send(
        'Username,FirstName,LastName,Email,manager,Group1\ndan@watched.example,Dan,Lee,dan@watched.example,ann@watched.example,Watchers\n',
      );
    expect(imported.status, imported.text).toBe(200);
    expect((await a.admin().get('/exports/users?format=json')).status).toBe(200);
    const receiver = await a.admin().post('/event-receivers', { name: 'siem', delivery: 'poll', audience: 'siem' });
    expect(receiver.status, receiver.text).toBe(201);
    // The activation email of Ann (integration source: ACTIVE, no password) goes out through the jobs.
    await sink.waitFor(1);
    expect((await a.scim().delete(`/Users/${bob.body.id}`)).status).toBe(204);

    const onDirectoryData = commands.filter((c) => DIRECTORY_COLLECTIONS.has(collectionOf(c)));
    expect(onDirectoryData.length).toBeGreaterThan(50);
    const kinds = new Set(onDirectoryData.map((c) => c.commandName));
    for (const kind of ['find', 'insert', 'update', 'findAndModify', 'delete']) expect(kinds).toContain(kind);
    const without = onDirectoryData
      .flatMap((c) => directoriesNamed(c.command).map((d) => ({ d, c })))
      .filter(({ d }) => d === undefined)
      .map(({ c }) => `${c.commandName} ${collectionOf(c)} ${JSON.stringify(c.command).slice(0, 200)}`);
    expect(without).toEqual([]);
    // And what the workload in this directory touched is this directory's (sweeps visit the default one too).
    const others = onDirectoryData
      .flatMap((c) => directoriesNamed(c.command))
      .filter((d) => d !== a.id && d !== 'default');
    expect(others).toEqual([]);
  });
});
