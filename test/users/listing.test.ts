import { beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, useTestRoster } from '../helpers/roster.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const t = useTestRoster();
const ids: string[] = [];
beforeAll(async () => {
  const operations = Array.from({ length: 130 }, (_, i) => ({
    method: 'POST',
    bulkId: `u${i}`,
    path: '/Users',
    data: {
      userName: `person${String(i).padStart(3, '0')}@list.example`,
      name: { givenName: i % 2 ? 'Odd' : 'Even', familyName: `Family${i}` },
      title: i % 10 === 0 ? 'Manager' : 'Engineer',
      emails: [
        { value: `person${i}@list.example`, type: 'work' },
        { value: `home${i}@mail.example`, type: 'home' },
      ],
      [ENTERPRISE]: { employeeNumber: String(5000 + i), department: i < 65 ? 'Sales' : 'R&D' },
    },
  }));
  const res = await t
    .scim(TOKENS.bulk)
    .post('/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: operations });
  expect(res.status).toBe(200);
  for (const op of res.body.Operations) ids.push(op.location.split('/').pop());
});

const list = (query: string) => t.scim().get(`/Users?${query}`);
const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;

describe('index paging', () => {
  it('pages by 100 in a stable creation order with integer paging fields', async () => {
    const first = await list('startIndex=1&count=100');
    const second = await list('startIndex=101&count=100');
    expect(first.body).toMatchObject({ totalResults: 130, itemsPerPage: 100, startIndex: 1 });
    expect(second.body).toMatchObject({ totalResults: 130, itemsPerPage: 30, startIndex: 101 });
    const seen = [...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id);
    expect(seen).toEqual(ids);
  });

  it('answers count=0 with the total only, and treats out-of-range values per RFC 7644', async () => {
    expect((await list('count=0')).body).toMatchObject({ totalResults: 130, itemsPerPage: 0, Resources: [] });
    expect((await list('startIndex=-5&count=2')).body).toMatchObject({ startIndex: 1, itemsPerPage: 2 });
    expect((await list('count=-1')).body.itemsPerPage).toBe(0);
    const capped = await t.scim().get(`/Users?count=999999`);
    expect(capped.body.itemsPerPage).toBe(130);
    expect((await list('startIndex=abc')).status).toBe(400);
  });
});

describe('index paging in order while the directory changes (Okta import)', () => {
  it('reads every user exactly once though users read already are deleted and new ones created', async () => {
    const own = await startTestRoster();
    try {
      const created: string[] = [];
      for (let i = 0; i < 35; i++) {
        const res = await own.scim().post('/Users', { userName: `reader${i}@list.example` });
        created.push(res.body.id);
      }
      const seen: string[] = [];
      let latecomer = '';
      for (let startIndex = 1, round = 0; round < 10; round++, startIndex += 10) {
        const page = await own.scim().get(`/Users?startIndex=${startIndex}&count=10&excludedAttributes=groups`);
        expect(page.status).toBe(200);
        const pageIds = page.body.Resources.map((r: { id: string }) => r.id);
        seen.push(...pageIds);
        if (pageIds.length < 10) break;
        // Between pages: a user already read leaves, and a new one arrives (at the end of the order).
        expect((await own.scim().delete(`/Users/${pageIds[0]}`)).status).toBe(204);
        if (!latecomer) latecomer = (await own.scim().post('/Users', { userName: 'late@list.example' })).body.id;
      }
      // With a plain skip, each delete would shift the next page by one and a user would be missed.
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...created, latecomer].sort());
    } finally {
      await own.close();
    }
  });
});

describe('cursor paging (RFC 9865)', () => {
  it('walks every user exactly once with nextCursor', async () => {
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const res = await list(`cursor=${cursor}&count=50`);
      expect(res.status).toBe(200);
      seen.push(...res.body.Resources.map((r: { id: string }) => r.id));
      if (!res.body.nextCursor) break;
      cursor = res.body.nextCursor;
    }
    expect(seen).toEqual(ids);
  });

  it('rejects a forged cursor with 400 invalidCursor', async () => {
    const res = await list('cursor=not-a-cursor');
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidCursor');
  });
});

