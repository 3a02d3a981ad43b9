import { describe, expect, it } from 'vitest';
import { TOKENS, useTestRoster } from '../helpers/roster.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const t = useTestRoster();

let seq = 0;
function userBody(overrides: Record<string, unknown> = {}) {
  seq += 1;
  return {
    schemas: [USER, ENTERPRISE],
    userName: `user${seq}@example.com`,
    externalId: `ext-${seq}`,
    name: { givenName: 'Given', familyName: `Family${seq}` },
    displayName: `User ${seq}`,
    emails: [{ value: `user${seq}@example.com`, type: 'work', primary: true }],
    [ENTERPRISE]: { employeeNumber: String(1000 + seq), department: 'R&D' },
    ...overrides,
  };
}

describe('creating a user', () => {
  it('answers 201 with Location, ETag and full meta, and never returns the password', async () => {
    const res = await t.scim().post('/Users', userBody({ password: 'Correct-Horse-9-Battery' }));
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toContain('application/scim+json');
    expect(res.headers.location).toBe(`http://roster.test/scim/v2/Users/${res.body.id}`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.meta).toEqual({
      resourceType: 'User',
      created: expect.any(String),
      lastModified: res.body.meta.created,
      location: res.headers.location,
      version: 'W/"1"',
    });
    expect(res.body.password).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain('Correct-Horse');
    expect(res.body[ENTERPRISE].employeeNumber).toBeDefined();
    expect(res.body[LIFECYCLE]).toMatchObject({ state: 'STAGED', passwordStatus: 'ACTIVE', source: 'manual' });
  });

  it('honours attributes on the answer to a write and still sends Location and ETag (was a 500)', async () => {
    const res = await t.scim().post('/Users?attributes=userName', userBody());
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.location).toBe(`http://roster.test/scim/v2/Users/${res.body.id}`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(Object.keys(res.body).sort()).toEqual(['id', 'schemas', 'userName']);
    const noMeta = await t.scim().post('/Users?excludedAttributes=meta', userBody());
    expect(noMeta.status).toBe(201);
    expect(noMeta.headers.location).toBe(`http://roster.test/scim/v2/Users/${noMeta.body.id}`);
    expect(noMeta.body.meta).toBeUndefined();
    const patched = await t.scim().patch(`/Users/${res.body.id}?attributes=title`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Lead' }],
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.etag).toBe('W/"2"');
    expect(patched.body).toEqual({ schemas: expect.any(Array), id: res.body.id, title: 'Lead' });
    const group = await t.scim().post('/Groups?attributes=displayName', { displayName: `Projected ${res.body.id}` });
    expect(group.status).toBe(201);
    expect(group.headers.location).toBe(`http://roster.test/scim/v2/Groups/${group.body.id}`);
  });

  it('stores the password only as a hash', async () => {
    const res = await t.scim().post('/Users', userBody({ password: 'Another-Secret-77-Words' }));
    const stored = await t.db.collection('users').findOne({ _id: res.body.id });
    expect(JSON.stringify(stored)).not.toContain('Another-Secret-77-Words');
    expect(stored?.secret?.passwordHash).toMatch(/^scrypt\$/);
  });

  it('requires userName', async () => {
    const res = await t.scim().post('/Users', { schemas: [USER], name: { givenName: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ scimType: 'invalidValue', status: '400' });
  });

  it.each([
    [{ active: 'maybe' }, 'invalidValue'],
    [{ emails: 'not-a-list-of-objects' }, 'invalidValue'],
    [
      {
        emails: [
          { value: 'a@x.com', primary: true },
          { value: 'b@x.com', primary: true },
        ],
      },
      'invalidValue',
    ],
    [{ [LIFECYCLE]: { state: 'SLEEPING' } }, 'invalidValue'],
    [{ [LIFECYCLE]: { scheduledActivation: 'next tuesday' } }, 'invalidValue'],
    [{ schemas: ['urn:example:unknown'] }, 'invalidValue'],
    [{ userName: 'bad\u0000name' }, 'invalidValue'],
  ])('rejects %j with 400 %s', async (overrides, scimType) => {
    const res = await t.scim().post('/Users', userBody(overrides));
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe(scimType);
  });

  it('rejects a weak password with a clear policy message', async () => {
    const res = await t.scim().post('/Users', userBody({ password: 'short' }));
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/password: .*at least/);
  });

  it('accepts attribute names in any case and returns canonical names', async () => {
    const res = await t
      .scim()
      .post('/Users', { USERNAME: 'casey@example.com', Name: { GivenName: 'Casey' }, DisplayName: 'Casey' });
    expect(res.status).toBe(201);
    expect(res.body.userName).toBe('casey@example.com');
    expect(res.body.name).toEqual({ givenName: 'Casey' });
    expect(res.body.displayName).toBe('Casey');
  });

  it('ignores readOnly attributes sent by the client', async () => {
    const res = await t
      .scim()
      .post('/Users', userBody({ id: 'mine', meta: { created: '2000-01-01T00:00:00Z' }, groups: [{ value: 'g' }] }));
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe('mine');
    expect(res.body.meta.created).not.toContain('2000');
    expect(res.body.groups).toBeUndefined();
  });
});

