/**
 * Replays the requests the Microsoft Entra ID provisioning service sends (Microsoft's "Tutorial: Develop and
 * plan provisioning for a SCIM endpoint in Microsoft Entra ID" and "Known issues and resolutions with SCIM 2.0
 * protocol compliance"), byte for byte where the shape matters: PascalCase op names, booleans as strings,
 * path-less replace with dotted and URN-prefixed keys, value-filter paths, `$ref: null` members, member
 * removal by value list, a bare manager id, and the test-connection query.
 * Entra is a cloud-directory integration, so it uses the integration token (new users default to ACTIVE).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { entraCreateBody, filterQuery, memberIds, unique, useIdpRoster } from '../helpers/idp.js';
import { URN, patchOp, type Json } from '../helpers/scim.js';
import { expectError, expectList, expectNoContent, expectResource } from '../helpers/scimResponses.js';

const { idp: entra } = useIdpRoster();

async function createEntraUser(extra: Json = {}): Promise<Json> {
  return expectResource(await entra().post('/Users', { ...entraCreateBody(), ...extra }), 201);
}

const listUsers = async (filter: string) => expectList(await entra().get(`/Users?${filterQuery(filter, 'entra')}`));

describe('Entra tests the connection with a userName lookup of a random GUID', () => {
  it('answers 200 with an empty ListResponse', async () => {
    const list = await listUsers(`userName eq "${randomUUID()}"`);
    expect(list).toEqual({
      schemas: [URN.listResponse],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });
});

describe('Entra creates users', () => {
  it('creates a user from the tutorial body with 201 and echoes it (empty roles dropped)', async () => {
    const sent = entraCreateBody();
    const body = expectResource(await entra().post('/Users', sent), 201);
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toMatchObject({
      externalId: sent.externalId,
      userName: sent.userName,
      name: sent.name,
      active: true,
      emails: sent.emails,
      meta: { resourceType: 'User' },
    });
    expect(body.schemas).toContain(URN.user);
    expect(body).not.toHaveProperty('roles');
  });

  it('creates a disabled user with the enterprise extension: active false, SUSPENDED, extension echoed', async () => {
    const tag = unique();
    const manager = await createEntraUser();
    const body = expectResource(
      await entra().post('/Users', {
        ...entraCreateBody(tag),
        active: false,
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
          employeeNumber: '1001',
          department: 'Engineering',
          costCenter: 'CC-7',
          manager: { value: manager.id },
        },
      }),
      201,
    );
    expect(body.active).toBe(false);
    expect(body[URN.lifecycle].state).toBe('SUSPENDED');
    expect(body.schemas).toContain(URN.enterprise);
    expect(body[URN.enterprise]).toMatchObject({
      employeeNumber: '1001',
      department: 'Engineering',
      costCenter: 'CC-7',
      manager: { value: manager.id },
    });
  });

  it('still returns an inactive user by id, by userName, by externalId and by work email', async () => {
    const user = await createEntraUser({ active: false });
    expect(user.active).toBe(false);
    const byId = expectResource(await entra().get(`/Users/${user.id}`), 200);
    expect(byId.active).toBe(false);
    for (const filter of [
      `userName eq "${user.userName}"`,
      `externalId eq "${user.externalId}"`,
      `emails[type eq "work"].value eq "${user.emails[0].value}"`,
    ]) {
      const list = await listUsers(filter);
      expect(list.totalResults, filter).toBe(1);
      expect(list.Resources[0]).toMatchObject({ id: user.id, active: false });
    }
  });
});

describe('Entra looks users up with filters', () => {
  it('finds a user by userName (tutorial "Get User by query")', async () => {
    const user = await createEntraUser();
    const list = await listUsers(`userName eq "${user.userName}"`);
    expect(list).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(list.Resources[0]).toMatchObject({ id: user.id, userName: user.userName, externalId: user.externalId });
  });

  it('finds a user by externalId, matching it case-exactly (RFC 7643: externalId is caseExact)', async () => {
    const user = await createEntraUser({ externalId: `AbC-${unique()}` });
    const exact = await listUsers(`externalId eq "${user.externalId}"`);
    expect(exact.Resources.map((r: Json) => r.id)).toEqual([user.id]);
    const otherCase = await listUsers(`externalId eq "${String(user.externalId).toLowerCase()}"`);
    expect(otherCase.totalResults).toBe(0);
  });

  it('finds a user by emails[type eq "work"].value, case-insensitively, and not by another type', async () => {
    const tag = unique();
    const user = await createEntraUser({
      emails: [
        { primary: true, type: 'work', value: `a.${tag}@x.com` },
        { type: 'home', value: `home.${tag}@x.com` },
      ],
    });
    const list = await listUsers(`emails[type eq "work"].value eq "A.${tag}@X.com"`);
    expect(list.Resources.map((r: Json) => r.id)).toEqual([user.id]);
    const wrongType = await listUsers(`emails[type eq "work"].value eq "home.${tag}@x.com"`);
    expect(wrongType.totalResults).toBe(0);
  });

  it('answers a filter with no match with 200, totalResults 0 and Resources []', async () => {
    const list = await listUsers('userName eq "non-existent user"');
    expect(list).toMatchObject({ totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });
});

describe('Entra updates users with PATCH', () => {
  it('replaces the work email and family name with PascalCase ops (tutorial "multi-valued properties")', async () => {
    const user = await createEntraUser();
    const res = await entra().patch(
      `/Users/${user.id}`,
      patchOp(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ),
    );
    const body = expectResource(res, 200);
    expect(body.emails).toEqual([{ primary: true, type: 'work', value: 'updatedEmail@microsoft.com' }]);
    expect(body.name).toMatchObject({ familyName: 'updatedFamilyName', givenName: 'givenName' });
    const found = await listUsers('emails[type eq "work"].value eq "updatedemail@microsoft.com"');
    expect(found.Resources.map((r: Json) => r.id)).toEqual([user.id]);
  });

  it('replaces userName (tutorial "single-valued properties")', async () => {
    const user = await createEntraUser();
    const newName = `${randomUUID()}@testuser.com`;
    const body = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'userName', value: newName })),
      200,
    );
    expect(body.userName).toBe(newName);
    expect((await listUsers(`userName eq "${user.userName}"`)).totalResults).toBe(0);
    expect((await listUsers(`userName eq "${newName}"`)).Resources.map((r: Json) => r.id)).toEqual([user.id]);
  });

  it('accepts op names in any case: Add, Replace, Remove', async () => {
    const user = await createEntraUser();
    const added = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Add', path: 'nickName', value: 'Babs' })),
      200,
    );
    expect(added.nickName).toBe('Babs');
    const replaced = expectResource(
      await entra().patch(
        `/Users/${user.id}`,
        patchOp({ op: 'Replace', path: 'title', value: 'tester' }, { op: 'REPLACE', path: 'nickName', value: 'Bea' }),
      ),
      200,
    );
    expect(replaced).toMatchObject({ title: 'tester', nickName: 'Bea' });
    const removed = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Remove', path: 'nickName' })),
      200,
    );
    expect(removed).not.toHaveProperty('nickName');
    expect(removed.title).toBe('tester');
  });

  it('disables a user with the legacy string boolean "False" and enables it again with "True"', async () => {
    const user = await createEntraUser();
    expect(user.active).toBe(true);
    const disabled = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })),
      200,
    );
    expect(disabled.active).toBe(false);
    expect(disabled[URN.lifecycle].state).toBe('SUSPENDED');
    const enabled = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'active', value: 'True' })),
      200,
    );
    expect(enabled.active).toBe(true);
    expect(enabled[URN.lifecycle].state).toBe('ACTIVE');
  });

  it('disables a user with the tutorial body (Operations before schemas, boolean false)', async () => {
    const user = await createEntraUser();
    const res = await entra().patch(`/Users/${user.id}`, {
      Operations: [{ op: 'Replace', path: 'active', value: false }],
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    });
    const body = expectResource(res, 200);
    expect(body.active).toBe(false);
    expect(body[URN.lifecycle].state).toBe('SUSPENDED');
    const byName = await listUsers(`userName eq "${user.userName}"`);
    expect(byName.Resources[0]).toMatchObject({ id: user.id, active: false });
  });

  it('enables a user Entra created disabled with Replace active true', async () => {
    const user = await createEntraUser({ active: false });
    expect(user[URN.lifecycle].state).toBe('SUSPENDED');
    const body = expectResource(
      await entra().patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'active', value: true })),
      200,
    );
    expect(body.active).toBe(true);
    expect(body[URN.lifecycle].state).toBe('ACTIVE');
  });

  it('applies a path-less replace with dotted and URN-prefixed keys (aadOptscim062020 shape)', async () => {
    const user = await createEntraUser();
    const tag = unique();
    const res = await entra().patch(
      `/Users/${user.id}`,
      patchOp(
        { op: 'replace', path: 'emails[type eq "work"].value', value: `mhvaes.${tag}@test.microsoft.com` },
        {
          op: 'replace',
          value: {
            displayName: 'Ann Lee',
            'name.givenName': 'Ann',
            'name.familyName': 'Lee',
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': '42',
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department': 'R&D',
          },
        },
      ),
    );
    const body = expectResource(res, 200);
    expect(body.displayName).toBe('Ann Lee');
    expect(body.name).toMatchObject({ givenName: 'Ann', familyName: 'Lee', formatted: 'givenName familyName' });
    expect(body[URN.enterprise]).toMatchObject({ employeeNumber: '42', department: 'R&D' });
    expect(body.schemas).toContain(URN.enterprise);
    expect(body.emails).toEqual([{ primary: true, type: 'work', value: `mhvaes.${tag}@test.microsoft.com` }]);
    // The dotted and URN-prefixed keys are paths, not attribute names to store verbatim.
    expect(Object.keys(body)).not.toContain('name.givenName');
    expect(Object.keys(body).some((k) => k.startsWith(`${URN.enterprise}:`))).toBe(false);
  });

  it('applies the legacy one-op-per-attribute replace, including externalId and a URN path', async () => {
    const user = await createEntraUser();
    const tag = unique();
    const body = expectResource(
      await entra().patch(
        `/Users/${user.id}`,
        patchOp(
          { op: 'Replace', path: 'displayName', value: 'Pvlo' },
          { op: 'Replace', path: 'emails[type eq "work"].value', value: `bcwqnm.${tag}@test.microsoft.com` },
          { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
          { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
          { op: 'Replace', path: 'externalId', value: `Eqpj-${tag}` },
          {
            op: 'Replace',
            path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
            value: 'Eqpj',
          },
        ),
      ),
      200,
    );
    expect(body).toMatchObject({
      displayName: 'Pvlo',
      name: { givenName: 'Gtfd', familyName: 'Pkqf' },
      externalId: `Eqpj-${tag}`,
      emails: [{ primary: true, type: 'work', value: `bcwqnm.${tag}@test.microsoft.com` }],
    });
    expect(body[URN.enterprise].employeeNumber).toBe('Eqpj');
    expect((await listUsers(`externalId eq "Eqpj-${tag}"`)).Resources.map((r: Json) => r.id)).toEqual([user.id]);
  });

  it('creates the work email element on Add to emails[type eq "work"].value when there is none', async () => {
    const user = await createEntraUser({ emails: undefined });
    expect(user).not.toHaveProperty('emails');
    const address = `new.${unique()}@x.com`;
    const body = expectResource(
      await entra().patch(
        `/Users/${user.id}`,
        patchOp({ op: 'Add', path: 'emails[type eq "work"].value', value: address }),
      ),
      200,
    );
    expect(body.emails).toEqual([{ type: 'work', value: address }]);
    const found = await listUsers(`emails[type eq "work"].value eq "${address}"`);
    expect(found.Resources.map((r: Json) => r.id)).toEqual([user.id]);
  });

  it('replaces an existing work email on Add to emails[type eq "work"].value (Entra sends Add for changes)', async () => {
    const user = await createEntraUser();
    const address = `changed.${unique()}@x.com`;
    const body = expectResource(
      await entra().patch(
        `/Users/${user.id}`,
        patchOp({ op: 'Add', path: 'emails[type eq "work"].value', value: address }),
      ),
      200,
    );
    expect(body.emails).toEqual([{ primary: true, type: 'work', value: address }]);
  });

  it('sets the manager from a bare id string on Add to the enterprise manager path', async () => {
    const manager = await createEntraUser();
    const user = await createEntraUser();
    const res = await entra().patch(
      `/Users/${user.id}`,
      patchOp({
        op: 'Add',
        path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
        value: manager.id,
      }),
    );
    const body = expectResource(res, 200);
    expect(body[URN.enterprise].manager.value).toBe(manager.id);
    expect(body.schemas).toContain(URN.enterprise);
    const again = expectResource(await entra().get(`/Users/${user.id}`), 200);
    expect(again[URN.enterprise].manager.value).toBe(manager.id);
  });
});

describe('Entra provisions groups', () => {
  let ann: Json;
  let bob: Json;
  beforeAll(async () => {
    [ann, bob] = await Promise.all([createEntraUser(), createEntraUser()]);
  });

  async function createGroup(displayName: string): Promise<Json> {
    return expectResource(
      await entra().post('/Groups', {
        schemas: [URN.group],
        externalId: randomUUID(),
        displayName,
        meta: { resourceType: 'Group' },
      }),
      201,
    );
  }

  async function withMembers(displayName: string, ids: string[]): Promise<Json> {
    const group = await createGroup(displayName);
    expectNoContent(
      await entra().patch(
        `/Groups/${group.id}`,
        patchOp({ op: 'Add', path: 'members', value: ids.map((value) => ({ $ref: null, value })) }),
      ),
    );
    return group;
  }

  const getGroup = async (id: string) => expectResource(await entra().get(`/Groups/${id}`), 200);

  it("creates a group from the tutorial body, which lists Microsoft's ADSCIM schema URN", async () => {
    const sent = {
      schemas: [
        'urn:ietf:params:scim:schemas:core:2.0:Group',
        'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group',
      ],
      externalId: randomUUID(),
      displayName: `displayName ${unique()}`,
      meta: { resourceType: 'Group' },
    };
    const body = expectResource(await entra().post('/Groups', sent), 201);
    expect(body).toMatchObject({ schemas: [URN.group], externalId: sent.externalId, displayName: sent.displayName });
    expect(memberIds(body)).toEqual([]);
  });

  it('adds members sent with "$ref": null and answers 204', async () => {
    const group = await createGroup(`Add ${unique()}`);
    const res = await entra().patch(
      `/Groups/${group.id}`,
      patchOp({
        op: 'Add',
        path: 'members',
        value: [
          { $ref: null, value: ann.id },
          { $ref: null, value: bob.id },
        ],
      }),
    );
    expectNoContent(res);
    expect(res.headers.etag).toMatch(/^(W\/)?"[^"]+"$/);
    expect(memberIds(await getGroup(group.id))).toEqual([ann.id, bob.id].sort());
  });

  it('removes only the listed member on Remove of members with a value list', async () => {
    const group = await withMembers(`Remove ${unique()}`, [ann.id, bob.id]);
    const res = await entra().patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'Remove', path: 'members', value: [{ $ref: null, value: ann.id }] }),
    );
    expectNoContent(res);
    expect(memberIds(await getGroup(group.id))).toEqual([bob.id]);
  });

  it('removes a member by value filter path (aadOptscim062020 shape)', async () => {
    const group = await withMembers(`Remove Filter ${unique()}`, [ann.id, bob.id]);
    expectNoContent(
      await entra().patch(`/Groups/${group.id}`, patchOp({ op: 'remove', path: `members[value eq "${bob.id}"]` })),
    );
    expect(memberIds(await getGroup(group.id))).toEqual([ann.id]);
  });

  it('renames a group with Replace of displayName and answers 204', async () => {
    const group = await withMembers(`Rename ${unique()}`, [ann.id]);
    const newName = `${randomUUID()}updatedDisplayName`;
    expectNoContent(
      await entra().patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: newName })),
    );
    const after = await getGroup(group.id);
    expect(after.displayName).toBe(newName);
    expect(memberIds(after)).toEqual([ann.id]);
  });

  it('omits members from GET by id with excludedAttributes=members', async () => {
    const group = await withMembers(`Exclude ${unique()}`, [ann.id]);
    const body = expectResource(await entra().get(`/Groups/${group.id}?excludedAttributes=members`), 200);
    expect(body).not.toHaveProperty('members');
    expect(body).toMatchObject({ id: group.id, displayName: group.displayName, externalId: group.externalId });
  });

  it('finds a group by displayName with excludedAttributes=members and no members key', async () => {
    const name = `Eng ${unique()}`;
    const group = await withMembers(name, [ann.id, bob.id]);
    const list = expectList(
      await entra().get(`/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${name}"`, 'entra')}`),
    );
    expect(list).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(list.Resources[0]).toMatchObject({ id: group.id, displayName: name });
    expect(list.Resources[0]).not.toHaveProperty('members');
  });

  it('deletes a group with 204', async () => {
    const group = await withMembers(`Delete ${unique()}`, [ann.id]);
    const res = await entra().delete(`/Groups/${group.id}`);
    expect(res.status).toBe(204);
    expectError(await entra().get(`/Groups/${group.id}`), 404);
  });
});

describe('Entra removes users with DELETE', () => {
  it('answers 204 and then 404 for the user', async () => {
    const user = await createEntraUser();
    const res = await entra().delete(`/Users/${user.id}`);
    expect(res.status).toBe(204);
    expectError(await entra().get(`/Users/${user.id}`), 404);
    expect((await listUsers(`userName eq "${user.userName}"`)).totalResults).toBe(0);
  });
});
