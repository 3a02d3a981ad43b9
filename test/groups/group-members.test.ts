import { beforeAll, describe, expect, it } from 'vitest';
import { useTestRoster } from '../helpers/roster.js';

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const GROUP_MEMBER = 'urn:ietf:params:scim:schemas:core:2.0:GroupMember';
const MEMBERS = 250;

const t = useTestRoster();
let userIds: string[] = [];
let groupId: string;
let otherGroupId: string;

beforeAll(async () => {
  const res = await t.scim().post('/Bulk', {
    schemas: [BULK],
    Operations: Array.from({ length: MEMBERS + 2 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `u${i}`,
      data: { userName: `gm${i}@example.com` },
    })),
  });
  userIds = res.body.Operations.map((op: { location: string }) => op.location.split('/').pop());
  const group = await t.scim().post('/Groups', {
    displayName: 'All employees',
    members: userIds.slice(0, MEMBERS).map((value) => ({ value })),
  });
  groupId = group.body.id;
  otherGroupId = (await t.scim().post('/Groups', { displayName: 'Managers', members: [{ value: userIds[0] }] })).body
    .id;
});

const inGroup = (id = groupId) => `filter=${encodeURIComponent(`group.value eq "${id}"`)}`;

async function readAllByCursor(count: number, between?: (page: number) => Promise<void>) {
  const seen: string[] = [];
  let cursor = '';
  for (let page = 0; page < 100; page++) {
    const res = await t.scim().get(`/GroupMembers?${inGroup()}&count=${count}&cursor=${cursor}`).expect(200);
    seen.push(...res.body.Resources.map((r: { member: { value: string } }) => r.member.value));
    if (!res.body.nextCursor) return seen;
    cursor = encodeURIComponent(res.body.nextCursor);
    await between?.(page);
  }
  throw new Error('the cursor never ended');
}