describe('filtering', () => {
  it.each([
    ['userName eq "PERSON001@list.example"', 1],
    ['userName sw "person00"', 10],
    ['userName co "0@LIST"', 13],
    ['userName ew ".example"', 130],
    ['title eq "manager"', 13],
    ['title ne "Manager"', 117],
    ['name.givenName eq "Odd" and title eq "Manager"', 0],
    ['name.givenName eq "Even" and title eq "Manager"', 13],
    ['title eq "Manager" or name.familyName eq "Family1"', 14],
    ['not (title eq "Engineer")', 13],
    ['emails[type eq "work" and value co "person12"]', 11],
    ['emails[type eq "home"].value eq "home7@mail.example"', 1],
    ['emails[type eq "work"].value eq "home7@mail.example"', 0],
    ['emails.value eq "HOME9@mail.example"', 1],
    [`${ENTERPRISE}:department eq "Sales"`, 65],
    [`${ENTERPRISE}:employeeNumber ge "5120"`, 10],
    ['meta.created gt "2000-01-01T00:00:00Z"', 130],
    ['meta.lastModified lt "2000-01-01T00:00:00Z"', 0],
    ['nickName pr', 0],
    ['title pr', 130],
    ['active eq false', 130],
    ['userName eq "a.*b(" or userName co "(.*)"', 0],
  ])('%s matches %i', async (filter, expected) => {
    const res = await list(`${q(filter)}&count=200`);
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(expected);
    expect(res.body.Resources).toHaveLength(expected);
  });

  it.each(['userName eq', 'nosuch eq "x"', 'userName xx "a"', 'emails[type eq "work"', '((((((', 'active gt true'])(
    'answers %s with 400 invalidFilter, never an unfiltered list',
    async (filter) => {
      const res = await list(q(filter));
      expect(res.status).toBe(400);
      expect(res.body.scimType).toBe('invalidFilter');
    },
  );

  it('supports POST /.search on Users and at the root', async () => {
    const body = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'title eq "Manager"',
      attributes: ['userName'],
      count: 5,
    };
    const res = await t.scim().post('/Users/.search', body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 13, itemsPerPage: 5 });
    expect(Object.keys(res.body.Resources[0]).sort()).toEqual(['id', 'schemas', 'userName']);
    const root = await t.scim().post('/.search', body);
    expect(root.status).toBe(200);
    expect(root.body.totalResults).toBe(13);
  });
});

describe('sorting', () => {
  it('sorts by userName descending and by a sub-attribute', async () => {
    const res = await list('sortBy=userName&sortOrder=descending&count=3&attributes=userName');
    expect(res.body.Resources.map((r: { userName: string }) => r.userName)).toEqual([
      'person129@list.example',
      'person128@list.example',
      'person127@list.example',
    ]);
    const byFamily = await list(`sortBy=name.familyName&count=2&${q('title eq "Manager"')}&attributes=name`);
    expect(byFamily.body.Resources.map((r: { name: { familyName: string } }) => r.name.familyName)).toEqual([
      'Family0',
      'Family10',
    ]);
  });

  it('rejects sorting by an unknown attribute', async () => {
    const res = await list('sortBy=shoeSize');
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidPath');
  });
});

describe('root /.search page size', () => {
  it('keeps one page across Users and Groups within count, capped at scim.maxResults', async () => {
    const capped = await startTestRoster({ scim: { maxResults: 100 } });
    try {
      const operations = [
        ...Array.from({ length: 101 }, (_, i) => ({
          method: 'POST',
          bulkId: `u${i}`,
          path: '/Users',
          data: { userName: `cap${i}@root.example`, externalId: 'root-search' },
        })),
        { method: 'POST', bulkId: 'g', path: '/Groups', data: { displayName: 'cap group', externalId: 'root-search' } },
      ];
      const bulk = await capped
        .scim(TOKENS.bulk)
        .post('/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: operations });
      expect(bulk.status).toBe(200);
      const search = (count: number) =>
        capped.scim().post('/.search', {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter: 'externalId eq "root-search"',
          count,
        });
      const huge = await search(5000);
      expect(huge.status).toBe(200);
      expect(huge.body).toMatchObject({ totalResults: 102, itemsPerPage: 100 });
      expect(huge.body.Resources).toHaveLength(100);
      const small = await search(3);
      expect(small.body).toMatchObject({ totalResults: 102, itemsPerPage: 3 });
    } finally {
      await capped.close();
    }
  });
});
