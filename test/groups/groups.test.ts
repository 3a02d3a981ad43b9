import { beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, useTestRoster } from '../helpers/roster.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const t = useTestRoster();
let users: { id: string; userName: string }[] = [];
beforeAll(async () => {
  users = [];
  for (let i = 0; i < 6; i++) {
    const res = await t.scim().post('/Users', { userName: `member${i}@example.com`, displayName: `Member ${i}` });
    users.push(res.body);
  }
});

const memberIds = (group: { members?: { value: string }[] }) => (group.members ?? []).map((m) => m.value).sort();

describe('groups', () => {
  it('creates a group with members rendered with value, $ref, display and type', async () => {
    const res = await t.scim().post('/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Engineering',
      members: [{ value: users[0].id }, { value: users[1].id }],
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`http://roster.test/scim/v2/Groups/${res.body.id}`);
    expect(res.body.members).toContainEqual({
      value: users[0].id,
      $ref: `http://roster.test/scim/v2/Users/${users[0].id}`,
      type: 'User',
      display: 'Member 0',
    });
  });

  it('refuses a duplicate displayName case-insensitively', async () => {
    await t.scim().post('/Groups', { displayName: 'Sales' });
    const res = await t.scim().post('/Groups', { displayName: 'SALES' });
    expect(res.status).toBe(409);
    expect(res.body.scimType).toBe('uniqueness');
  });

  it('refuses unknown members with 400 invalidValue', async () => {
    const res = await t.scim().post('/Groups', { displayName: 'Ghosts', members: [{ value: 'no-such-user' }] });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidValue');
  });

  it('answers a member PATCH in order: unknown group 404, stale If-Match 412, then unknown member 400', async () => {
    const add = (value: string) => ({
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value }] }],
    });
    expect((await t.scim().patch('/Groups/no-such-group', add('nobody'))).status).toBe(404);
    const group = (await t.scim().post('/Groups', { displayName: 'Ordered errors' })).body;
    const stale = await t.scim().patch(`/Groups/${group.id}`, add('nobody')).set('If-Match', 'W/"99"');
    expect(stale.status).toBe(412);
    const unknown = await t.scim().patch(`/Groups/${group.id}`, add('nobody'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.scimType).toBe('invalidValue');
    const self = await t.scim().patch(`/Groups/${group.id}`, add(group.id));
    expect(self.status).toBe(400);
    await t.scim().patch(`/Groups/${group.id}`, add(users[2].id)).expect(204);
    expect(memberIds((await t.scim().get(`/Groups/${group.id}`)).body)).toEqual([users[2].id]);
  });

  it('adds and removes single members with PATCH, answering 204 with an ETag', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Patchers', members: [{ value: users[0].id }] })).body;
    const add = await t.scim().patch(`/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: users[2].id }] }],
    });
    expect(add.status).toBe(204);
    expect(add.headers.etag).toBe('W/"2"');
    const remove = await t.scim().patch(`/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${users[0].id}"]` }],
    });
    expect(remove.status).toBe(204);
    const after = (await t.scim().get(`/Groups/${group.id}`)).body;
    expect(memberIds(after)).toEqual([users[2].id]);
  });

  it('answers a member filter with raw control characters with 400, not 500', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Controlled' })).body;
    const res = await t.scim().patch(`/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: 'members[value eq "a\r\nb"]' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidFilter');
  });

  it('returns the group from PATCH when attributes are requested', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Returners' })).body;
    const res = await t.scim().patch(`/Groups/${group.id}?attributes=displayName,members`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: users[3].id }] }],
    });
    expect(res.status).toBe(200);
    expect(memberIds(res.body)).toEqual([users[3].id]);
  });

  it('never loses a member under parallel membership PATCHes', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Parallel' })).body;
    await Promise.all(
      users.map((u) =>
        t.scim().patch(`/Groups/${group.id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: u.id }] }],
        }),
      ),
    );
    const after = (await t.scim().get(`/Groups/${group.id}`)).body;
    expect(memberIds(after)).toEqual(users.map((u) => u.id).sort());
  });

  it('replaces members with PUT and renames', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Putters', members: [{ value: users[0].id }] })).body;
    const res = await t.scim().put(`/Groups/${group.id}`, {
      displayName: 'Putters 2',
      members: [{ value: users[4].id }, { value: users[5].id }],
    });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe('Putters 2');
    expect(memberIds(res.body)).toEqual([users[4].id, users[5].id].sort());
  });

  it('shows direct and indirect groups on users and supports nested groups', async () => {
    const inner = (await t.scim().post('/Groups', { displayName: 'Inner', members: [{ value: users[5].id }] })).body;
    const outer = (await t.scim().post('/Groups', { displayName: 'Outer', members: [{ value: inner.id }] })).body;
    const outerRead = (await t.scim().get(`/Groups/${outer.id}`)).body;
    expect(outerRead.members).toEqual([expect.objectContaining({ value: inner.id, type: 'Group', display: 'Inner' })]);
    const user = (await t.scim().get(`/Users/${users[5].id}`)).body;
    expect(user.groups).toContainEqual(expect.objectContaining({ value: inner.id, display: 'Inner', type: 'direct' }));
    expect(user.groups).toContainEqual(
      expect.objectContaining({ value: outer.id, display: 'Outer', type: 'indirect' }),
    );
    const self = await t.scim().patch(`/Groups/${inner.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: inner.id }] }],
    });
    expect(self.status).toBe(400);
  });

  it('filters by displayName and members.value, and excludes members cheaply', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Filterable', members: [{ value: users[1].id }] }))
      .body;
    const byName = await t
      .scim()
      .get(`/Groups?filter=${encodeURIComponent('displayName eq "filterable"')}&excludedAttributes=members`);
    expect(byName.body.totalResults).toBe(1);
    expect(byName.body.Resources[0].id).toBe(group.id);
    expect(byName.body.Resources[0].members).toBeUndefined();
    const byMember = await t
      .scim()
      .get(`/Groups?filter=${encodeURIComponent(`members.value eq "${users[1].id}"`)}&attributes=displayName`);
    expect(byMember.body.Resources.map((g: { displayName: string }) => g.displayName)).toContain('Filterable');
    const usersInGroup = await t.scim().get(`/Users?filter=${encodeURIComponent(`groups.value eq "${group.id}"`)}`);
    expect(usersInGroup.body.Resources.map((u: { id: string }) => u.id)).toEqual([users[1].id]);
  });

  it('removes a deleted user from its groups and deletes groups with 204', async () => {
    const doomed = (await t.scim().post('/Users', { userName: 'doomed@example.com' })).body;
    const group = (
      await t.scim().post('/Groups', { displayName: 'Doomed', members: [{ value: doomed.id }, { value: users[0].id }] })
    ).body;
    await t.scim().delete(`/Users/${doomed.id}`);
    expect(memberIds((await t.scim().get(`/Groups/${group.id}`)).body)).toEqual([users[0].id]);
    expect((await t.scim().delete(`/Groups/${group.id}`)).status).toBe(204);
    expect((await t.scim().get(`/Groups/${group.id}`)).status).toBe(404);
    expect(await t.db.collection('memberships').countDocuments({ groupId: group.id })).toBe(0);
  });

  it('records group events with who acted', async () => {
    const group = (await t.scim().post('/Groups', { displayName: 'Evented' })).body;
    await t.scim().patch(`/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { id: group.id, displayName: 'Evented 2' } }],
    });
    const types = (await t.db.collection('events').find({ 'resource.id': group.id }).toArray()).map((e) => e.type);
    expect(types).toEqual(['group_create', 'group_update']);
  });
});

