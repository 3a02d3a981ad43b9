/**
 * Replays the requests Okta's SCIM 2.0 client sends (Okta "SCIM 2.0 protocol reference" and "Build a SCIM
 * provisioning integration"), byte for byte where the shape matters: the existence check, create with the
 * app user profile, import paging by 100, PUT profile updates, PATCH deactivation, and Push Groups.
 * Okta is an application integration, so it uses the integration token (new users default to ACTIVE).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { POLICY_PASSWORD, filterQuery, memberIds, unique, useIdpRoster } from '../helpers/idp.js';
import { URN, patchOp, type Json } from '../helpers/scim.js';
import { expectError, expectList, expectNoContent, expectResource, expectScimJson } from '../helpers/scimResponses.js';

const { t, idp: okta } = useIdpRoster();

/** Okta's create body (SCIM 2.0 reference, "Create the user"), with a policy-compliant password. */
function oktaCreateBody(userName: string, externalId = `00u${unique()}h7`): Json {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName,
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: userName, type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId,
    groups: [],
    password: POLICY_PASSWORD,
    active: true,
  };
}

async function createOktaUser(prefix = 'okta.user'): Promise<Json> {
  const res = await okta().post('/Users', oktaCreateBody(`${prefix}.${unique()}@example.com`));
  return expectResource(res, 201);
}

const DEACTIVATE = {
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'replace', value: { active: false } }],
};

