import { InvalidError } from '../errors.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';

/**
 * GET /admin/v1/users parameters as a SCIM list request, so the admin search is the SCIM filter
 * engine's (one set of matching rules): `q` is a case-insensitive substring of userName, the name
 * parts, displayName, any email or the alternate email; `state`, `passwordStatus`, `locked` and
 * `activationPending` narrow it; cursor paging; a few sort keys.
 */
export interface UserSearchParams {
  q?: string;
  state?: string;
  passwordStatus?: string;
  locked?: string;
  activationPending?: string;
  sort?: string;
  order?: string;
  count?: string;
  cursor?: string;
}

const LC = SCHEMA_URNS.lifecycle;
const STATES = ['STAGED', 'ACTIVE', 'SUSPENDED'];
const PASSWORD_STATUSES = ['PENDING', 'ACTIVE', 'EXPIRED'];
const SEARCHED = [
  'userName',
  'displayName',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'emails.value',
  `${LC}:alternateEmail`,
];
export const SORT_KEYS: Record<string, string> = {
  userName: 'userName',
  familyName: 'name.familyName',
  created: 'meta.created',
  lastModified: 'meta.lastModified',
  lastLogin: `${LC}:lastLogin`,
};
const MAX_QUERY = 200;

function invalid(message: string): InvalidError {
  return new InvalidError(message, { code: 'invalid_parameter' });
}

function oneOf(name: string, value: string | undefined, allowed: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!allowed.includes(value)) throw invalid(`${name} must be one of ${allowed.join(', ')}`);
  return value;
}

function flag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw invalid(`${name} must be true or false`);
}

/** The SCIM list parameters (filter, sortBy, sortOrder, count, cursor) for users.list(). */
export function userSearchToList(params: UserSearchParams): Record<string, unknown> {
  const terms: string[] = [];
  const q = (params.q ?? '').trim();
  if (q.length > MAX_QUERY) throw invalid(`q may have at most ${MAX_QUERY} characters`);
  // JSON string syntax is SCIM's (RFC 7644 §3.4.2.2): quotes and backslashes in q stay literal.
  if (q) terms.push(`(${SEARCHED.map((attribute) => `${attribute} co ${JSON.stringify(q)}`).join(' or ')})`);
  const state = oneOf('state', params.state, STATES);
  if (state) terms.push(`${LC}:state eq "${state}"`);
  const passwordStatus = oneOf('passwordStatus', params.passwordStatus, PASSWORD_STATUSES);
  if (passwordStatus) terms.push(`${LC}:passwordStatus eq "${passwordStatus}"`);
  if (flag('locked', params.locked)) terms.push(`${LC}:locked eq true`);
  if (flag('activationPending', params.activationPending)) {
    terms.push(`${LC}:state eq "ACTIVE" and ${LC}:passwordStatus eq "PENDING"`);
  }
  const sort = oneOf('sort', params.sort, Object.keys(SORT_KEYS)) ?? 'userName';
  const order = oneOf('order', params.order, ['ascending', 'descending']) ?? 'ascending';
  return {
    ...(terms.length ? { filter: terms.join(' and ') } : {}),
    sortBy: SORT_KEYS[sort],
    sortOrder: order,
    count: params.count ?? '50',
    cursor: params.cursor ?? '',
    excludedAttributes: 'groups',
  };
}
