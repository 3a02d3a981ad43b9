import { describe, expect, it } from 'vitest';
import { ScimError } from '../../src/scim/errors.js';
import {
  compileFilter,
  escapeRegex,
  type FieldResolver as AttributeResolver,
  type MongoQuery,
  type ResolvedAttribute,
} from '../../src/db/filterQuery.js';
import { parseAttributePath } from '../../src/scim/attributePath.js';
import { parseDateTime } from '../../src/scim/filterMatch.js';
import { MAX_FILTER_DEPTH, type CompareOp } from '../../src/scim/filterParser.js';
import { scimError } from './scimHelpers.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';

const str = (field: string, extra: Partial<ResolvedAttribute> = {}): ResolvedAttribute => ({
  field,
  type: 'string',
  caseExact: false,
  multiValued: false,
  ...extra,
});

function activeQuery(op: CompareOp, value: unknown): MongoQuery {
  if (op === 'pr') return { 'lifecycle.state': { $exists: true } };
  const active = op === 'eq' ? value === true : !(value === true);
  return active ? { 'lifecycle.state': 'ACTIVE' } : { 'lifecycle.state': { $ne: 'ACTIVE' } };
}

/** A User resolver like the repository's: keys are "urn|attribute|sub" lower-cased; the core URN is optional. */
const USER: Record<string, ResolvedAttribute> = {
  id: str('_id', { caseExact: true }),
  externalid: str('externalId', { caseExact: true }),
  username: str('userName', { normalizedField: 'norm.userName' }),
  displayname: str('displayName'),
  title: str('title'),
  active: { field: 'active', type: 'boolean', caseExact: false, multiValued: false, compute: activeQuery },
  name: { field: 'name', type: 'complex', caseExact: false, multiValued: false },
  'name.givenname': str('name.givenName'),
  'name.familyname': str('name.familyName'),
  emails: { field: 'emails', type: 'complex', caseExact: false, multiValued: true },
  'emails.value': str('emails.value', { multiValued: true, normalizedField: 'norm.emails' }),
  'emails.type': str('emails.type', { multiValued: true }),
  'emails.primary': { field: 'emails.primary', type: 'boolean', caseExact: false, multiValued: true },
  groups: { field: 'groups', type: 'complex', caseExact: false, multiValued: true },
  'groups.value': str('groups.value', { caseExact: true, multiValued: true, join: 'groups.value' }),
  meta: { field: 'meta', type: 'complex', caseExact: false, multiValued: false },
  'meta.created': { field: 'meta.created', type: 'dateTime', caseExact: false, multiValued: false },
  'meta.lastmodified': { field: 'meta.lastModified', type: 'dateTime', caseExact: false, multiValued: false },
  'meta.resourcetype': str('meta.resourceType', { caseExact: true }),
  [`${ENTERPRISE}:employeenumber`.toLowerCase()]: str('enterprise.employeeNumber', { caseExact: true }),
  [`${ENTERPRISE}:manager`.toLowerCase()]: {
    field: 'enterprise.manager',
    type: 'complex',
    caseExact: false,
    multiValued: false,
  },
  [`${ENTERPRISE}:manager.value`.toLowerCase()]: str('enterprise.manager.value', { caseExact: true }),
  [`${ENTERPRISE}:costcenter`.toLowerCase()]: str('enterprise.costCenter'),
  [`${LIFECYCLE}:state`.toLowerCase()]: str('lifecycle.state', { caseExact: true }),
  [`${LIFECYCLE}:scheduledactivation`.toLowerCase()]: {
    field: 'lifecycle.scheduledActivation',
    type: 'dateTime',
    caseExact: false,
    multiValued: false,
  },
  [`${LIFECYCLE}:locked`.toLowerCase()]: {
    field: 'lifecycle.locked',
    type: 'boolean',
    caseExact: false,
    multiValued: false,
  },
  'x-logins': { field: 'logins', type: 'integer', caseExact: false, multiValued: false },
};

const resolveUser: AttributeResolver = ({ urn, attribute, subAttribute }) => {
  const prefix = urn && urn.toLowerCase() !== CORE.toLowerCase() ? `${urn}:` : '';
  return USER[`${prefix}${attribute}${subAttribute ? `.${subAttribute}` : ''}`.toLowerCase()];
};

const q = (filter: string) => compileFilter(filter, resolveUser).query;
const compiled = (filter: string) => compileFilter(filter, resolveUser);