describe('/GroupMembers: a large group read in pages (draft-zollner-scim-group-members)', () => {
  it('pages through every member once by cursor, in a stable order, with the total', async () => {
    const first = await t.scim().get(`/GroupMembers?${inGroup()}&count=100&cursor=`).expect(200);
    expect(first.body.totalResults).toBe(MEMBERS);
    expect(first.body.Resources[0]).toMatchObject({
      schemas: [GROUP_MEMBER],
      group: { value: groupId, $ref: `http://roster.test/scim/v2/Groups/${groupId}` },
      member: { type: 'User' },
      meta: { resourceType: 'GroupMember' },
    });
    const all = await readAllByCursor(100);
    expect(all).toHaveLength(MEMBERS);
    expect(new Set(all).size).toBe(MEMBERS);
    expect(new Set(all)).toEqual(new Set(userIds.slice(0, MEMBERS)));
    expect([...all].sort()).toEqual(all);
  });

  it('pages by startIndex too, the pages joining without gaps', async () => {
    const pages = await Promise.all(
      [1, 101, 201].map((start) => t.scim().get(`/GroupMembers?${inGroup()}&startIndex=${start}&count=100`)),
    );
    const all = pages.flatMap((p) => p.body.Resources.map((r: { member: { value: string } }) => r.member.value));
    expect(pages.map((p) => p.body.itemsPerPage)).toEqual([100, 100, 50]);
    expect(new Set(all).size).toBe(MEMBERS);
  });

  it('stays complete and duplicate-free while members are added and removed between pages', async () => {
    const ordered = (await readAllByCursor(1000)).slice();
    const late = ordered[ordered.length - 1]; // not read yet when the first page is done
    const extra = userIds[MEMBERS];
    const seen = await readAllByCursor(60, async (page) => {
      if (page !== 0) return;
      await t.scim().delete(`/GroupMembers/${groupId}:${late}`).expect(204);
      await t
        .scim()
        .post('/GroupMembers', { group: { value: groupId }, member: { value: extra } })
        .expect(201);
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).not.toContain(late);
    // Every member there from start to end was read exactly once.
    for (const id of ordered.filter((id) => id !== late)) expect(seen).toContain(id);
    // Restore the group for the other tests.
    await t.scim().delete(`/GroupMembers/${groupId}:${extra}`).expect(204);
    await t
      .scim()
      .post('/GroupMembers', { group: { value: groupId }, member: { value: late } })
      .expect(201);
  });

  it("filters by member: a user's memberships across groups", async () => {
    const filter = encodeURIComponent(`member.value eq "${userIds[0]}"`);
    const res = await t.scim().get(`/GroupMembers?filter=${filter}`).expect(200);
    expect(res.body.Resources.map((r: { group: { value: string } }) => r.group.value).sort()).toEqual(
      [groupId, otherGroupId].sort(),
    );
  });

  it('adds one member with POST and removes it with DELETE, through the group rules and events', async () => {
    const member = userIds[MEMBERS + 1];
    const before = await t.scim().get(`/Groups/${otherGroupId}?attributes=displayName`);
    const created = await t
      .scim()
      .post('/GroupMembers', { schemas: [GROUP_MEMBER], group: { value: otherGroupId }, member: { value: member } })
      .expect(201);
    expect(created.headers.location).toBe(`http://roster.test/scim/v2/GroupMembers/${otherGroupId}:${member}`);
    expect(created.body).toMatchObject({ id: `${otherGroupId}:${member}`, member: { value: member, type: 'User' } });
    const after = await t.scim().get(`/Groups/${otherGroupId}`);
    expect(after.body.members.map((m: { value: string }) => m.value)).toContain(member);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    const events = await t.admin().get(`/events?type=group_update`).expect(200);
    expect(JSON.stringify(events.body)).toContain(otherGroupId);

    await t.scim().get(`/GroupMembers/${otherGroupId}:${member}`).expect(200);
    await t.scim().delete(`/GroupMembers/${otherGroupId}:${member}`).expect(204);
    await t.scim().get(`/GroupMembers/${otherGroupId}:${member}`).expect(404);
    const gone = await t.scim().get(`/Groups/${otherGroupId}`);
    expect(gone.body.members.map((m: { value: string }) => m.value)).not.toContain(member);
  });

  it('answers clear errors: a second add 409, unknown group 404, unknown member or no ids 400, bad filter 400', async () => {
    const add = (body: unknown) => t.scim().post('/GroupMembers', body);
    const dup = await add({ group: { value: otherGroupId }, member: { value: userIds[0] } });
    expect(dup.status).toBe(409);
    expect(dup.body.scimType).toBe('uniqueness');
    expect((await add({ group: { value: 'nope' }, member: { value: userIds[0] } })).status).toBe(404);
    const unknownMember = await add({ group: { value: otherGroupId }, member: { value: 'nobody' } });
    expect(unknownMember.status).toBe(400);
    expect(unknownMember.body.scimType).toBe('invalidValue');
    expect((await add({ group: { value: otherGroupId } })).body.scimType).toBe('invalidValue');
    expect((await add({ group: 'x', member: 7 })).status).toBe(400);
    const filter = encodeURIComponent('displayName eq "x"');
    const badFilter = await t.scim().get(`/GroupMembers?filter=${filter}`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.scimType).toBe('invalidFilter');
    expect((await t.scim().delete('/GroupMembers/no:such')).status).toBe(404);
    expect((await t.request.get('/scim/v2/GroupMembers')).status).toBe(401);
  });

  it('publishes the GroupMember schema', async () => {
    const res = await t.scim().get(`/Schemas/${GROUP_MEMBER}`).expect(200);
    expect(res.body.attributes.map((a: { name: string }) => a.name)).toEqual(['group', 'member']);
  });

  it('keeps the total exact on every page as members come and go by any path', async () => {
    const total = async () =>
      (
        await t
          .scim()
          .get(`/GroupMembers?${inGroup(otherGroupId)}&count=1&cursor=`)
          .expect(200)
      ).body.totalResults;
    const before = await total();
    expect(await total()).toBe(before); // the second page's total is the kept count
    const user = (await t.scim().post('/Users', { userName: 'gm-total@example.com' }).expect(201)).body.id;
    await t
      .scim()
      .patch(`/Groups/${otherGroupId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'members', value: [{ value: user }] }],
      })
      .expect(204);
    expect(await total()).toBe(before + 1);
    await t.scim().delete(`/Users/${user}`).expect(204);
    expect(await total()).toBe(before);
    const byIndex = await t
      .scim()
      .get(`/GroupMembers?${inGroup(otherGroupId)}&startIndex=1&count=1`)
      .expect(200);
    expect(byIndex.body.totalResults).toBe(before);
    const unknown = await t
      .scim()
      .get(`/GroupMembers?${inGroup('no-such-group')}&count=1&cursor=`)
      .expect(200);
    expect(unknown.body).toMatchObject({ totalResults: 0, Resources: [] });
  });
});