describe('reading a large group', () => {
  it('streams the full group: the same document as the built one, every member once, ETag and 304', async () => {
    const big = await startTestRoster({ scim: { bulk: { maxOperations: 1000, maxPayloadSize: 1_048_576 } } });
    try {
      const ids: string[] = [];
      for (let batch = 0; batch < 3; batch++) {
        const Operations = Array.from({ length: 800 }, (_, i) => ({
          method: 'POST',
          bulkId: `b${batch}-${i}`,
          path: '/Users',
          data: { userName: `streamed${batch}-${i}@example.com`, ...(i % 2 ? { displayName: `Streamed ${i}` } : {}) },
        }));
        const res = await big
          .scim()
          .post('/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations });
        expect(res.status).toBe(200);
        for (const op of res.body.Operations) ids.push(op.location.split('/').pop());
      }
      const group = (await big.scim().post('/Groups', { displayName: 'Everyone streamed' })).body;
      const add = await big.scim().patch(`/Groups/${group.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }],
      });
      expect(add.status).toBe(204);

      const res = await big.scim().get(`/Groups/${group.id}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('application/scim+json');
      expect(res.headers.etag).toBe(add.headers.etag);
      expect(res.body.members).toHaveLength(2400);
      expect(new Set(res.body.members.map((m: { value: string }) => m.value)).size).toBe(2400);
      const built = await big.roster.groups.get(group.id);
      expect(res.body).toEqual(built.resource);
      expect(res.body.members[1]).toMatchObject({
        type: 'User',
        $ref: expect.stringContaining('/Users/'),
        display: expect.any(String),
      });

      const unchanged = await big.scim().get(`/Groups/${group.id}`).set('If-None-Match', res.headers.etag);
      expect(unchanged.status).toBe(304);
      const empty = (await big.scim().post('/Groups', { displayName: 'Nobody' })).body;
      const emptyRead = await big.scim().get(`/Groups/${empty.id}`);
      expect(emptyRead.body).toEqual((await big.roster.groups.get(empty.id)).resource);
      expect(emptyRead.body.members).toBeUndefined();
    } finally {
      await big.close();
    }
  });
});
