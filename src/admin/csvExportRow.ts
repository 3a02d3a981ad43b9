import { companyEmail } from '../users/emailAddresses.js';
import { CSV_FIELDS, ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA, type CsvField } from './csvColumns.js';

/** A user in SCIM form as an export row (the columns are described in csvColumns.ts). Pure: no I/O. */

/** The export header: the fixed columns, then Group1..Group{maxGroups}. */
export function exportHeader(maxGroups: number): string[] {
  const groups = Array.from({ length: Math.max(0, Math.floor(maxGroups)) }, (_, i) => `Group${i + 1}`);
  return [...CSV_FIELDS, ...groups];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The location column: the work address, else the primary one, else the first. */
function location(user: Obj): string {
  const addresses = list(user.addresses);
  const chosen = addresses.find((a) => a.type === 'work') ?? addresses.find((a) => a.primary === true) ?? addresses[0];
  if (!chosen) return '';
  if (str(chosen.formatted)) return str(chosen.formatted);
  return ['streetAddress', 'locality', 'region', 'postalCode', 'country']
    .map((k) => str(chosen[k]).trim())
    .filter((p) => p !== '')
    .join(', ');
}

function phone(user: Obj, type: string): string {
  return str(list(user.phoneNumbers).find((p) => p.type === type)?.value);
}

/**
 * The export row of a user in SCIM form, keyed by the canonical headers of `exportHeader`. Groups
 * fill Group1.. in the given order; Password is always empty.
 */
export function scimUserToCsvRow(
  user: Record<string, unknown>,
  groupNames: string[],
  managerUserName?: string,
): Record<string, string> {
  const name = isObj(user.name) ? user.name : {};
  const enterprise = isObj(user[ENTERPRISE_SCHEMA]) ? (user[ENTERPRISE_SCHEMA] as Obj) : {};
  const lifecycle = isObj(user[LIFECYCLE_SCHEMA]) ? (user[LIFECYCLE_SCHEMA] as Obj) : {};
  const row: Record<CsvField, string> = {
    Username: str(user.userName),
    FirstName: str(name.givenName),
    LastName: str(name.familyName),
    Email: str(companyEmail(user)),
    Password: '',
    alternateEmail: str(lifecycle.alternateEmail),
    MiddleName: str(name.middleName),
    displayName: str(user.displayName),
    jobTitle: str(user.title),
    employeeIdentifier: str(enterprise.employeeNumber),
    department: str(enterprise.department),
    costCenter: str(enterprise.costCenter),
    company: str(enterprise.organization),
    employeeType: str(user.userType),
    location: location(user),
    manager: managerUserName ?? '',
    mobile_number: phone(user, 'mobile'),
    work_number: phone(user, 'work'),
    state: str(lifecycle.state),
  };
  const out: Record<string, string> = { ...row };
  groupNames.forEach((group, i) => {
    out[`Group${i + 1}`] = group;
  });
  return out;
}
