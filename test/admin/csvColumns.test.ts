import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import {
  CSV_FIELDS,
  csvRowToScimUser,
  ENTERPRISE_SCHEMA,
  LIFECYCLE_SCHEMA,
  mapCsvHeader,
} from '../../src/admin/csvColumns.js';
import { exportHeader, scimUserToCsvRow } from '../../src/admin/csvExportRow.js';

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';

function rowFor(headers: string[], cells: string[]): Record<string, string> {
  return Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? '']));
}

function mapRow(headers: string[], cells: string[]) {
  const { columns, errors } = mapCsvHeader(headers);
  expect(errors).toEqual([]);
  return csvRowToScimUser(rowFor(headers, cells), columns);
}

describe('mapCsvHeader', () => {
  it('accepts every documented column in any case, with spaces and a BOM', () => {
    const headers = ['\uFEFFusername', ' FIRSTNAME ', ...CSV_FIELDS.slice(2), 'group1', 'GROUP2', 'Group10'];
    const { columns, errors } = mapCsvHeader(headers);
    expect(errors).toEqual([]);
    expect(columns).toHaveLength(headers.length);
    expect(columns[0]).toEqual({ index: 0, header: '\uFEFFusername', field: 'Username' });
    expect(columns[1]).toEqual({ index: 1, header: ' FIRSTNAME ', field: 'FirstName' });
    expect(columns.filter((c) => c.field === 'Group').map((c) => c.groupNumber)).toEqual([1, 2, 10]);
  });

  it('names an unknown column', () => {
    const { errors } = mapCsvHeader(['Username', 'Emial', 'Group0']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/Unknown column "Emial" \(column 2\)/);
    expect(errors[1]).toMatch(/Unknown column "Group0"/);
  });

  it('reports duplicates, also across spellings', () => {
    const { errors } = mapCsvHeader(['Username', 'email', 'EMAIL', 'Group1', 'group01']);
    expect(errors).toEqual([
      'Duplicate column "EMAIL" (columns 2 and 3)',
      'Duplicate column "group01" (columns 4 and 5)',
    ]);
  });

  it('requires Username and reports empty headers', () => {
    expect(mapCsvHeader(['Email', 'FirstName']).errors).toEqual(['Missing required column "Username"']);
    expect(mapCsvHeader(['Username', '', 'Email']).errors).toEqual(['The header of column 2 is empty']);
  });
});

describe('csvRowToScimUser', () => {
  const headers = exportHeader(3);

  it('maps a full row to the SCIM form', () => {
    const cells = [
      'jdoe',
      'Jane',
      'Doe',
      'jane.doe@example.com',
      'S3cret-pass!',
      'jane@home.example',
      'Q',
      'Jane Q. Doe',
      'Engineer',
      'E-1001',
      'R&D',
      'CC-42',
      'Example Inc',
      'Contractor',
      'Berlin, Building 3',
      'boss',
      '+49 170 1234567',
      '+49 30 1234',
      'staged',
      'Engineering',
      'All Staff',
      '',
    ];
    const result = mapRow(headers, cells);
    expect(result.errors).toEqual([]);
    expect(result.managerUserName).toBe('boss');
    expect(result.groups).toEqual(['Engineering', 'All Staff']);
    expect(result.user).toEqual({
      schemas: [CORE, ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA],
      userName: 'jdoe',
      name: { givenName: 'Jane', middleName: 'Q', familyName: 'Doe' },
      displayName: 'Jane Q. Doe',
      title: 'Engineer',
      userType: 'Contractor',
      password: 'S3cret-pass!',
      emails: [{ value: 'jane.doe@example.com', type: 'work', primary: true }],
      phoneNumbers: [
        { value: '+49 170 1234567', type: 'mobile' },
        { value: '+49 30 1234', type: 'work' },
      ],
      addresses: [{ type: 'work', formatted: 'Berlin, Building 3' }],
      [ENTERPRISE_SCHEMA]: {
        employeeNumber: 'E-1001',
        department: 'R&D',
        costCenter: 'CC-42',
        organization: 'Example Inc',
      },
      [LIFECYCLE_SCHEMA]: { alternateEmail: 'jane@home.example', state: 'STAGED' },
    });
  });

  it('leaves empty (or blank) cells out entirely', () => {
    const result = mapRow(['Username', 'FirstName', 'Email', 'department', 'state', 'Group1'], ['  jdoe ', ' ', '']);
    expect(result).toEqual({ user: { schemas: [CORE], userName: 'jdoe' }, groups: [], errors: [] });
  });

  it('reads columns by the header text as it appears in the file', () => {
    const headers = [' USERNAME', 'eMail'];
    const result = mapRow(headers, ['x', 'x@example.com']);
    expect(result.user).toMatchObject({ userName: 'x', emails: [{ value: 'x@example.com' }] });
  });

  it('orders groups by column number and drops duplicates case-insensitively', () => {
    const result = mapRow(['Group3', 'Username', 'Group1', 'Group2'], ['C', 'u', 'A', 'a']);
    expect(result.groups).toEqual(['A', 'C']);
  });

  it.each([
    [['', 'a@example.com'], /Username is required/],
    [['u', 'not-an-email'], /Email "not-an-email" is not a valid email address/],
    [['u', 'a@b', ''], /Email/],
    [['u', 'a@example.com', 'also bad'], /alternateEmail "also bad"/],
    [['u', 'a@example.com', 'A@Example.com'], /alternateEmail must differ from Email/],
    [['u', '', '', 'retired'], /state "retired" must be one of STAGED, ACTIVE, SUSPENDED/],
    [['u', '', '', '', 'U'], /manager cannot be the user themselves/],
  ])('validates %j', (cells, message) => {
    const result = mapRow(['Username', 'Email', 'alternateEmail', 'state', 'manager'], cells);
    expect(result.errors).toEqual([expect.stringMatching(message)]);
  });

  it('accepts states in any case', () => {
    for (const state of ['active', 'Suspended', 'STAGED']) {
      const result = mapRow(['Username', 'state'], ['u', state]);
      expect(result.errors).toEqual([]);
      expect((result.user[LIFECYCLE_SCHEMA] as { state: string }).state).toBe(state.toUpperCase());
    }
  });
});

