import { describe, expect, it } from 'vitest';
import { useTestRoster } from '../helpers/roster.js';

const t = useTestRoster();

interface Attr {
  name: string;
  type: string;
  multiValued: boolean;
  required: boolean;
  mutability: string;
  returned: string;
  uniqueness: string;
  caseExact?: boolean;
  canonicalValues?: string[];
  subAttributes?: Attr[];
}
const attr = (list: Attr[], name: string) => list.find((a) => a.name === name)!;

describe('ServiceProviderConfig', () => {
  it('advertises authentication, paging limits and only supported features', async () => {
    const res = await t.scim().get('/ServiceProviderConfig');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/scim+json');
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    expect(res.body.authenticationSchemes[0]).toMatchObject({ type: 'oauthbearertoken', primary: true });
    expect(res.body.filter.maxResults).toBe(t.config.scim.maxResults);
    for (const key of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag']) {
      expect(typeof res.body[key].supported).toBe('boolean');
    }
    // A password set over SCIM (POST, PUT, PATCH) is checked against the policy and works for sign-in (lifecycle/login.test.ts).
    expect(res.body.changePassword.supported).toBe(true);
    expect(res.body.meta.location).toBe('http://roster.test/scim/v2/ServiceProviderConfig');
  });
});

describe('ResourceTypes', () => {
  it('lists User (with enterprise and lifecycle extensions) and Group', async () => {
    const res = await t.scim().get('/ResourceTypes');
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(2);
    const user = res.body.Resources.find((r: { id: string }) => r.id === 'User');
    expect(user).toMatchObject({ endpoint: '/Users', schema: 'urn:ietf:params:scim:schemas:core:2.0:User' });
    expect(user.schemaExtensions).toEqual([
      { schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', required: false },
      { schema: 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User', required: false },
    ]);
    expect((await t.scim().get('/ResourceTypes/Group')).body.endpoint).toBe('/Groups');
    expect((await t.scim().get('/ResourceTypes/Widget')).status).toBe(404);
  });
});

describe('Schemas', () => {
  it('serves every schema with its attributes and their characteristics', async () => {
    const res = await t.scim().get('/Schemas');
    expect(res.status).toBe(200);
    const ids = res.body.Resources.map((s: { id: string }) => s.id).sort();
    expect(ids).toEqual(
      [
        'urn:ietf:params:scim:schemas:core:2.0:Group',
        'urn:ietf:params:scim:schemas:core:2.0:GroupMember',
        'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
        'urn:ietf:params:scim:schemas:core:2.0:Schema',
        'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
        'urn:ietf:params:scim:schemas:core:2.0:User',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
        'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User',
      ].sort(),
    );
    const check = (a: Attr) => {
      for (const key of ['name', 'type', 'multiValued', 'required', 'mutability', 'returned', 'uniqueness']) {
        expect(a, `${a.name}.${key}`).toHaveProperty(key);
      }
      a.subAttributes?.forEach(check);
    };
    for (const schema of res.body.Resources) schema.attributes.forEach(check);
  });

  it('describes the User schema per RFC 7643', async () => {
    const user = (await t.scim().get('/Schemas/urn:ietf:params:scim:schemas:core:2.0:User')).body;
    expect(user.meta.location).toBe('http://roster.test/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    expect(attr(user.attributes, 'userName')).toMatchObject({ required: true, uniqueness: 'server', caseExact: false });
    expect(attr(user.attributes, 'password')).toMatchObject({ mutability: 'writeOnly', returned: 'never' });
    expect(attr(user.attributes, 'groups')).toMatchObject({ mutability: 'readOnly', multiValued: true });
    expect(attr(user.attributes, 'active')).toMatchObject({ type: 'boolean' });
    const emails = attr(user.attributes, 'emails');
    expect(emails.multiValued).toBe(true);
    expect(attr(emails.subAttributes!, 'type').canonicalValues).toEqual(expect.arrayContaining(['work', 'home']));
    expect(attr(attr(user.attributes, 'name').subAttributes!, 'givenName').type).toBe('string');
  });

  it('describes the lifecycle extension (README "States and sources")', async () => {
    const res = await t.scim().get('/Schemas/urn:roster:params:scim:schemas:extension:lifecycle:2.0:User');
    const attrs = res.body.attributes as Attr[];
    expect(attr(attrs, 'state')).toMatchObject({
      mutability: 'readWrite',
      canonicalValues: ['STAGED', 'ACTIVE', 'SUSPENDED'],
    });
    expect(attr(attrs, 'passwordStatus')).toMatchObject({
      mutability: 'readOnly',
      canonicalValues: ['PENDING', 'ACTIVE', 'EXPIRED'],
    });
    expect(attr(attrs, 'scheduledActivation')).toMatchObject({ type: 'dateTime', mutability: 'readWrite' });
    expect(attr(attrs, 'source')).toMatchObject({ mutability: 'readOnly' });
    expect(attr(attrs, 'locked')).toMatchObject({ type: 'boolean', mutability: 'readOnly' });
    expect(attr(attrs, 'alternateEmail')).toMatchObject({ mutability: 'readWrite' });
  });

  it('describes Group members and the enterprise manager', async () => {
    const group = (await t.scim().get('/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group')).body;
    expect(attr(group.attributes, 'displayName')).toMatchObject({ required: true, uniqueness: 'server' });
    const members = attr(group.attributes, 'members');
    expect(attr(members.subAttributes!, 'value').mutability).toBe('immutable');
    const enterprise = (await t.scim().get('/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User')).body;
    expect(attr(enterprise.attributes, 'manager').type).toBe('complex');
  });

  it('answers an unknown schema with 404', async () => {
    const res = await t.scim().get('/Schemas/urn:nope');
    expect(res.status).toBe(404);
  });
});