describe('Okta checks whether a user exists before creating it', () => {
  it('answers an unknown userName with 200 and an empty ListResponse with integer counters', async () => {
    const res = await okta().get(
      `/Users?${filterQuery('userName eq "test.user@example.com"', 'okta', '&startIndex=1&count=100')}`,
    );
    const list = expectList(res);
    expect(list).toEqual({
      schemas: [URN.listResponse],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  it('finds the one user with that userName, whatever its case', async () => {
    const user = await createOktaUser('Exists.Check');
    const shouted = String(user.userName).toUpperCase();
    const res = await okta().get(
      `/Users?${filterQuery(`userName eq "${shouted}"`, 'okta', '&startIndex=1&count=100')}`,
    );
    const list = expectList(res);
    expect(list.totalResults).toBe(1);
    expect(list.startIndex).toBe(1);
    expect(list.itemsPerPage).toBe(1);
    expect(list.Resources[0].id).toBe(user.id);
    expect(list.Resources[0].userName).toBe(user.userName);
    expect(list.Resources[0]).not.toHaveProperty('password');
  });
});

describe('Okta creates a user from its app user profile', () => {
  it('answers 201 with an id, Location and ETag, echoes the profile and never the password', async () => {
    const userName = `test.user.${unique()}@example.com`;
    const sent = oktaCreateBody(userName, '00ujl29u0le5T6Aj10h7');
    const res = await okta().post('/Users', sent);
    const body = expectResource(res, 201);
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`http://roster.test/scim/v2/Users/${body.id}`);
    expect(body.meta).toMatchObject({ resourceType: 'User', location: res.headers.location });
    expect(body.schemas).toContain(URN.user);
    expect(body).toMatchObject({
      userName,
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      active: true,
    });
    expect(body[URN.lifecycle]).toMatchObject({ state: 'ACTIVE', passwordStatus: 'ACTIVE', source: 'integration' });
    expect(body).not.toHaveProperty('password');
    expect(JSON.stringify(body)).not.toContain(POLICY_PASSWORD);
  });

  it('answers a second create of the same userName with 409 uniqueness, which stops Okta', async () => {
    const user = await createOktaUser('dup');
    const res = await okta().post('/Users', oktaCreateBody(String(user.userName).toUpperCase()));
    expectError(res, 409, 'uniqueness');
  });

  it('returns the created user by id with the same representation and ETag', async () => {
    const created = await createOktaUser('get.by.id');
    const res = await okta().get(`/Users/${created.id}`);
    const body = expectResource(res, 200);
    expect(body).toEqual(created);
    expect(body).not.toHaveProperty('password');
  });

  it('answers an unknown id with 404 and a SCIM error', async () => {
    const res = await okta().get('/Users/23a35c27-23d3-4c03-b4c5-6443c09e7173');
    expectError(res, 404);
  });
});

describe('Okta imports users page by page with startIndex and count=100', () => {
  // A Roster of its own, so the 250 users are all there is.
  const { idp: own } = useIdpRoster();
  const created = new Set<string>();

  beforeAll(async () => {
    // 250 users through /Bulk (one request per 125 to keep each body small).
    for (const batch of [0, 1]) {
      const Operations = Array.from({ length: 125 }, (_, i) => {
        const n = batch * 125 + i;
        return {
          method: 'POST',
          path: '/Users',
          bulkId: `u${n}`,
          data: { schemas: [URN.user], userName: `import.${String(n).padStart(3, '0')}@example.com` },
        };
      });
      const res = await own().post('/Bulk', { schemas: [URN.bulkRequest], Operations });
      expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
      for (const op of res.body.Operations as Json[]) {
        expect(op.status).toBe('201');
        created.add(String(op.location).split('/').pop()!);
      }
    }
    expect(created.size).toBe(250);
  }, 60_000);

  const page = async (startIndex: number) => expectList(await own().get(`/Users?startIndex=${startIndex}&count=100`));

  it('serves pages of 100, 100 and 50 whose union is every user exactly once, in a stable order', async () => {
    const pages = [await page(1), await page(101), await page(201)];
    expect(pages.map((p) => p.totalResults)).toEqual([250, 250, 250]);
    expect(pages.map((p) => p.startIndex)).toEqual([1, 101, 201]);
    expect(pages.map((p) => p.itemsPerPage)).toEqual([100, 100, 50]);
    const ids = pages.flatMap((p) => p.Resources.map((r: Json) => r.id as string));
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(new Set(ids)).toEqual(created);

    const again = [await page(1), await page(101), await page(201)];
    expect(again.flatMap((p) => p.Resources.map((r: Json) => r.id))).toEqual(ids);
  });

  it('answers a startIndex past the end with an empty page and the same total', async () => {
    const list = await page(301);
    expect(list).toMatchObject({ totalResults: 250, startIndex: 301, itemsPerPage: 0, Resources: [] });
  });
});

describe('Okta updates a profile with a full PUT', () => {
  it('replaces the profile and keeps the lifecycle state Okta does not know about', async () => {
    const created = await createOktaUser('put');
    const get = expectResource(await okta().get(`/Users/${created.id}`), 200);
    // Okta's PUT body (SCIM 2.0 reference, "Update the user profile"): its own profile, middleName "",
    // emails with display, groups [], meta with only resourceType.
    const res = await okta().put(`/Users/${created.id}`, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id: created.id,
      userName: created.userName,
      name: { givenName: 'Another', middleName: '', familyName: 'User' },
      emails: [{ primary: true, value: created.userName, type: 'work', display: created.userName }],
      displayName: 'Another User',
      locale: 'en-US',
      externalId: created.externalId,
      active: true,
      groups: [],
      meta: { resourceType: 'User' },
    });
    const body = expectResource(res, 200);
    expect(body.id).toBe(created.id);
    expect(body.name).toMatchObject({ givenName: 'Another', familyName: 'User' });
    expect(body.displayName).toBe('Another User');
    expect(body.emails).toEqual([{ primary: true, value: created.userName, type: 'work', display: created.userName }]);
    expect(body.active).toBe(true);
    expect(body[URN.lifecycle]).toMatchObject({ state: 'ACTIVE', passwordStatus: 'ACTIVE' });
    expect(res.headers.etag).not.toBe(get.meta.version);
    expect(body).not.toHaveProperty('password');
  });
});

describe('Okta deactivates and reactivates a user with a path-less PATCH of active', () => {
  it('suspends an ACTIVE user on active:false and returns the updated profile', async () => {
    const user = await createOktaUser('deactivate');
    const res = await okta().patch(`/Users/${user.id}`, DEACTIVATE);
    const body = expectResource(res, 200);
    expect(body.active).toBe(false);
    expect(body[URN.lifecycle].state).toBe('SUSPENDED');
    expect(body.userName).toBe(user.userName);
    expect(body.emails).toEqual(user.emails);

    const after = expectResource(await okta().get(`/Users/${user.id}`), 200);
    expect(after.active).toBe(false);
    expect(after[URN.lifecycle].state).toBe('SUSPENDED');
  });

  it('reactivates a SUSPENDED user on active:true', async () => {
    // Created suspended directly, so this does not depend on the deactivation PATCH working.
    const user = expectResource(
      await okta().post('/Users', {
        ...oktaCreateBody(`reactivate.${unique()}@example.com`),
        [URN.lifecycle]: { state: 'SUSPENDED' },
      }),
      201,
    );
    expect(user.active).toBe(false);
    expect(user[URN.lifecycle].state).toBe('SUSPENDED');
    const res = await okta().patch(`/Users/${user.id}`, patchOp({ op: 'replace', value: { active: true } }));
    const body = expectResource(res, 200);
    expect(body.active).toBe(true);
    expect(body[URN.lifecycle].state).toBe('ACTIVE');
  });

  it('leaves a STAGED user staged on active:true (staged users are activated by an admin)', async () => {
    const res = await t.scim().post('/Users', oktaCreateBody(`staged.${unique()}@example.com`));
    const staged = expectResource(res, 201);
    expect(staged.active).toBe(false);
    expect(staged[URN.lifecycle].state).toBe('STAGED');
    const patched = expectResource(
      await t.scim().patch(`/Users/${staged.id}`, patchOp({ op: 'replace', value: { active: true } })),
      200,
    );
    expect(patched.active).toBe(false);
    expect(patched[URN.lifecycle].state).toBe('STAGED');
  });
});

describe('Okta pushes a group and its memberships', () => {
  let u1: Json;
  let u2: Json;
  let u3: Json;
  beforeAll(async () => {
    [u1, u2, u3] = await Promise.all([
      createOktaUser('push.one'),
      createOktaUser('push.two'),
      createOktaUser('push.three'),
    ]);
  });

  async function pushGroup(displayName: string, members: Json[] = []): Promise<Json> {
    const res = await okta().post('/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName,
      members,
    });
    return expectResource(res, 201);
  }

  async function getGroup(id: string): Promise<Json> {
    return expectResource(await okta().get(`/Groups/${id}`), 200);
  }

  it('creates the pushed group with 201, an id, a Location and no members', async () => {
    const name = `Test SCIM ${unique()}`;
    const res = await okta().post('/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: name,
      members: [],
    });
    const body = expectResource(res, 201);
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`http://roster.test/scim/v2/Groups/${body.id}`);
    expect(body).toMatchObject({ schemas: [URN.group], displayName: name, meta: { resourceType: 'Group' } });
    expect(memberIds(body)).toEqual([]);
  });

  it('creates a group with members and lists them with value, display, type and $ref', async () => {
    const group = await pushGroup(`With Members ${unique()}`, [{ value: u1.id, display: u1.userName }]);
    expect(group.members).toEqual([
      { value: u1.id, display: 'Test User', type: 'User', $ref: `http://roster.test/scim/v2/Users/${u1.id}` },
    ]);
  });

  it('finds the group by displayName with the existence-check query, case-insensitively', async () => {
    const name = `Push Lookup ${unique()}`;
    const group = await pushGroup(name);
    for (const asked of [name, name.toLowerCase()]) {
      const list = expectList(
        await okta().get(`/Groups?${filterQuery(`displayName eq "${asked}"`, 'okta', '&startIndex=1&count=100')}`),
      );
      expect(list.totalResults).toBe(1);
      expect(list.Resources[0]).toMatchObject({ id: group.id, displayName: name });
    }
    const none = expectList(
      await okta().get(`/Groups?${filterQuery('displayName eq "No Such Group"', 'okta', '&startIndex=1&count=100')}`),
    );
    expect(none).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it('applies a remove by value filter and an add in one PATCH, answering 204 with the new ETag', async () => {
    const group = await pushGroup(`Membership ${unique()}`, [{ value: u1.id }]);
    const res = await okta().patch(
      `/Groups/${group.id}`,
      patchOp(
        { op: 'remove', path: `members[value eq "${u1.id}"]` },
        { op: 'add', path: 'members', value: [{ value: u2.id, display: u2.userName }] },
      ),
    );
    expectNoContent(res);
    const after = await getGroup(group.id);
    expect(res.headers.etag).toBe(after.meta.version);
    expect(res.headers.etag).not.toBe(group.meta.version);
    expect(after.members).toEqual([
      { value: u2.id, display: 'Test User', type: 'User', $ref: `http://roster.test/scim/v2/Users/${u2.id}` },
    ]);
    // The user side shows the membership too.
    const user = expectResource(await okta().get(`/Users/${u2.id}`), 200);
    expect(user.groups).toEqual([expect.objectContaining({ value: group.id, display: group.displayName })]);
    const former = expectResource(await okta().get(`/Users/${u1.id}`), 200);
    expect((former.groups ?? []).map((g: Json) => g.value)).not.toContain(group.id);
  });

  it('accepts the removal of a user who is not a member (Okta replays removals) and changes nothing', async () => {
    const group = await pushGroup(`Replay ${unique()}`, [{ value: u1.id }]);
    const res = await okta().patch(
      `/Groups/${group.id}`,
      patchOp(
        { op: 'remove', path: `members[value eq "${u3.id}"]` },
        { op: 'remove', path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' },
      ),
    );
    expectNoContent(res);
    expect(memberIds(await getGroup(group.id))).toEqual([u1.id]);
  });

  it('empties the group on replace of members with an empty list', async () => {
    const group = await pushGroup(`Emptied ${unique()}`, [{ value: u1.id }, { value: u2.id }]);
    const res = await okta().patch(`/Groups/${group.id}`, patchOp({ op: 'replace', path: 'members', value: [] }));
    expectNoContent(res);
    const after = await getGroup(group.id);
    expect(memberIds(after)).toEqual([]);
    expect(after.displayName).toBe(group.displayName);
  });

  it('renames the group with a path-less replace that repeats the group id, keeping the members', async () => {
    const group = await pushGroup(`Old Name ${unique()}`, [{ value: u3.id }]);
    const newName = `New Name ${unique()}`;
    const res = await okta().patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'replace', value: { id: group.id, displayName: newName } }),
    );
    expectNoContent(res);
    const after = await getGroup(group.id);
    expect(after.id).toBe(group.id);
    expect(after.displayName).toBe(newName);
    expect(memberIds(after)).toEqual([u3.id]);
    const byOld = expectList(
      await okta().get(`/Groups?${filterQuery(`displayName eq "${group.displayName}"`, 'okta')}`),
    );
    expect(byOld.totalResults).toBe(0);
    const byNew = expectList(await okta().get(`/Groups?${filterQuery(`displayName eq "${newName}"`, 'okta')}`));
    expect(byNew.Resources.map((g: Json) => g.id)).toEqual([group.id]);
  });

  it('answers the rename with the group when Okta asks for attributes', async () => {
    const group = await pushGroup(`Attr ${unique()}`);
    const res = await okta().patch(
      `/Groups/${group.id}?excludedAttributes=members`,
      patchOp({ op: 'replace', value: { id: group.id, displayName: `${group.displayName} 2` } }),
    );
    const body = expectResource(res, 200);
    expect(body.displayName).toBe(`${group.displayName} 2`);
    expect(body).not.toHaveProperty('members');
  });

  it('lists groups for import with integer counters', async () => {
    const list = expectList(await okta().get('/Groups?startIndex=1&count=100'));
    expect(list.startIndex).toBe(1);
    expect(list.totalResults).toBeGreaterThanOrEqual(list.itemsPerPage);
    expect(list.itemsPerPage).toBeGreaterThan(0);
  });

  it('deletes the group with 204; the group is gone and its members remain', async () => {
    const group = await pushGroup(`Unlinked ${unique()}`, [{ value: u1.id }]);
    const res = await okta().delete(`/Groups/${group.id}`);
    expect(res.status).toBe(204);
    expect(res.text ?? '').toBe('');
    expectError(await okta().get(`/Groups/${group.id}`), 404);
    const user = expectResource(await okta().get(`/Users/${u1.id}`), 200);
    expect((user.groups ?? []).map((g: Json) => g.value)).not.toContain(group.id);
  });
});

describe('Okta sees SCIM media types on every answer', () => {
  it('labels list, resource and error answers application/scim+json', async () => {
    expectScimJson(await okta().get('/Users?startIndex=1&count=1'));
    expectScimJson(await okta().get('/Groups?startIndex=1&count=100'));
    expectScimJson(await okta().get('/Users/does-not-exist'));
  });
});