/** Sample resources in SCIM form. */
const alice = {
  schemas: [CORE, ENTERPRISE, LIFECYCLE],
  id: 'u-alice',
  externalId: 'ExtA',
  userName: 'Alice@Example.com',
  displayName: 'Alice Liddell',
  title: 'Engineer',
  active: true,
  name: { givenName: 'Alice', familyName: 'Liddell' },
  emails: [
    { value: 'Alice@Example.com', type: 'work', primary: true },
    { value: 'alice@home.org', type: 'home' },
  ],
  groups: [{ value: 'g-eng', display: 'Engineering' }],
  meta: { resourceType: 'User', created: '2024-03-01T10:00:00.000Z', lastModified: '2024-06-01T10:00:00.000Z' },
  [ENTERPRISE]: { employeeNumber: '42', manager: { value: 'u-bob' }, costCenter: 'R&D' },
  [LIFECYCLE]: { state: 'ACTIVE', locked: false, scheduledActivation: '2024-03-02T08:00:00Z' },
};
const bob = {
  schemas: [CORE, LIFECYCLE],
  id: 'u-bob',
  userName: 'bob',
  title: '',
  active: false,
  name: { givenName: 'Bob' },
  emails: [
    { value: 'bob@home.org', type: 'work' },
    { value: 'bob@example.com', type: 'home' },
  ],
  meta: { resourceType: 'User', created: '2023-12-31T23:59:59.999Z', lastModified: '2024-01-05T00:00:00Z' },
  [LIFECYCLE]: { state: 'SUSPENDED', locked: true },
};
const carol = {
  schemas: [CORE],
  id: 'u-carol',
  userName: 'Çarol',
  active: false,
  emails: [{ value: 'axxxb(@example.com', type: 'Work' }],
  meta: { resourceType: 'User', created: '2025-01-01T00:00:00Z', lastModified: '2025-01-01T00:00:00Z' },
  [LIFECYCLE]: { state: 'STAGED' },
};
const people = { alice, bob, carol };

function who(filter: string): string[] {
  const { matches } = compiled(filter);
  return Object.entries(people)
    .filter(([, r]) => matches(r))
    .map(([n]) => n);
}

