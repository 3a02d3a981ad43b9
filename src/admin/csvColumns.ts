/**
 * The CSV import/export column set and its mapping from a row to the SCIM User form (the way back,
 * for exports, in csvExportRow.ts; formula-looking cells in csvCells.ts). Pure: no I/O.
 *
 * Columns (header names match case-insensitively, surrounding spaces ignored):
 *
 * | column             | SCIM                                                             |
 * |--------------------|------------------------------------------------------------------|
 * | Username           | userName (required)                                              |
 * | FirstName          | name.givenName                                                   |
 * | MiddleName         | name.middleName                                                  |
 * | LastName           | name.familyName                                                  |
 * | Email              | emails [{value, type: 'work', primary: true}] (the company email) |
 * | Password           | password (write-only: exports leave it empty)                     |
 * | alternateEmail     | lifecycle extension alternateEmail                               |
 * | displayName        | displayName                                                      |
 * | jobTitle           | title                                                            |
 * | employeeIdentifier | enterprise extension employeeNumber                              |
 * | department         | enterprise extension department                                  |
 * | costCenter         | enterprise extension costCenter                                  |
 * | company            | enterprise extension organization                                |
 * | employeeType       | userType                                                         |
 * | location           | addresses [{type: 'work', formatted}] (see below)                 |
 * | manager            | the manager's userName (the importer resolves it to enterprise manager.value) |
 * | mobile_number      | phoneNumbers [{value, type: 'mobile'}]                           |
 * | work_number        | phoneNumbers [{value, type: 'work'}]                             |
 * | state              | lifecycle extension state: STAGED / ACTIVE / SUSPENDED (any case) |
 * | Group1..GroupN     | display names of groups the user is a member of (any N >= 1)     |
 *
 * An empty cell means "not set": the attribute is left out of the SCIM user.
 *
 * `location` is free text ("Berlin, Building 3"), so it maps to the work address's `formatted`
 * (SCIM's full, display-ready address), not to `locality`, which would misstate anything that is not
 * just a city. On export, a work address without `formatted` is shown as its parts joined by ", ";
 * re-importing that row stores it as `formatted`.
 */

import { isEmailAddress } from '../users/emailAddresses.js';
import { unprotectCell } from './csvCells.js';

export const CORE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIFECYCLE_SCHEMA = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';

/** The fixed columns, in export order. */
export const CSV_FIELDS = [
  'Username',
  'FirstName',
  'LastName',
  'Email',
  'Password',
  'alternateEmail',
  'MiddleName',
  'displayName',
  'jobTitle',
  'employeeIdentifier',
  'department',
  'costCenter',
  'company',
  'employeeType',
  'location',
  'manager',
  'mobile_number',
  'work_number',
  'state',
] as const;

export type CsvField = (typeof CSV_FIELDS)[number];

export const CSV_STATES = ['STAGED', 'ACTIVE', 'SUSPENDED'] as const;
export type CsvState = (typeof CSV_STATES)[number];

export interface ColumnSpec {
  /** Position in the header row, from 0. */
  index: number;
  /** The header exactly as it appears in the file: the key of that column in a row record. */
  header: string;
  /** The canonical column: one of CSV_FIELDS, or 'Group' for a GroupN column. */
  field: CsvField | 'Group';
  /** N of a GroupN column. */
  groupNumber?: number;
}

const BY_LOWER = new Map<string, CsvField>(CSV_FIELDS.map((f) => [f.toLowerCase(), f]));

function canonicalName(spec: ColumnSpec): string {
  return spec.field === 'Group' ? `Group${spec.groupNumber}` : spec.field;
}

/**
 * Maps a header row to column specs. Errors: an empty or unknown header, a duplicate column, a
 * missing Username column. The importer should refuse the whole file when `errors` is not empty.
 */
export function mapCsvHeader(headers: string[]): { columns: ColumnSpec[]; errors: string[] } {
  const columns: ColumnSpec[] = [];
  const errors: string[] = [];
  const seen = new Map<string, number>();
  headers.forEach((header, index) => {
    const name = (index === 0 ? header.replace(/^\uFEFF/, '') : header).trim();
    const position = `column ${index + 1}`;
    if (name === '') {
      errors.push(`The header of ${position} is empty`);
      return;
    }
    let spec: ColumnSpec | undefined;
    const field = BY_LOWER.get(name.toLowerCase());
    const group = /^group(\d+)$/i.exec(name);
    if (field) {
      spec = { index, header, field };
    } else if (group && Number(group[1]) >= 1 && Number.isSafeInteger(Number(group[1]))) {
      spec = { index, header, field: 'Group', groupNumber: Number(group[1]) };
    }
    if (!spec) {
      errors.push(
        `Unknown column "${name}" (${position}); known columns: ${CSV_FIELDS.join(', ')}, Group1, Group2, ...`,
      );
      return;
    }
    const key = canonicalName(spec).toLowerCase();
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      errors.push(`Duplicate column "${name}" (columns ${earlier + 1} and ${index + 1})`);
      return;
    }
    seen.set(key, index);
    columns.push(spec);
  });
  if (!columns.some((c) => c.field === 'Username')) {
    errors.push('Missing required column "Username"');
  }
  return { columns, errors };
}

