import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, useTestRoster, type TestRoster } from '../helpers/roster.js';

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const t = useTestRoster({ scim: { bulk: { maxOperations: 20, maxPayloadSize: 4096 } } });

describe('/Bulk', () => {
  it('creates a group whose members are users created later in the same request', async () => {
    const res = await t.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [
        {
          method: 'POST',
          bulkId: 'team',
          path: '/Groups',
          data: { displayName: 'Bulk Team', members: [{ value: 'bulkId:alice' }, { value: 'bulkId:bob' }] },
        },
        { method: 'POST', bulkId: 'alice', path: '/Users', data: { userName: 'alice@bulk.example' } },
        { method: 'POST', bulkId: 'bob', path: '/Users', data: { userName: 'bob@bulk.example' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201']);
    const group = res.body.Operations.find((o: { bulkId: string }) => o.bulkId === 'team');
    const read = await t.scim().get(`/Groups/${group.location.split('/').pop()}`);
    expect(read.body.members.map((m: { display: string }) => m.display).sort()).toEqual([
      'alice@bulk.example',
      'bob@bulk.example',
    ]);
  });

  it('gives users created through Bulk the bulk source and its default state', async () => {
    const res = await t.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [{ method: 'POST', bulkId: 'x', path: '/Users', data: { userName: 'sourced@bulk.example' } }],
    });
    const user = await t.scim().get(`/Users/${res.body.Operations[0].location.split('/').pop()}`);
    expect(user.body[LIFECYCLE]).toMatchObject({ source: 'bulk', state: 'STAGED' });
  });

  it('runs PUT, PATCH and DELETE and reports each result', async () => {
    const user = (await t.scim().post('/Users', { userName: 'changing@bulk.example' })).body;
    const res = await t.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [
        {
          method: 'PATCH',
          path: `/Users/${user.id}`,
          data: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'title', value: 'Boss' }],
          },
        },
        {
          method: 'PUT',
          path: `/Users/${user.id}`,
          version: 'W/"2"',
          data: { userName: 'changing@bulk.example', title: 'CEO' },
        },
        { method: 'DELETE', path: `/Users/${user.id}` },
        { method: 'DELETE', path: `/Users/${user.id}` },
      ],
    });
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['200', '200', '204', '404']);
    expect(res.body.Operations[1].response.title).toBe('CEO');
    expect(res.body.Operations[3].response).toMatchObject({ status: '404' });
  });

  it('stops after failOnErrors errors', async () => {
    const res = await t.scim().post('/Bulk', {
      schemas: [BULK],
      failOnErrors: 1,
      Operations: [
        { method: 'POST', bulkId: 'a', path: '/Users', data: { name: { givenName: 'no userName' } } },
        { method: 'POST', bulkId: 'b', path: '/Users', data: { userName: 'never@bulk.example' } },
      ],
    });
    expect(res.body.Operations).toHaveLength(1);
    expect(res.body.Operations[0]).toMatchObject({ bulkId: 'a', status: '400' });
    const after = await t.scim().get(`/Users?filter=${encodeURIComponent('userName eq "never@bulk.example"')}`);
    expect(after.body.totalResults).toBe(0);
  });

  it('reports unresolvable and circular bulkIds per operation', async () => {
    const res = await t.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [
        {
          method: 'POST',
          bulkId: 'g1',
          path: '/Groups',
          data: { displayName: 'Loop1', members: [{ value: 'bulkId:g2' }] },
        },
        {
          method: 'POST',
          bulkId: 'g2',
          path: '/Groups',
          data: { displayName: 'Loop2', members: [{ value: 'bulkId:g1' }] },
        },
        {
          method: 'POST',
          bulkId: 'g3',
          path: '/Groups',
          data: { displayName: 'Dangling', members: [{ value: 'bulkId:nowhere' }] },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.Operations.map((o: { status: string }) => o.status).sort()).toEqual(['409', '409', '409']);
  });

  it('answers 413 past maxOperations and past maxPayloadSize', async () => {
    const ops = Array.from({ length: 21 }, (_, i) => ({ method: 'DELETE', path: `/Users/x${i}` }));
    const many = await t.scim().post('/Bulk', { schemas: [BULK], Operations: ops });
    expect(many.status).toBe(413);
    expect(many.body.status).toBe('413');
    const big = await t.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [{ method: 'POST', bulkId: 'p', path: '/Users', data: { userName: 'x'.repeat(5000) } }],
    });
    expect(big.status).toBe(413);
  });

  it('answers 400 invalidSyntax, not 500, to data nested 100,000 levels deep', async () => {
    const roomy = await startTestRoster();
    try {
      const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
      const body = `{"schemas":["${BULK}"],"Operations":[{"method":"POST","bulkId":"d","path":"/Users","data":${deep}}]}`;
      const res = await roomy.scim().post('/Bulk').set('Content-Type', 'application/scim+json').send(body);
      expect(res.status).toBe(400);
      expect(res.body.scimType).toBe('invalidSyntax');
      expect(res.body.detail).toMatch(/nests deeper than/);
      // A realistic request still goes through.
      const ok = await roomy.scim().post('/Bulk', {
        schemas: [BULK],
        Operations: [{ method: 'POST', bulkId: 'u', path: '/Users', data: { userName: 'shallow@example.com' } }],
      });
      expect(ok.status).toBe(200);
      expect(ok.body.Operations[0].status).toBe('201');
    } finally {
      await roomy.close();
    }
  });

  it('rejects a body that is not a BulkRequest with 400 invalidSyntax', async () => {
    const res = await t.scim().post('/Bulk', { Operations: [] });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidSyntax');
  });
});