describe('compileFilter: operators', () => {
  it('eq on a case-insensitive attribute with a normalized field uses the lower-cased value', () => {
    expect(compiled('userName eq "Alice@Example.COM"')).toMatchObject({
      query: { 'norm.userName': 'alice@example.com' },
      exact: true,
    });
    expect(who('userName eq "ALICE@example.com"')).toEqual(['alice']);
  });

  it('eq without a normalized field is an anchored, escaped, case-insensitive regex', () => {
    expect(q('title eq "Engineer (I)"')).toEqual({ title: { $regex: '^Engineer \\(I\\)$', $options: 'i' } });
    expect(who('title eq "engineer"')).toEqual(['alice']);
  });

  it('eq on a caseExact attribute is plain equality', () => {
    expect(q('externalId eq "ExtA"')).toEqual({ externalId: 'ExtA' });
    expect(who('externalId eq "ExtA"')).toEqual(['alice']);
    expect(who('externalId eq "exta"')).toEqual([]);
  });

  it('ne also matches resources without the attribute', () => {
    expect(q('externalId ne "ExtA"')).toEqual({ externalId: { $ne: 'ExtA' } });
    expect(q('userName ne "Bob"')).toEqual({ 'norm.userName': { $ne: 'bob' } });
    expect(q('title ne "x"')).toEqual({ $nor: [{ title: { $regex: '^x$', $options: 'i' } }] });
    expect(who('externalId ne "ExtA"')).toEqual(['bob', 'carol']);
    expect(who('title ne "ENGINEER"')).toEqual(['bob', 'carol']);
  });

  it('co, sw, ew use escaped regexes; on the normalized field without options', () => {
    expect(q('userName co "Ex.com"')).toEqual({ 'norm.userName': { $regex: 'ex\\.com' } });
    expect(q('userName sw "Al"')).toEqual({ 'norm.userName': { $regex: '^al' } });
    expect(q('userName ew ".COM"')).toEqual({ 'norm.userName': { $regex: '\\.com$' } });
    expect(q('title co "eng"')).toEqual({ title: { $regex: 'eng', $options: 'i' } });
    expect(q('externalId sw "Ext"')).toEqual({ externalId: { $regex: '^Ext' } });
    expect(who('userName co "EXAMPLE"')).toEqual(['alice']);
    expect(who('userName sw "B"')).toEqual(['bob']);
    expect(who('userName ew ".com"')).toEqual(['alice']);
    expect(who('externalId sw "ext"')).toEqual([]);
  });

  it('pr means present, not null and not empty', () => {
    expect(compiled('title pr')).toMatchObject({
      query: { title: { $exists: true, $nin: [null, '', []] } },
      exact: true,
    });
    expect(who('title pr')).toEqual(['alice']);
    expect(q('name pr')).toEqual({ name: { $exists: true, $ne: null } });
    expect(who('name pr')).toEqual(['alice', 'bob']);
    expect(q('emails pr')).toEqual({ emails: { $exists: true, $nin: [null, []] } });
    expect(who('emails pr')).toEqual(['alice', 'bob', 'carol']);
    // a dotted path into an array cannot say "some element has a value" exactly
    expect(compiled('emails.value pr')).toMatchObject({ query: { 'emails.value': { $exists: true } }, exact: false });
  });

  it('gt ge lt le on strings compare lexicographically on the normalized field', () => {
    expect(q('userName gt "B"')).toEqual({ 'norm.userName': { $gt: 'b' } });
    expect(q('externalId le "Z"')).toEqual({ externalId: { $lte: 'Z' } });
    expect(who('userName gt "B"')).toEqual(['bob', 'carol']);
    expect(who('userName ge "bob"')).toEqual(['bob', 'carol']);
    expect(who('userName lt "BOB"')).toEqual(['alice']);
    // case-insensitive without a normalized field: match all in the database, decide in memory
    expect(compiled('title gt "a"')).toMatchObject({ query: {}, exact: false });
    expect(who('title gt "D"')).toEqual(['alice']);
  });

  it('dateTime values become Dates and compare as instants', () => {
    expect(q('meta.created gt "2024-01-01T00:00:00Z"')).toEqual({
      'meta.created': { $gt: new Date('2024-01-01T00:00:00Z') },
    });
    expect(q('meta.lastModified ge "2024-01-01T01:00:00+01:00"')).toEqual({
      'meta.lastModified': { $gte: new Date('2024-01-01T00:00:00Z') },
    });
    expect(who('meta.created gt "2024-01-01T00:00:00Z"')).toEqual(['alice', 'carol']);
    expect(who('meta.created lt "2024-01-01T01:00:00+01:00"')).toEqual(['bob']);
    expect(who('meta.created eq "2024-03-01T11:00:00+01:00"')).toEqual(['alice']);
    expect(who('meta.lastModified le "2024-01-05"')).toEqual(['bob']);
  });

  it('numbers compare numerically', () => {
    expect(q('x-logins ge 3')).toEqual({ logins: { $gte: 3 } });
    expect(q('x-logins eq "3"')).toEqual({ logins: 3 });
    expect(compileFilter('x-logins gt 2', resolveUser).matches({ 'x-logins': 10 })).toBe(true);
    expect(compileFilter('x-logins gt 2', resolveUser).matches({ 'x-logins': 1 })).toBe(false);
    expect(q('x-logins lt -1.5e2')).toEqual({ logins: { $lt: -150 } });
  });

  it('operator keywords and attribute names are case-insensitive', () => {
    expect(q('USERNAME EQ "Bob"')).toEqual({ 'norm.userName': 'bob' });
    expect(q('Emails.Value Co "x"')).toEqual({ 'norm.emails': { $regex: 'x' } });
    expect(who('NAME.GIVENNAME sw "al"')).toEqual(['alice']);
    expect(who('USERNAME Pr AND Title PR')).toEqual(['alice']);
  });
});