describe('scimUserToCsvRow and exportHeader', () => {
  it('builds the header with N group columns', () => {
    expect(exportHeader(0)).toEqual([...CSV_FIELDS]);
    expect(exportHeader(2).slice(-3)).toEqual(['state', 'Group1', 'Group2']);
    expect(mapCsvHeader(exportHeader(5)).errors).toEqual([]);
  });

  it('picks the company email, phone numbers by type and the work address', () => {
    const row = scimUserToCsvRow(
      {
        userName: 'u',
        emails: [
          { value: 'home@example.com', type: 'home' },
          { value: 'work@example.com', type: 'work' },
          { value: 'primary@example.com', type: 'other', primary: true },
        ],
        phoneNumbers: [
          { value: '1', type: 'work' },
          { value: '2', type: 'mobile' },
        ],
        addresses: [
          { type: 'home', formatted: 'Home' },
          { type: 'work', locality: 'Berlin', country: 'DE' },
        ],
        password: 'never exported',
        active: true,
      },
      ['G1', 'G2'],
      'boss',
    );
    expect(row).toMatchObject({
      Username: 'u',
      Email: 'primary@example.com',
      Password: '',
      work_number: '1',
      mobile_number: '2',
      location: 'Berlin, DE',
      manager: 'boss',
      Group1: 'G1',
      Group2: 'G2',
    });
    expect(scimUserToCsvRow({ userName: 'u', emails: [{ value: 'w@example.com', type: 'work' }] }, []).Email).toBe(
      'w@example.com',
    );
    expect(scimUserToCsvRow({ userName: 'u', emails: [{ value: 'first@example.com' }] }, []).Email).toBe(
      'first@example.com',
    );
  });

  it('gives every column a string, empty when not set', () => {
    const row = scimUserToCsvRow({ userName: 'only' }, []);
    expect(Object.keys(row)).toEqual([...CSV_FIELDS]);
    expect(Object.values(row).filter((v) => v !== '')).toEqual(['only']);
  });

  it('round-trips through real CSV text into the same users', () => {
    const users: { user: Record<string, unknown>; groups: string[]; manager?: string }[] = [
      {
        user: {
          schemas: [CORE, ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA],
          userName: 'jdoe',
          name: { givenName: 'Jane', middleName: 'Q', familyName: 'Doe, Jr.' },
          displayName: 'Jane "JD" Doe',
          title: 'Engineer',
          userType: 'Employee',
          emails: [{ value: 'jane@example.com', type: 'work', primary: true }],
          phoneNumbers: [
            { value: '+1 555 0100', type: 'mobile' },
            { value: '+1 555 0101', type: 'work' },
          ],
          addresses: [{ type: 'work', formatted: 'Line 1\nLine 2' }],
          [ENTERPRISE_SCHEMA]: { employeeNumber: '7', department: 'R&D', costCenter: 'C1', organization: 'Ex' },
          [LIFECYCLE_SCHEMA]: { alternateEmail: 'jane@home.example', state: 'ACTIVE' },
        },
        groups: ['Engineering', 'Everyone, worldwide', 'Zürich'],
        manager: 'boss',
      },
      { user: { schemas: [CORE], userName: 'boss' }, groups: [] },
      {
        user: { schemas: [CORE, LIFECYCLE_SCHEMA], userName: 'temp', [LIFECYCLE_SCHEMA]: { state: 'SUSPENDED' } },
        groups: ['Temps'],
      },
    ];
    const maxGroups = Math.max(...users.map((u) => u.groups.length));
    const header = exportHeader(maxGroups);
    const text = stringify(
      users.map((u) => scimUserToCsvRow(u.user, u.groups, u.manager)),
      { header: true, columns: header },
    );

    const records = parse(text, { columns: true, bom: true }) as Record<string, string>[];
    const { columns, errors } = mapCsvHeader(Object.keys(records[0]));
    expect(errors).toEqual([]);
    const back = records.map((r) => csvRowToScimUser(r, columns));
    expect(back.map((b) => b.errors)).toEqual([[], [], []]);
    expect(back.map((b) => b.user)).toEqual(users.map((u) => u.user));
    expect(back.map((b) => b.groups)).toEqual(users.map((u) => u.groups));
    expect(back.map((b) => b.managerUserName)).toEqual(['boss', undefined, undefined]);
  });
});