describe('/Bulk with more user creates than one write batch', () => {
  let big: TestRoster;
  beforeAll(async () => {
    big = await startTestRoster({ scim: { bulk: { maxOperations: 1000, maxPayloadSize: 1_048_576 } } });
  });
  afterAll(() => big.close());

  it('keeps request order across batches, resolves bulkIds from any batch, and has every event written when it answers', async () => {
    const creates = Array.from({ length: 700 }, (_, i) => ({
      method: 'POST',
      bulkId: `u${i}`,
      path: '/Users',
      // The 600th repeats the 5th's userName: the earlier operation wins, as one at a time would.
      data: { userName: i === 600 ? 'batch.5@bulk.example' : `batch.${i}@bulk.example` },
    }));
    const res = await big.scim().post('/Bulk', {
      schemas: [BULK],
      Operations: [
        ...creates.slice(0, 500),
        {
          method: 'POST',
          bulkId: 'team',
          path: '/Groups',
          data: {
            displayName: 'Across batches',
            members: ['u0', 'u300', 'u499'].map((b) => ({ value: `bulkId:${b}` })),
          },
        },
        ...creates.slice(500),
      ],
    });
    expect(res.status).toBe(200);
    const statuses = res.body.Operations.map((o: { status: string }) => o.status);
    expect(statuses.filter((s: string) => s === '201')).toHaveLength(700);
    expect(res.body.Operations[5].status).toBe('201');
    expect(res.body.Operations[601]).toMatchObject({ bulkId: 'u600', status: '409' });

    // One user_create event per created user, none for the refused one (the group runs in the
    // middle, so the request ends with a batch of creates whose events are written alongside).
    const events = await big.admin().get('/events?type=user_create&limit=1000').expect(200);
    const created = new Set(
      res.body.Operations.filter((o: { status: string; location?: string }) => o.status === '201' && o.location)
        .map((o: { location: string }) => o.location.split('/').pop())
        .filter((id: string) => id !== res.body.Operations[500].location.split('/').pop()),
    );
    expect(created.size).toBe(699);
    expect(new Set(events.body.events.map((e: { resource: { id: string } }) => e.resource.id))).toEqual(created);

    const team = res.body.Operations.find((o: { bulkId: string }) => o.bulkId === 'team');
    const group = await big.scim().get(`/Groups/${team.location.split('/').pop()}`);
    expect(group.body.members.map((m: { display: string }) => m.display).sort()).toEqual([
      'batch.0@bulk.example',
      'batch.300@bulk.example',
      'batch.499@bulk.example',
    ]);
  });
});