describe('compileFilter: booleans, computed and joined attributes', () => {
  it('active is computed from lifecycle.state', () => {
    expect(q('active eq true')).toEqual({ 'lifecycle.state': 'ACTIVE' });
    expect(q('active eq false')).toEqual({ 'lifecycle.state': { $ne: 'ACTIVE' } });
    expect(who('active eq true')).toEqual(['alice']);
    expect(who('active eq false')).toEqual(['bob', 'carol']);
  });

  it('accepts the strings "True" and "False" for booleans (Entra)', () => {
    expect(q('active eq "True"')).toEqual({ 'lifecycle.state': 'ACTIVE' });
    expect(q('active eq "false"')).toEqual({ 'lifecycle.state': { $ne: 'ACTIVE' } });
    expect(who('active eq "False"')).toEqual(['bob', 'carol']);
    expect(q(`${LIFECYCLE}:locked eq "TRUE"`)).toEqual({ 'lifecycle.locked': true });
    expect(who(`${LIFECYCLE}:locked eq "True"`)).toEqual(['bob']);
    expect(who(`${LIFECYCLE}:locked ne true`)).toEqual(['alice', 'carol']);
  });

  it('groups.value becomes a $join node; matches() reads groups from the SCIM form', () => {
    expect(q('groups.value eq "g-eng"')).toEqual({ $join: { name: 'groups.value', op: 'eq', value: 'g-eng' } });
    expect(q('groups[value eq "g-eng"]')).toEqual({ $join: { name: 'groups.value', op: 'eq', value: 'g-eng' } });
    expect(q('not (groups eq "g-eng")')).toEqual({
      $nor: [{ $join: { name: 'groups.value', op: 'eq', value: 'g-eng' } }],
    });
    expect(who('groups.value eq "g-eng"')).toEqual(['alice']);
    expect(who('groups[value eq "g-eng"]')).toEqual(['alice']);
    expect(who('not (groups eq "g-eng")')).toEqual(['bob', 'carol']);
  });
});

describe('compileFilter: logic', () => {
  it('and, or, not and grouping', () => {
    expect(q('userName eq "a" and title pr')).toEqual({
      $and: [{ 'norm.userName': 'a' }, { title: { $exists: true, $nin: [null, '', []] } }],
    });
    expect(q('userName eq "a" or userName eq "b"')).toEqual({
      $or: [{ 'norm.userName': 'a' }, { 'norm.userName': 'b' }],
    });
    expect(q('not (userName eq "a")')).toEqual({ $nor: [{ 'norm.userName': 'a' }] });
    expect(q('not(userName eq "a")')).toEqual({ $nor: [{ 'norm.userName': 'a' }] });
    expect(who('not (userName eq "bob") and active eq false')).toEqual(['carol']);
    expect(who('(userName eq "bob" or userName sw "al") and active eq true')).toEqual(['alice']);
  });

  it('precedence: not > and > or', () => {
    expect(q('userName eq "a" or userName eq "b" and title pr')).toEqual({
      $or: [
        { 'norm.userName': 'a' },
        { $and: [{ 'norm.userName': 'b' }, { title: { $exists: true, $nin: [null, '', []] } }] },
      ],
    });
    expect(who('userName eq "bob" or userName sw "al" and active eq false')).toEqual(['bob']);
    expect(who('(userName eq "bob" or userName sw "al") and active eq false')).toEqual(['bob']);
    expect(who('userName sw "al" and active eq false or userName eq "bob"')).toEqual(['bob']);
    expect(who('not (active eq true) and userName sw "b" or title eq "engineer"')).toEqual(['alice', 'bob']);
  });

  it('eq null and ne null', () => {
    expect(who('title eq null')).toEqual(['bob', 'carol']);
    expect(who('title ne null')).toEqual(['alice']);
    expect(q('externalId eq null')).toEqual({ $nor: [{ externalId: { $exists: true, $nin: [null, '', []] } }] });
  });
});