describe('uniqueness', () => {
  it('refuses a userName that differs only in case with 409 uniqueness', async () => {
    const first = await t.scim().post('/Users', userBody({ userName: 'Dup.User@Example.com' }));
    expect(first.status).toBe(201);
    const again = await t.scim().post('/Users', userBody({ userName: 'dup.user@example.COM' }));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ scimType: 'uniqueness', status: '409' });
  });

  it('lets exactly one of 20 parallel creates of one userName succeed', async () => {
    const body = userBody({ userName: 'race@example.com', emails: [{ value: 'race@example.com', type: 'work' }] });
    const results = await Promise.all(Array.from({ length: 20 }, () => t.scim().post('/Users', body)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    expect(await t.db.collection('users').countDocuments({ 'norm.userName': 'race@example.com' })).toBe(1);
  });

  it('accepts only a single plain address in emails and alternateEmail (no lists, names or brackets)', async () => {
    for (const value of [
      'victim,attacker@evil.example',
      'a@corp.com;b@evil.example',
      'Name <x@evil.example>',
      'a b@corp.com',
      '"x"@corp.com',
    ]) {
      const company = await t.scim().post('/Users', userBody({ emails: [{ value, type: 'work' }] }));
      expect(company.status, value).toBe(400);
      expect(company.body.scimType).toBe('invalidValue');
      const other = await t.scim().post(
        '/Users',
        userBody({
          emails: [
            { value: 'ok@corp.com', primary: true },
            { value, type: 'home' },
          ],
        }),
      );
      expect(other.status, value).toBe(400);
      const alternate = await t.scim().post('/Users', userBody({ [LIFECYCLE]: { alternateEmail: value } }));
      expect(alternate.status, value).toBe(400);
    }
  });

  it('shares one space between company and alternate emails, case-insensitively', async () => {
    const a = await t.scim().post('/Users', userBody({ emails: [{ value: 'Shared@Corp.com', type: 'work' }] }));
    expect(a.status).toBe(201);
    const b = await t.scim().post('/Users', userBody({ [LIFECYCLE]: { alternateEmail: 'shared@corp.COM' } }));
    expect(b.status).toBe(409);
    expect(b.body.scimType).toBe('uniqueness');
    const c = await t.scim().post('/Users', userBody({ emails: [{ value: 'SHARED@corp.com', type: 'work' }] }));
    expect(c.status).toBe(409);
  });

  it('frees an address when its user changes it or is deleted', async () => {
    const a = await t.scim().post('/Users', userBody({ emails: [{ value: 'moving@corp.com', type: 'work' }] }));
    await t.scim().patch(`/Users/${a.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'emails', value: [{ value: 'moved@corp.com', type: 'work' }] }],
    });
    const b = await t.scim().post('/Users', userBody({ emails: [{ value: 'moving@corp.com', type: 'work' }] }));
    expect(b.status).toBe(201);
    await t.scim().delete(`/Users/${b.body.id}`);
    const c = await t.scim().post('/Users', userBody({ emails: [{ value: 'moving@corp.com', type: 'work' }] }));
    expect(c.status).toBe(201);
  });

  it('takes over an address whose claim was left behind by a crash', async () => {
    await t.db.collection('email_claims').insertOne({ _id: 'orphan@corp.com', userId: 'gone-user' } as never);
    const res = await t.scim().post('/Users', userBody({ emails: [{ value: 'orphan@corp.com', type: 'work' }] }));
    expect(res.status).toBe(201);
  });
});

describe('reading', () => {
  it('returns 404 with a SCIM error for an unknown id', async () => {
    const res = await t.scim().get('/Users/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ status: '404', schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'] });
  });

  it('honours attributes and excludedAttributes', async () => {
    const created = (await t.scim().post('/Users', userBody())).body;
    const only = await t.scim().get(`/Users/${created.id}?attributes=userName,name.givenName,${ENTERPRISE}:department`);
    expect(Object.keys(only.body).sort()).toEqual(['id', ENTERPRISE, 'name', 'schemas', 'userName'].sort());
    expect(only.body.name).toEqual({ givenName: 'Given' });
    expect(only.body[ENTERPRISE]).toEqual({ department: 'R&D' });
    const without = await t.scim().get(`/Users/${created.id}?excludedAttributes=emails,name.familyName,meta`);
    expect(without.body.emails).toBeUndefined();
    expect(without.body.meta).toBeUndefined();
    expect(without.body.name).toEqual({ givenName: 'Given' });
    expect(without.body.id).toBe(created.id);
    expect(without.body.userName).toBe(created.userName);
  });

  it('answers 304 to If-None-Match with the current version', async () => {
    const created = await t.scim().post('/Users', userBody());
    const res = await t.scim().get(`/Users/${created.body.id}`).set('If-None-Match', created.headers.etag);
    expect(res.status).toBe(304);
    const changed = await t.scim().get(`/Users/${created.body.id}`).set('If-None-Match', 'W/"999"');
    expect(changed.status).toBe(200);
  });
});

describe('replacing with PUT', () => {
  it('clears omitted readWrite attributes, ignores readOnly ones and bumps the version', async () => {
    const created = (await t.scim().post('/Users', userBody({ title: 'Engineer', nickName: 'Nick' }))).body;
    const res = await t.scim().put(`/Users/${created.id}`, {
      schemas: [USER],
      id: created.id,
      userName: created.userName,
      name: { givenName: 'Changed' },
      emails: created.emails,
      meta: { version: 'W/"77"' },
    });
    expect(res.status).toBe(200);
    expect(res.body.title).toBeUndefined();
    expect(res.body.nickName).toBeUndefined();
    expect(res.body[ENTERPRISE]).toBeUndefined();
    expect(res.body.name).toEqual({ givenName: 'Changed' });
    expect(res.body.meta.version).toBe('W/"2"');
    expect(res.body.meta.created).toBe(created.meta.created);
  });

  it('keeps lifecycle attributes when the client does not send the extension', async () => {
    const created = (
      await t.scim().post('/Users', userBody({ [LIFECYCLE]: { alternateEmail: `alt${seq}@home.example` } }))
    ).body;
    const res = await t
      .scim()
      .put(`/Users/${created.id}`, { schemas: [USER], userName: created.userName, emails: created.emails });
    expect(res.body[LIFECYCLE].alternateEmail).toBe(created[LIFECYCLE].alternateEmail);
  });

  it('answers 412 when If-Match is stale and applies when it matches', async () => {
    const created = await t.scim().post('/Users', userBody());
    const stale = await t
      .scim()
      .put(`/Users/${created.body.id}`, { userName: created.body.userName })
      .set('If-Match', 'W/"5"');
    expect(stale.status).toBe(412);
    const fresh = await t
      .scim()
      .put(`/Users/${created.body.id}`, { userName: created.body.userName })
      .set('If-Match', created.headers.etag);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.etag).toBe('W/"2"');
  });

  it('answers 404 for an unknown id', async () => {
    expect((await t.scim().put('/Users/nope', { userName: 'x@y.z' })).status).toBe(404);
  });
});

describe('patching', () => {
  it('applies add, replace and remove and returns the resource', async () => {
    const created = (await t.scim().post('/Users', userBody())).body;
    const res = await t.scim().patch(`/Users/${created.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'add', path: 'phoneNumbers', value: [{ value: '+1 555 0100', type: 'work' }] },
        { op: 'replace', path: 'name.givenName', value: 'Patched' },
        { op: 'remove', path: 'displayName' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.phoneNumbers).toEqual([{ value: '+1 555 0100', type: 'work' }]);
    expect(res.body.name.givenName).toBe('Patched');
    expect(res.body.displayName).toBeUndefined();
  });

  it.each([
    [{ schemas: [PATCH] }, 'invalidSyntax'],
    [{ schemas: [PATCH], Operations: [{ op: 'jump', path: 'title' }] }, 'invalidSyntax'],
    [{ schemas: [PATCH], Operations: [{ op: 'remove' }] }, 'noTarget'],
    [{ schemas: [PATCH], Operations: [{ op: 'replace', path: 'nonsense', value: 1 }] }, 'invalidPath'],
    [{ schemas: [PATCH], Operations: [{ op: 'replace', path: 'id', value: 'x' }] }, 'mutability'],
    [
      { schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'x@y.z' } }] },
      'noTarget',
    ],
  ])('rejects %j with %s', async (body, scimType) => {
    const created = (await t.scim().post('/Users', userBody())).body;
    const res = await t.scim().patch(`/Users/${created.id}`, body);
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe(scimType);
  });

  it('never loses an update under parallel PATCHes of different attributes', async () => {
    const created = (await t.scim().post('/Users', userBody())).body;
    const fields = ['title', 'nickName', 'userType', 'locale', 'timezone', 'preferredLanguage'];
    await Promise.all(
      fields.map((field) =>
        t.scim().patch(`/Users/${created.id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'replace', path: field, value: `v-${field}` }],
        }),
      ),
    );
    const after = (await t.scim().get(`/Users/${created.id}`)).body;
    for (const field of fields) expect(after[field]).toBe(`v-${field}`);
    expect(after.meta.version).toBe(`W/"${1 + fields.length}"`);
  });
});

describe('deleting', () => {
  it('answers 204, then 404, and records events', async () => {
    const created = (await t.scim().post('/Users', userBody())).body;
    expect((await t.scim().delete(`/Users/${created.id}`)).status).toBe(204);
    expect((await t.scim().get(`/Users/${created.id}`)).status).toBe(404);
    expect((await t.scim().delete(`/Users/${created.id}`)).status).toBe(404);
    const events = await t.db.collection('events').find({ 'resource.id': created.id }).toArray();
    expect(events.map((e) => e.type).sort()).toEqual(['user_create', 'user_delete']);
    expect(events[0].initiatedBy).toEqual({ type: 'scim', name: 'okta', id: 'token:okta' });
  });
});

describe('/Me', () => {
  it('answers 501 because SCIM tokens do not map to users', async () => {
    const res = await t.scim().get('/Me');
    expect(res.status).toBe(501);
    expect(res.body.status).toBe('501');
  });
});

describe('token source', () => {
  it('creates users of an integration token in the integration default state', async () => {
    const res = await t.scim(TOKENS.integration).post('/Users', userBody());
    expect(res.body[LIFECYCLE]).toMatchObject({ source: 'integration', state: 'ACTIVE' });
    expect(res.body.active).toBe(true);
  });
});
