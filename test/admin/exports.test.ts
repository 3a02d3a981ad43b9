import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestRoster, TOKENS, useTestRoster, type TestRoster } from '../helpers/roster.js';
import { ENTERPRISE, GROUP, LIFECYCLE, PASSWORD, USER, type Json } from '../helpers/scim.js';

const source = useTestRoster();
const groupIds: Record<string, string> = {};
const userIds: Record<string, string> = {};

function exportUsers(t: TestRoster, format?: string) {
  return t.request
    .get(`/admin/v1/exports/users${format ? `?format=${format}` : ''}`)
    .set('Authorization', `Bearer ${TOKENS.admin}`)
    .buffer(true)
    .parse((res, callback) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => callback(null, text));
    });
}

async function createUser(t: TestRoster, body: Record<string, unknown>): Promise<string> {
  const res = await t.scim().post('/Users', { schemas: [USER, ENTERPRISE, LIFECYCLE], ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  for (const name of ['Engineering', 'Sales', 'Support', 'Zeta "Quoted", Team']) {
    const res = await source.scim().post('/Groups', { schemas: [GROUP], displayName: name });
    groupIds[name] = res.body.id;
  }
  userIds.boss = await createUser(source, {
    userName: 'boss@example.com',
    name: { givenName: 'Bea', familyName: 'Boss' },
    emails: [{ value: 'boss@example.com', type: 'work', primary: true }],
    title: 'CEO',
    password: PASSWORD,
    [LIFECYCLE]: { state: 'ACTIVE', alternateEmail: 'bea@home.example' },
  });
  userIds.ann = await createUser(source, {
    userName: 'ann@example.com',
    displayName: 'Ann Lee',
    name: { givenName: 'Ann', middleName: 'M', familyName: 'Lee' },
    emails: [{ value: 'ann@example.com', type: 'work', primary: true }],
    phoneNumbers: [
      { value: '+1 555 0101', type: 'mobile' },
      { value: '+1 555 0102', type: 'work' },
    ],
    addresses: [{ type: 'work', streetAddress: '1 Main St', locality: 'Springfield' }],
    title: 'Developer, "senior"',
    userType: 'Employee',
    [ENTERPRISE]: {
      employeeNumber: 'E-1',
      department: 'R&D',
      costCenter: 'CC-7',
      organization: 'Example Corp',
      manager: { value: userIds.boss },
    },
    [LIFECYCLE]: { state: 'SUSPENDED' },
  });
  userIds.carl = await createUser(source, {
    userName: 'carl@example.com',
    name: { givenName: 'Carl', familyName: 'Über' },
    emails: [{ value: 'carl@example.com', type: 'work', primary: true }],
    addresses: [{ type: 'work', formatted: 'Berlin,\nBuilding 3' }],
  });
  const add = (group: string, ids: string[]) =>
    source.scim().patch(`/Groups/${groupIds[group]}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }],
    });
  await add('Engineering', [userIds.ann, userIds.carl]);
  await add('Sales', [userIds.ann]);
  await add('Zeta "Quoted", Team', [userIds.ann]);
  // A nested group is not a user membership: it must not count towards Group columns.
  await add('Support', [groupIds.Sales]);
});

describe('GET /admin/v1/exports/users?format=csv', () => {
  it('streams every user in creation order with the import columns, groups by name and the manager by userName', async () => {
    const res = await exportUsers(source, 'csv');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="users-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = parse(res.body as string, { columns: true }) as Record<string, string>[];
    const header = (res.body as string).split('\n')[0].split(',');
    expect(header.slice(-4)).toEqual(['state', 'Group1', 'Group2', 'Group3']);
    expect(rows.map((r) => r.Username)).toEqual(['boss@example.com', 'ann@example.com', 'carl@example.com']);
    expect(rows[0]).toMatchObject({ Password: '', alternateEmail: 'bea@home.example', state: 'ACTIVE', Group1: '' });
    expect(rows[1]).toMatchObject({
      FirstName: 'Ann',
      MiddleName: 'M',
      LastName: 'Lee',
      displayName: 'Ann Lee',
      jobTitle: 'Developer, "senior"',
      employeeIdentifier: 'E-1',
      department: 'R&D',
      costCenter: 'CC-7',
      company: 'Example Corp',
      employeeType: 'Employee',
      location: '1 Main St, Springfield',
      manager: 'boss@example.com',
      // A leading + would be a formula in a spreadsheet: the export protects it (the import removes the ').
      mobile_number: "'+1 555 0101",
      work_number: "'+1 555 0102",
      state: 'SUSPENDED',
      Group1: 'Engineering',
      Group2: 'Sales',
      Group3: 'Zeta "Quoted", Team',
    });
    expect(rows[2]).toMatchObject({ LastName: 'Über', location: 'Berlin,\nBuilding 3', Group1: 'Engineering' });
  });

  it('exports the header alone for an empty directory, and [] as JSON', async () => {
    const empty = await startTestRoster();
    try {
      const csv = await exportUsers(empty, 'csv');
      expect(csv.body).toBe(
        'Username,FirstName,LastName,Email,Password,alternateEmail,MiddleName,displayName,jobTitle,employeeIdentifier,department,costCenter,company,employeeType,location,manager,mobile_number,work_number,state\n',
      );
      const json = await exportUsers(empty, 'json');
      expect(JSON.parse(json.body as string)).toEqual([]);
    } finally {
      await empty.close();
    }
  });

  it('answers 400 for another format, and needs an admin token', async () => {
    const res = await exportUsers(source, 'xml');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body as string).error).toEqual({
      code: 'invalid_parameter',
      message: 'format must be csv or json',
    });
    const scim = await source.request.get('/admin/v1/exports/users').set('Authorization', `Bearer ${TOKENS.scim}`);
    expect(scim.status).toBe(403);
  });
});

describe('GET /admin/v1/exports/users?format=json', () => {
  it('streams a JSON array of SCIM users with direct groups and no password data', async () => {
    const res = await exportUsers(source, 'json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="users-.*\.json"$/);
    expect(res.body).not.toMatch(/password(?!Status|Authority)|scrypt|secret/i);
    const users = JSON.parse(res.body as string) as Json[];
    expect(users.map((u) => u.userName)).toEqual(['boss@example.com', 'ann@example.com', 'carl@example.com']);
    expect(users[0][LIFECYCLE]).toMatchObject({ state: 'ACTIVE', passwordStatus: 'ACTIVE' });
    expect(users[1]).toMatchObject({
      id: userIds.ann,
      schemas: [USER, ENTERPRISE, LIFECYCLE],
      [ENTERPRISE]: { manager: { value: userIds.boss } },
      meta: { resourceType: 'User' },
    });
    expect(users[1].groups.map((g: { display: string; type: string }) => [g.display, g.type])).toEqual([
      ['Engineering', 'direct'],
      ['Sales', 'direct'],
      ['Zeta "Quoted", Team', 'direct'],
    ]);
  });
});

describe('round trip', () => {
  it('exports from one Roster and imports into an empty one: the same users', async () => {
    const csv = (await exportUsers(source, 'csv')).body as string;
    const target = await startTestRoster();
    try {
      for (const name of Object.keys(groupIds)) {
        await target.scim().post('/Groups', { schemas: [GROUP], displayName: name });
      }
      const res = await target.request
        .post('/admin/v1/imports')
        .set('Authorization', `Bearer ${TOKENS.admin}`)
        .set('Content-Type', 'text/csv')
        .send(csv);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: 3, created: 3, failed: 0 });

      const view = async (t: TestRoster) => {
        const list = await t.scim().get('/Users?count=100&sortBy=userName');
        const byId = new Map<string, string>(list.body.Resources.map((u: Json) => [u.id, u.userName]));
        return list.body.Resources.map((u: Json) => ({
          userName: u.userName,
          name: u.name,
          displayName: u.displayName,
          title: u.title,
          userType: u.userType,
          emails: u.emails,
          phoneNumbers: u.phoneNumbers,
          enterprise: { ...u[ENTERPRISE], manager: byId.get(u[ENTERPRISE]?.manager?.value) },
          state: u[LIFECYCLE].state,
          alternateEmail: u[LIFECYCLE].alternateEmail,
          groups: (u.groups ?? [])
            .filter((g: Json) => g.type === 'direct')
            .map((g: Json) => g.display)
            .sort(),
        }));
      };
      const before = await view(source);
      const after = await view(target);
      expect(after).toEqual(before);
      expect(after[0]).toMatchObject({ userName: 'ann@example.com', enterprise: { manager: 'boss@example.com' } });
      // A structured address comes back as the text it was exported as.
      const ann = (await target.scim().get(`/Users?filter=${encodeURIComponent('userName eq "ann@example.com"')}`)).body
        .Resources[0];
      expect(ann.addresses).toEqual([{ type: 'work', formatted: '1 Main St, Springfield' }]);
    } finally {
      await target.close();
    }
  });
});