describe('compileFilter: paths', () => {
  it('sub-attributes and URN-qualified attributes', () => {
    expect(q('name.familyName eq "Liddell"')).toEqual({ 'name.familyName': { $regex: '^Liddell$', $options: 'i' } });
    expect(q(`${ENTERPRISE}:employeeNumber eq "42"`)).toEqual({ 'enterprise.employeeNumber': '42' });
    expect(q(`${ENTERPRISE}:manager.value eq "u-bob"`)).toEqual({ 'enterprise.manager.value': 'u-bob' });
    expect(q(`${CORE}:userName eq "Bob"`)).toEqual({ 'norm.userName': 'bob' });
    expect(who(`${ENTERPRISE}:employeeNumber eq "42"`)).toEqual(['alice']);
    expect(who(`${ENTERPRISE.toUpperCase()}:EmployeeNumber eq "42"`)).toEqual(['alice']);
    expect(who(`${ENTERPRISE}:manager.value eq "u-bob"`)).toEqual(['alice']);
    expect(who(`${ENTERPRISE}:manager[value eq "u-bob"]`)).toEqual(['alice']);
    expect(who(`${ENTERPRISE}:costCenter eq "r&d"`)).toEqual(['alice']);
    expect(who(`${CORE}:userName eq "Bob"`)).toEqual(['bob']);
    expect(who(`${LIFECYCLE}:state eq "STAGED"`)).toEqual(['carol']);
    expect(who(`${LIFECYCLE}:scheduledActivation gt "2024-03-01"`)).toEqual(['alice']);
  });

  it('a complex attribute without a sub-attribute means its value', () => {
    expect(q('emails eq "BOB@home.org"')).toEqual({ 'norm.emails': 'bob@home.org' });
    expect(who('emails eq "BOB@home.org"')).toEqual(['bob']);
    expect(who('emails co "example.com"')).toEqual(['alice', 'bob', 'carol']);
  });

  it('a value path with one condition is exact with a dotted path', () => {
    expect(compiled('emails[type eq "work"]')).toMatchObject({
      query: { 'emails.type': { $regex: '^work$', $options: 'i' } },
      exact: true,
    });
    expect(who('emails[type eq "work"]')).toEqual(['alice', 'bob', 'carol']);
    expect(who('emails[value ew "@home.org"]')).toEqual(['alice', 'bob']);
    expect(who('emails[primary eq true]')).toEqual(['alice']);
  });

  it('a value path with several conditions is exact: $elemMatch ties them to one element, beside the indexed superset', () => {
    const c = compiled('emails[type eq "work" and value co "@example.com"]');
    expect(c.exact).toBe(true);
    expect(c.query).toEqual({
      $and: [
        {
          $and: [
            { 'emails.type': { $regex: '^work$', $options: 'i' } },
            { 'norm.emails': { $regex: '@example\\.com' } },
          ],
        },
        {
          emails: {
            $elemMatch: {
              $and: [
                { type: { $regex: '^work$', $options: 'i' } },
                { value: { $regex: '@example\\.com', $options: 'i' } },
              ],
            },
          },
        },
      ],
    });
    // bob has a work email and an example.com email, but not on the same element
    expect(who('emails[type eq "work" and value co "@example.com"]')).toEqual(['alice', 'carol']);
    expect(who('emails[type eq "home" or value sw "bob"]')).toEqual(['alice', 'bob']);
    expect(compiled('emails[type eq "home" or value sw "bob"]').exact).toBe(true);
    expect(who('emails[not (type eq "work")]')).toEqual(['alice', 'bob']);
    expect(compiled('emails[not (type eq "work")]')).toEqual(
      expect.objectContaining({
        query: { emails: { $elemMatch: { $nor: [{ type: { $regex: '^work$', $options: 'i' } }] } } },
        exact: true,
      }),
    );
    expect(who('emails[type ne "work"]')).toEqual(['alice', 'bob']);
    expect(compiled('emails[type ne "work"]')).toMatchObject({
      query: { emails: { $elemMatch: { $nor: [{ type: { $regex: '^work$', $options: 'i' } }] } } },
      exact: true,
    });
  });

  it('a case-insensitive order comparison inside a value path stays inexact (decided in memory)', () => {
    const c = compiled('emails[type eq "work" and value gt "b"]');
    expect(c.exact).toBe(false);
    expect(JSON.stringify(c.query)).not.toContain('$elemMatch');
  });

  it('Entra\'s emails[type eq "work"].value eq "x" is two conditions on one element', () => {
    const c = compiled('emails[type eq "work"].value eq "bob@example.com"');
    expect(c.exact).toBe(true);
    expect(c.query).toEqual({
      $and: [
        { $and: [{ 'emails.type': { $regex: '^work$', $options: 'i' } }, { 'norm.emails': 'bob@example.com' }] },
        {
          emails: {
            $elemMatch: {
              $and: [
                { type: { $regex: '^work$', $options: 'i' } },
                { value: { $regex: '^bob@example\\.com$', $options: 'i' } },
              ],
            },
          },
        },
      ],
    });
    expect(who('emails[type eq "work"].value eq "bob@example.com"')).toEqual([]);
    expect(who('emails[type eq "work"].value eq "BOB@home.org"')).toEqual(['bob']);
    expect(who('emails[type eq "work"].value eq "alice@example.com"')).toEqual(['alice']);
  });

  it('a value path on a single-valued complex attribute is exact and requires the attribute', () => {
    const c = compiled('name[givenName sw "a" and familyName eq "liddell"]');
    expect(c.exact).toBe(true);
    expect(c.query).toEqual({
      $and: [
        { name: { $exists: true, $ne: null } },
        {
          $and: [
            { 'name.givenName': { $regex: '^a', $options: 'i' } },
            { 'name.familyName': { $regex: '^liddell$', $options: 'i' } },
          ],
        },
      ],
    });
    expect(who('name[givenName sw "a" and familyName eq "liddell"]')).toEqual(['alice']);
    expect(who('name[not (givenName eq "alice")]')).toEqual(['bob']);
  });

  it('under not or or, inexact parts make the whole inexact; not of an inexact part matches all', () => {
    const n = compiled('not (emails[type eq "work" and value gt "b"])');
    expect(n).toMatchObject({ query: {}, exact: false });
    expect(who('not (emails[type eq "work" and value gt "b"])')).toEqual(['alice', 'carol']);
    expect(compiled('userName eq "bob" or emails[type eq "work" and value gt "x"]').exact).toBe(false);
    // with $elemMatch the same shapes are exact
    expect(compiled('not (emails[type eq "work" and value co "@example.com"])').exact).toBe(true);
    expect(who('not (emails[type eq "work" and value co "@example.com"])')).toEqual(['bob']);
    const a = compiled('active eq false and not (emails[type eq "home"].value co "bob")');
    expect(a.exact).toBe(true);
    expect(who('active eq false and not (emails[type eq "home"].value co "bob")')).toEqual(['carol']);
  });

  it('string values support JSON escapes', () => {
    expect(q('title eq "a\\"b\\\\c\\u00e9\\n"')).toEqual({ title: { $regex: '^a"b\\\\cé\n$', $options: 'i' } });
    expect(q('externalId eq "\\u00e9"')).toEqual({ externalId: 'é' });
  });
});