export interface CsvUser {
  /** The SCIM form of the row (no `id`; the importer matches on userName). */
  user: Record<string, unknown>;
  /** The `manager` cell: the manager's userName, resolved by the importer. */
  managerUserName?: string;
  /** Group display names from the GroupN cells, in column-number order, without duplicates. */
  groups: string[];
  /** Row-level problems; when not empty the row must not be imported. */
  errors: string[];
}

/** Maps one row (keyed by the file's headers, as with csv-parse `columns: true`) to the SCIM form. */
export function csvRowToScimUser(row: Record<string, string | undefined>, columns: ColumnSpec[]): CsvUser {
  const errors: string[] = [];
  const value: Partial<Record<CsvField, string>> = {};
  const groupCells: { n: number; name: string }[] = [];
  for (const column of columns) {
    const cell = unprotectCell((row[column.header] ?? '').trim());
    if (cell === '') continue;
    if (column.field === 'Group') groupCells.push({ n: column.groupNumber ?? 0, name: cell });
    else value[column.field] = cell;
  }

  const user: Record<string, unknown> = { schemas: [CORE_SCHEMA] };
  if (value.Username) user.userName = value.Username;
  else errors.push('Username is required');

  const name = withoutEmpty({
    givenName: value.FirstName,
    middleName: value.MiddleName,
    familyName: value.LastName,
  });
  if (name) user.name = name;
  if (value.displayName) user.displayName = value.displayName;
  if (value.jobTitle) user.title = value.jobTitle;
  if (value.employeeType) user.userType = value.employeeType;
  if (value.Password) user.password = value.Password;

  if (value.Email) {
    if (!isEmailAddress(value.Email, { dottedDomain: true }))
      errors.push(`Email "${value.Email}" is not a valid email address`);
    user.emails = [{ value: value.Email, type: 'work', primary: true }];
  }
  const phones: { value: string; type: string }[] = [];
  if (value.mobile_number) phones.push({ value: value.mobile_number, type: 'mobile' });
  if (value.work_number) phones.push({ value: value.work_number, type: 'work' });
  if (phones.length) user.phoneNumbers = phones;
  if (value.location) user.addresses = [{ type: 'work', formatted: value.location }];

  const enterprise = withoutEmpty({
    employeeNumber: value.employeeIdentifier,
    department: value.department,
    costCenter: value.costCenter,
    organization: value.company,
  });
  if (enterprise) user[ENTERPRISE_SCHEMA] = enterprise;

  let state: CsvState | undefined;
  if (value.state) {
    const upper = value.state.toUpperCase();
    if ((CSV_STATES as readonly string[]).includes(upper)) state = upper as CsvState;
    else errors.push(`state "${value.state}" must be one of ${CSV_STATES.join(', ')}`);
  }
  if (value.alternateEmail) {
    if (!isEmailAddress(value.alternateEmail, { dottedDomain: true })) {
      errors.push(`alternateEmail "${value.alternateEmail}" is not a valid email address`);
    } else if (value.Email && value.alternateEmail.toLowerCase() === value.Email.toLowerCase()) {
      errors.push('alternateEmail must differ from Email');
    }
  }
  const lifecycle = withoutEmpty({ alternateEmail: value.alternateEmail, state });
  if (lifecycle) user[LIFECYCLE_SCHEMA] = lifecycle;

  const schemas = user.schemas as string[];
  if (enterprise) schemas.push(ENTERPRISE_SCHEMA);
  if (lifecycle) schemas.push(LIFECYCLE_SCHEMA);

  if (value.manager && value.Username && value.manager.toLowerCase() === value.Username.toLowerCase()) {
    errors.push('manager cannot be the user themselves');
  }

  const groups: string[] = [];
  const seenGroups = new Set<string>();
  for (const cell of groupCells.sort((a, b) => a.n - b.n)) {
    const key = cell.name.normalize('NFC').toLowerCase();
    if (seenGroups.has(key)) continue;
    seenGroups.add(key);
    groups.push(cell.name);
  }

  const result: CsvUser = { user, groups, errors };
  if (value.manager) result.managerUserName = value.manager;
  return result;
}

function withoutEmpty<T extends Record<string, string | undefined>>(value: T): Partial<T> | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== '');
  return entries.length ? (Object.fromEntries(entries) as Partial<T>) : undefined;
}