describe('compileFilter: regexes are always built from escaped values', () => {
  const hostile = ['a.*b(', '^$', '(a+)+$', '[a-z]', '\\d', 'a|b', '{1,2}', '?', 'x\u0000y', '/', '\\'];

  it('a value like a.*b( only matches itself literally', () => {
    const query = q('title co "a.*b("') as { title: { $regex: string; $options: string } };
    const re = new RegExp(query.title.$regex, query.title.$options);
    expect(re.test('xa.*b(y')).toBe(true);
    expect(re.test('axxxb(')).toBe(false);
    expect(re.test('ab(')).toBe(false);
    const sw = q('userName sw "a.*b("') as { 'norm.userName': { $regex: string } };
    expect(new RegExp(sw['norm.userName'].$regex).test('axxxb(')).toBe(false);
    expect(new RegExp(sw['norm.userName'].$regex).test('a.*b(c')).toBe(true);
    expect(who('emails co "a.*b("')).toEqual([]);
    expect(who('emails co "axxxb("')).toEqual(['carol']);
  });

  it.each(hostile)('%j is matched literally by co, sw, ew and eq', (value) => {
    const literal = JSON.stringify(value);
    for (const [op, anchor] of [
      ['co', (s: string) => `zz${s}zz`],
      ['sw', (s: string) => `${s}zz`],
      ['ew', (s: string) => `zz${s}`],
      ['eq', (s: string) => s],
    ] as const) {
      const query = q(`title ${op} ${literal}`) as { title: { $regex: string; $options: string } };
      const pattern = query.title.$regex;
      expect(pattern).not.toContain('\u0000');
      const re = new RegExp(pattern, query.title.$options);
      expect(re.test(anchor(value))).toBe(true);
      expect(re.test(anchor('axxxb(zz'))).toBe(value === 'axxxb(zz');
    }
  });

  it('escapeRegex escapes every metacharacter', () => {
    const all = '\\^$.*+?()[]{}|';
    expect(new RegExp(`^${escapeRegex(all)}$`).test(all)).toBe(true);
    expect(escapeRegex('a\u0000b')).toBe('a\\x00b');
  });
});

describe('compileFilter: errors', () => {
  const bad = [
    '',
    '   ',
    'userName',
    'userName eq',
    'userName eq bob',
    'userName eq "bob',
    'userName eq "bob" and',
    'userName eq "bob" or or title pr',
    'userName xx "bob"',
    'userName eq "a" userName eq "b"',
    '(userName eq "a"',
    'userName eq "a")',
    'not userName',
    'unknown eq "x"',
    'name.middle eq "x"',
    'urn:foo:bar:User:userName eq "x"',
    `${ENTERPRISE}:nope eq "x"`,
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'emails[type[value eq "x"]]',
    'emails[type eq "work"] .value eq "x"',
    'emails[type eq "work"].value',
    'emails[emails.type eq "work"]',
    'userName[value eq "x"]',
    'name.givenName[value eq "x"]',
    'emails.nope eq "x"',
    'emails gt "a"',
    'name eq "x"',
    'name.givenName.x eq "a"',
    'active gt true',
    'active eq "yes"',
    'active eq 1',
    'active co "t"',
    'meta.created gt "yesterday"',
    'meta.created gt "2024-02-30T00:00:00Z"',
    'meta.created gt "2024-01-01T25:00:00Z"',
    'meta.created gt 5',
    'meta.created co "2024"',
    'x-logins eq "many"',
    'x-logins co "1"',
    'userName co null',
    'userName gt null',
    "userName eq 'bob'",
    'userName eq "a\\qb"',
    'userName eq 1e999',
    'userName == "a"',
    'userName eq "a" && title pr',
    '"userName" eq "a"',
    'userName eq "a" \u0000',
    `userName eq "${'x'.repeat(10_001)}"`,
    `${'('.repeat(MAX_FILTER_DEPTH + 1)}userName pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`,
    `${'not ('.repeat(MAX_FILTER_DEPTH + 1)}userName pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`,
    '('.repeat(10_000),
    '['.repeat(5_000),
  ];

  it.each(bad.map((f) => [f.length > 80 ? `${f.slice(0, 77)}...` : f, f]))('%j is 400 invalidFilter', (_, filter) => {
    const error = scimError(() => compileFilter(filter, resolveUser));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    expect(error.detail).toMatch(/^Invalid filter: /);
    expect(error.detail.length).toBeLessThan(400);
  });

  it('accepts nesting up to the limit', () => {
    const depth = MAX_FILTER_DEPTH;
    expect(q(`${'('.repeat(depth)}userName pr${')'.repeat(depth)}`)).toEqual({
      userName: { $exists: true, $nin: [null, '', []] },
    });
    expect(q(`${'('.repeat(depth - 1)}emails[type eq "x"]${')'.repeat(depth - 1)}`)).toEqual({
      'emails.type': { $regex: '^x$', $options: 'i' },
    });
  });

  it('long flat chains are fine (no recursion per term)', () => {
    const filter = Array.from({ length: 300 }, (_, i) => `userName eq "u${i}"`).join(' or ');
    expect((q(filter).$or as unknown[]).length).toBe(300);
  });

  it('only ever throws ScimError on random input', () => {
    const pieces = [
      'userName',
      'emails',
      'emails.value',
      'name.givenName',
      'active',
      'meta.created',
      'groups',
      `${ENTERPRISE}:employeeNumber`,
      ' eq ',
      ' ne ',
      ' co ',
      ' sw ',
      ' gt ',
      ' pr',
      ' and ',
      ' or ',
      'not',
      ' not ',
      '(',
      ')',
      '[',
      ']',
      '].',
      '.value',
      '"x"',
      '"a.*b("',
      '"',
      '\\',
      '\\"',
      'true',
      '"True"',
      'null',
      '42',
      '-1.5e3',
      '"2024-01-01T00:00:00Z"',
      '.',
      ':',
      '\u0000',
      '$',
      '^',
      '*',
      '+',
      '?',
      '{',
      '}',
      '|',
      ' ',
      '\n',
      'é',
      '\ud800',
      'type eq "work"',
      'value',
      "'",
    ];
    const valid = [
      'userName eq "bob"',
      'emails[type eq "work" and value co "@example.com"]',
      'emails[type eq "work"].value eq "a@b.c"',
      'not (active eq "True") or title pr',
      `${ENTERPRISE}:manager.value eq "x" and meta.created gt "2024-01-01T00:00:00Z"`,
      'name[givenName sw "a" or familyName ew "b"]',
      'groups eq "g" and (x-logins ge 3 or externalId ne null)',
    ];
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let compiledCount = 0;
    for (let i = 0; i < 3000; i++) {
      let s = '';
      if (i % 2 === 0) {
        const len = 1 + random(14);
        for (let k = 0; k < len; k++) {
          s += random(5) === 0 ? String.fromCharCode(random(128)) : pieces[random(pieces.length)];
        }
      } else {
        // mutations of valid filters: replace, insert or delete a few characters
        s = valid[random(valid.length)];
        for (let k = random(4); k > 0; k--) {
          const at = random(s.length + 1);
          const ch = random(3) === 0 ? pieces[random(pieces.length)] : String.fromCharCode(random(128));
          const cut = random(3);
          s = s.slice(0, at) + (cut === 2 ? '' : ch) + s.slice(at + (cut === 0 ? 0 : 1));
        }
      }
      if (i % 500 === 0) s = '('.repeat(10_000) + s + ']'.repeat(random(3000));
      try {
        const c = compileFilter(s, resolveUser);
        c.matches(alice);
        c.matches(bob);
        c.matches({});
        c.matches({ emails: 'x', name: [1, null], meta: { created: 5 }, [ENTERPRISE]: 'x' });
        compiledCount++;
      } catch (error) {
        if (!(error instanceof ScimError))
          throw new Error(`non-ScimError for ${JSON.stringify(s)}: ${String(error)}`, {
            cause: error,
          });
        expect(error.scimType).toBe('invalidFilter');
      }
    }
    expect(compiledCount).toBeGreaterThan(10);
  });

  it('valid filters built from grammar pieces compile and agree between query shape and matches()', () => {
    const atoms = [
      'userName eq "bob"',
      'emails[type eq "work"]',
      'emails[type eq "work" and value co "example"]',
      'emails[type eq "work"].value eq "bob@home.org"',
      'active eq true',
      'title pr',
      'meta.created gt "2024-01-01"',
    ];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const build = (depth: number): string => {
      const r = random(depth > 3 ? 1 : 4);
      if (r === 0) return atoms[random(atoms.length)];
      if (r === 1) return `not (${build(depth + 1)})`;
      return `(${build(depth + 1)} ${r === 2 ? 'and' : 'or'} ${build(depth + 1)})`;
    };
    for (let i = 0; i < 300; i++) {
      const c = compiled(build(0));
      if (Object.keys(c.query).length === 0) continue;
      expect(c.exact).toBe(true);
    }
  });
});

describe('parseAttributePath', () => {
  it.each([
    ['userName', { attribute: 'userName' }],
    ['name.givenName', { attribute: 'name', subAttribute: 'givenName' }],
    ['emails.value', { attribute: 'emails', subAttribute: 'value' }],
    ['members.$ref', { attribute: 'members', subAttribute: '$ref' }],
    [`${ENTERPRISE}:employeeNumber`, { urn: ENTERPRISE, attribute: 'employeeNumber' }],
    [`${ENTERPRISE}:manager.value`, { urn: ENTERPRISE, attribute: 'manager', subAttribute: 'value' }],
    [`${CORE}:name.familyName`, { urn: CORE, attribute: 'name', subAttribute: 'familyName' }],
    [`${LIFECYCLE}:state`, { urn: LIFECYCLE, attribute: 'state' }],
  ])('%s', (path, expected) => {
    expect(parseAttributePath(path)).toEqual(expected);
  });

  it.each([
    '',
    '.',
    'name.',
    '.name',
    'name..x',
    'name.givenName.x',
    '1abc',
    'user name',
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    ':userName',
    'urn:userName',
    'foo:bar:userName',
    `${ENTERPRISE}:`,
    `${ENTERPRISE}::x`,
    'name.given-Name!',
    'x'.repeat(2000),
  ])('%j is 400 invalidPath', (path) => {
    const error = scimError(() => parseAttributePath(path));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
  });
});

describe('parseDateTime', () => {
  it.each([
    ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000Z'],
    ['2024-01-01T00:00:00.123456Z', '2024-01-01T00:00:00.123Z'],
    ['2024-01-01T02:30:00+02:30', '2024-01-01T00:00:00.000Z'],
    ['2023-12-31T19:00:00-0500', '2024-01-01T00:00:00.000Z'],
    ['2024-01-01T00:00:00', '2024-01-01T00:00:00.000Z'],
    ['2024-01-01', '2024-01-01T00:00:00.000Z'],
    ['2024-02-29T12:00Z', '2024-02-29T12:00:00.000Z'],
    ['0099-01-01T00:00:00Z', '0099-01-01T00:00:00.000Z'],
  ])('%s', (input, iso) => {
    expect(parseDateTime(input)?.toISOString()).toBe(iso);
  });

  it.each([
    '',
    '2024',
    '2023-02-29',
    '2024-13-01',
    '2024-01-01T24:00:00Z',
    'yesterday',
    '1',
    '2024-01-01T00:00:00+25:00',
  ])('%j is invalid', (input) => {
    expect(parseDateTime(input)).toBeUndefined();
  });
});
