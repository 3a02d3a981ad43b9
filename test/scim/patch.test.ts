import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMembersPath, partitionMembersOperations } from '../../src/groups/memberPatch.js';
import { ScimError } from '../../src/scim/errors.js';
import type { FilterNode } from '../../src/scim/filterParser.js';
import { applyPatch } from '../../src/scim/patchApply.js';
import { parsePatchPath, parsePatchRequest, type PatchOperation } from '../../src/scim/patchParse.js';
import type { SchemaDocument } from '../../src/scim/schemaRegistry.js';
import { scimError } from './scimHelpers.js';

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as SchemaDocument;
const USER_SCHEMAS = [load('User'), load('EnterpriseUser'), load('Lifecycle')];
const GROUP_SCHEMAS = [load('Group')];

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LC = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Stub of the filter engine: `attr eq "value"` joined by `and`, attribute names case-insensitive. */
function stubMatches(filter: FilterNode) {
  const terms = filter.kind === 'and' ? filter.items : [filter];
  const equalities = terms.map((term) => {
    if (term.kind !== 'compare' || term.op !== 'eq' || term.path.subAttribute || term.value === null)
      throw new ScimError(400, 'stub cannot evaluate the filter', 'invalidFilter');
    return { name: term.path.attribute.toLowerCase(), value: term.value };
  });
  return (element: Record<string, unknown>) =>
    equalities.every(({ name, value }) => {
      const key = Object.keys(element).find((k) => k.toLowerCase() === name);
      return key !== undefined && element[key] === value;
    });
}

const body = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

function user(): Record<string, unknown> {
  return {
    schemas: [CORE, ENT, LC],
    id: 'u-1',
    externalId: 'ext-1',
    userName: 'ann@corp.example',
    name: { givenName: 'Ann', familyName: 'Lee', middleName: 'Q' },
    displayName: 'Ann Lee',
    active: true,
    emails: [
      { value: 'ann@corp.example', type: 'work', primary: true },
      { value: 'ann@home.example', type: 'home' },
    ],
    groups: [{ value: 'g-1', display: 'Eng', $ref: 'https://x/Groups/g-1' }],
    meta: { resourceType: 'User', created: '2026-01-01T00:00:00Z', lastModified: '2026-01-02T00:00:00Z' },
    [ENT]: { employeeNumber: '7', department: 'R&D', manager: { value: 'm-1', displayName: 'Boss' } },
    [LC]: { state: 'ACTIVE', passwordStatus: 'ACTIVE', source: 'manual' },
  };
}

function group(): Record<string, unknown> {
  return {
    schemas: [GROUP],
    id: 'g-1',
    displayName: 'Engineering',
    members: [
      { value: 'u1', display: 'One' },
      { value: 'u3', display: 'Three' },
    ],
  };
}

/** Parses a request body and applies it, like the services will. */
function patchUser(resource: Record<string, unknown>, ...ops: unknown[]) {
  return applyPatch(resource, parsePatchRequest(body(...ops)), USER_SCHEMAS, stubMatches);
}
function patchGroup(resource: Record<string, unknown>, ...ops: unknown[]) {
  return applyPatch(resource, parsePatchRequest(body(...ops)), GROUP_SCHEMAS, stubMatches);
}

const expectScim = (fn: () => unknown, status: number, scimType: string) =>
  expect(scimError(fn)).toMatchObject({ status, scimType });

describe('parsePatchRequest', () => {
  it('normalizes operations; op names are case-insensitive (Entra sends "Replace", "Add", "Remove")', () => {
    const ops = parsePatchRequest(
      body(
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'ADD', path: 'emails[type eq "work"].value', value: 'a@b.c' },
        { op: 'Remove', path: 'members', value: [{ value: 'id' }] },
      ),
    );
    expect(ops).toEqual([
      { op: 'replace', path: { attribute: 'active' }, rawPath: 'active', value: 'False' },
      {
        op: 'add',
        path: { attribute: 'emails', filter: 'type eq "work"', subAttribute: 'value' },
        rawPath: 'emails[type eq "work"].value',
        value: 'a@b.c',
      },
      { op: 'remove', path: { attribute: 'members' }, rawPath: 'members', value: [{ value: 'id' }] },
    ]);
  });

  it('accepts a no-path operation whose value is an object', () => {
    expect(parsePatchRequest(body({ op: 'replace', value: { active: false } }))).toEqual([
      { op: 'replace', value: { active: false } },
    ]);
  });

  it.each([
    ['not an object', 'x'],
    ['an array', []],
    ['null', null],
    ['missing schemas', { Operations: [{ op: 'add', path: 'title', value: 'x' }] }],
    ['wrong schemas', { schemas: ['urn:x'], Operations: [{ op: 'add', path: 'title', value: 'x' }] }],
    ['missing Operations', { schemas: [PATCH_OP] }],
    ['Operations not an array', { schemas: [PATCH_OP], Operations: { op: 'add' } }],
    ['empty Operations', { schemas: [PATCH_OP], Operations: [] }],
    ['an operation that is not an object', body('add')],
    ['op missing', body({ path: 'title', value: 'x' })],
    ['op unknown', body({ op: 'move', path: 'title', value: 'x' })],
    ['op not a string', body({ op: 1, path: 'title', value: 'x' })],
  ])('rejects %s with 400 invalidSyntax', (_, input) => {
    expectScim(() => parsePatchRequest(input), 400, 'invalidSyntax');
  });

  it('rejects more than 1000 operations', () => {
    const ops = Array.from({ length: 1001 }, () => ({ op: 'add', path: 'title', value: 'x' }));
    expectScim(() => parsePatchRequest(body(...ops)), 400, 'invalidSyntax');
    expect(parsePatchRequest(body(...ops.slice(0, 1000)))).toHaveLength(1000);
  });

  it('rejects remove without path with noTarget, add/replace without value with invalidValue', () => {
    expectScim(() => parsePatchRequest(body({ op: 'remove' })), 400, 'noTarget');
    expectScim(() => parsePatchRequest(body({ op: 'add', path: 'title' })), 400, 'invalidValue');
    expectScim(() => parsePatchRequest(body({ op: 'replace' })), 400, 'invalidValue');
    expectScim(() => parsePatchRequest(body({ op: 'replace', value: 'x' })), 400, 'invalidValue');
    expectScim(() => parsePatchRequest(body({ op: 'add', value: [1] })), 400, 'invalidValue');
  });

  it('accepts case-insensitive member names in the request', () => {
    const ops = parsePatchRequest({
      Schemas: [PATCH_OP.toUpperCase()],
      operations: [{ OP: 'add', Path: 'title', Value: 'x' }],
    });
    expect(ops).toEqual([{ op: 'add', path: { attribute: 'title' }, rawPath: 'title', value: 'x' }]);
  });

  it.each([1, {}, [], true])('rejects a non-string path %j with invalidPath', (path) => {
    expectScim(() => parsePatchRequest(body({ op: 'add', path, value: 'x' })), 400, 'invalidPath');
  });
});

describe('parsePatchPath', () => {
  it.each([
    ['userName', { attribute: 'userName' }],
    ['name.givenName', { attribute: 'name', subAttribute: 'givenName' }],
    ['members[value eq "u1"]', { attribute: 'members', filter: 'value eq "u1"' }],
    ['emails[type eq "work"].value', { attribute: 'emails', filter: 'type eq "work"', subAttribute: 'value' }],
    ['emails[value eq "a]b"]', { attribute: 'emails', filter: 'value eq "a]b"' }],
    ['emails[value eq "a\\"]"]', { attribute: 'emails', filter: 'value eq "a\\"]"' }],
    [`${ENT}:department`, { urn: ENT, attribute: 'department' }],
    [`${ENT}:manager.value`, { urn: ENT, attribute: 'manager', subAttribute: 'value' }],
    [`${ENT.toLowerCase()}:Department`, { urn: ENT, attribute: 'Department' }],
    [ENT, { urn: ENT, attribute: '' }],
    [
      `${CORE}:emails[type eq "work"].value`,
      { urn: CORE, attribute: 'emails', filter: 'type eq "work"', subAttribute: 'value' },
    ],
    ['urn:example:ext:1.0:User:costCode', { urn: 'urn:example:ext:1.0:User', attribute: 'costCode' }],
    ['members[display eq "a:b"]', { attribute: 'members', filter: 'display eq "a:b"' }],
    ['members.$ref', { attribute: 'members', subAttribute: '$ref' }],
  ])('parses %s', (path, expected) => {
    expect(parsePatchPath(path)).toEqual(expected);
  });

  it.each([
    '',
    '   ',
    'emails[type eq "work"',
    'emails]',
    'emails[]',
    'emails[type eq "work"]x',
    'emails[a[b]]',
    'name.givenName.x',
    'name.',
    '1name',
    'na me',
    '__proto__',
    'urn:',
    ':title',
    'x'.repeat(3000),
  ])('rejects %j with invalidPath', (path) => {
    expectScim(() => parsePatchPath(path), 400, 'invalidPath');
  });
});

describe('applyPatch: add', () => {
  it('sets a singular attribute and never mutates its input', () => {
    const before = user();
    const snapshot = JSON.parse(JSON.stringify(before));
    const after = patchUser(before, { op: 'add', path: 'title', value: 'Engineer' });
    expect(after.title).toBe('Engineer');
    expect(before).toEqual(snapshot);
  });

  it('appends to a multi-valued attribute and skips exact duplicates', () => {
    const after = patchUser(user(), {
      op: 'add',
      path: 'phoneNumbers',
      value: [
        { value: '+1 555', type: 'work' },
        { value: '+1 555', type: 'work' },
      ],
    });
    expect(after.phoneNumbers).toEqual([{ value: '+1 555', type: 'work' }]);
    const again = patchUser(after, { op: 'add', path: 'emails', value: [{ value: 'ann@home.example', type: 'home' }] });
    expect(again.emails).toEqual(user().emails);
  });

  it('merges the sub-attributes of a complex value', () => {
    const after = patchUser(user(), { op: 'add', path: 'name', value: { honorificPrefix: 'Dr.' } });
    expect(after.name).toEqual({ givenName: 'Ann', familyName: 'Lee', middleName: 'Q', honorificPrefix: 'Dr.' });
  });

  it('without a path, adds and merges every attribute of the value', () => {
    const after = patchUser(user(), {
      op: 'add',
      value: {
        title: 'CTO',
        name: { familyName: 'Li' },
        emails: [{ value: 'ann@alt.example', type: 'other' }],
        [ENT]: { costCenter: 'CC1' },
      },
    });
    expect(after).toMatchObject({ title: 'CTO', name: { givenName: 'Ann', familyName: 'Li' } });
    expect(after.emails).toHaveLength(3);
    expect(after[ENT]).toMatchObject({ employeeNumber: '7', costCenter: 'CC1' });
  });

  it('adds an element built from the filter when a value path filter matches nothing', () => {
    const after = patchUser(user(), {
      op: 'add',
      path: 'addresses[type eq "work"]',
      value: { streetAddress: '1 Main St', locality: 'Springfield' },
    });
    expect(after.addresses).toEqual([{ type: 'work', streetAddress: '1 Main St', locality: 'Springfield' }]);
  });

  it('merges into matching elements when a value path filter matches', () => {
    const after = patchUser(user(), { op: 'add', path: 'emails[type eq "home"]', value: { display: 'Home' } });
    expect((after.emails as unknown[])[1]).toEqual({ value: 'ann@home.example', type: 'home', display: 'Home' });
  });

  it('creates an extension object and lists it in schemas', () => {
    const before = user();
    delete before[ENT];
    before.schemas = [CORE, LC];
    const after = patchUser(before, { op: 'add', path: `${ENT}:department`, value: 'Sales' });
    expect(after[ENT]).toEqual({ department: 'Sales' });
    expect(after.schemas).toEqual([CORE, LC, ENT]);
  });

  it('accepts a whole extension as the path', () => {
    const after = patchUser(user(), { op: 'add', path: ENT, value: { division: 'West', Department: 'Ops' } });
    expect(after[ENT]).toMatchObject({ division: 'West', department: 'Ops', employeeNumber: '7' });
  });
});

describe('applyPatch: replace', () => {
  it('replaces a singular attribute and a sub-attribute', () => {
    const after = patchUser(
      user(),
      { op: 'replace', path: 'displayName', value: 'A. Lee' },
      { op: 'replace', path: 'name.familyName', value: 'Li' },
    );
    expect(after).toMatchObject({
      displayName: 'A. Lee',
      name: { givenName: 'Ann', familyName: 'Li', middleName: 'Q' },
    });
  });

  it('replaces every value of a multi-valued attribute when no filter is given', () => {
    const after = patchUser(user(), {
      op: 'replace',
      path: 'emails',
      value: [{ value: 'new@corp.example', type: 'work' }],
    });
    expect(after.emails).toEqual([{ value: 'new@corp.example', type: 'work' }]);
  });

  it('merges sub-attributes of a singular complex attribute (RFC 7644 §3.5.2.3)', () => {
    const after = patchUser(user(), { op: 'replace', path: 'name', value: { givenName: 'Anna', middleName: null } });
    expect(after.name).toEqual({ givenName: 'Anna', familyName: 'Lee' });
  });

  it('replaces each element a value filter matches', () => {
    const after = patchUser(user(), {
      op: 'replace',
      path: 'emails[type eq "home"]',
      value: { value: 'ann@new-home.example', type: 'home' },
    });
    expect((after.emails as unknown[])[1]).toEqual({ value: 'ann@new-home.example', type: 'home' });
  });

  it('without a path, replaces each attribute named in the value; schemas key is ignored', () => {
    const after = patchUser(user(), {
      op: 'replace',
      value: { schemas: [CORE], displayName: 'Ann L.', [LC]: { alternateEmail: 'ann@gmail.example' } },
    });
    expect(after).toMatchObject({ displayName: 'Ann L.', schemas: [CORE, ENT, LC] });
    expect(after[LC]).toMatchObject({ state: 'ACTIVE', alternateEmail: 'ann@gmail.example' });
  });

  it('drops derived sub-attributes when manager.value changes', () => {
    const after = patchUser(user(), { op: 'replace', path: `${ENT}:manager`, value: { value: 'm-2' } });
    expect((after[ENT] as Record<string, unknown>).manager).toEqual({ value: 'm-2' });
    const same = patchUser(user(), { op: 'replace', path: `${ENT}:manager`, value: { value: 'm-1' } });
    expect((same[ENT] as Record<string, unknown>).manager).toEqual({ value: 'm-1', displayName: 'Boss' });
  });
});

describe('applyPatch: remove', () => {
  it('removes an attribute, a sub-attribute and matching elements', () => {
    const after = patchUser(
      user(),
      { op: 'remove', path: 'displayName' },
      { op: 'remove', path: 'name.middleName' },
      { op: 'remove', path: 'emails[type eq "home"]' },
      { op: 'remove', path: `${ENT}:manager` },
    );
    expect(after.displayName).toBeUndefined();
    expect(after.name).toEqual({ givenName: 'Ann', familyName: 'Lee' });
    expect(after.emails).toEqual([{ value: 'ann@corp.example', type: 'work', primary: true }]);
    expect(after[ENT]).toEqual({ employeeNumber: '7', department: 'R&D' });
  });

  it('removes a sub-attribute from matching elements', () => {
    const after = patchUser(user(), { op: 'remove', path: 'emails[type eq "work"].primary' });
    expect((after.emails as unknown[])[0]).toEqual({ value: 'ann@corp.example', type: 'work' });
  });

  it('removing an absent attribute is a no-op; removing a whole extension drops it from schemas', () => {
    expect(patchUser(user(), { op: 'remove', path: 'nickName' })).toEqual(user());
    const after = patchUser(user(), { op: 'remove', path: ENT });
    expect(after[ENT]).toBeUndefined();
    expect(after.schemas).toEqual([CORE, LC]);
  });

  it('deletes empty arrays and empty complex and extension objects', () => {
    const after = patchUser(
      user(),
      { op: 'remove', path: 'emails[type eq "work"]' },
      { op: 'remove', path: 'emails[type eq "home"]' },
      { op: 'remove', path: 'name.givenName' },
      { op: 'remove', path: 'name.familyName' },
      { op: 'remove', path: 'name.middleName' },
      { op: 'remove', path: `${ENT}:employeeNumber` },
      { op: 'remove', path: `${ENT}:department` },
      { op: 'remove', path: `${ENT}:manager.value` },
    );
    expect(after).not.toHaveProperty('emails');
    expect(after).not.toHaveProperty('name');
    expect(after).not.toHaveProperty([ENT]);
    expect(after.schemas).toEqual([CORE, LC]);
  });

  it('null as a value deletes the target', () => {
    const after = patchUser(
      user(),
      { op: 'replace', path: 'displayName', value: null },
      { op: 'replace', value: { [`${LC}:scheduledActivation`]: null, emails: null } },
    );
    expect(after).not.toHaveProperty('displayName');
    expect(after).not.toHaveProperty('emails');
  });
});

describe('Okta request shapes', () => {
  it('deactivates with a no-path replace', () => {
    const after = patchUser(user(), { op: 'replace', value: { active: false } });
    expect(after.active).toBe(false);
  });

  it('renames a group; id equal to the resource id is ignored, a different id is 400 mutability', () => {
    const after = patchGroup(group(), { op: 'replace', value: { id: 'g-1', displayName: 'Platform' } });
    expect(after).toMatchObject({ id: 'g-1', displayName: 'Platform' });
    expectScim(
      () => patchGroup(group(), { op: 'replace', value: { id: 'other', displayName: 'Platform' } }),
      400,
      'mutability',
    );
  });

  it('group push: removes by filter and adds members in one request', () => {
    const after = patchGroup(
      group(),
      { op: 'remove', path: 'members[value eq "u1"]' },
      { op: 'add', path: 'members', value: [{ value: 'u2', display: 'Two' }] },
    );
    // display is readOnly: a supplied one is ignored, the group service renders it
    expect(after.members).toEqual([{ value: 'u3', display: 'Three' }, { value: 'u2' }]);
  });

  it('empties members with a replace of []', () => {
    const after = patchGroup(group(), { op: 'replace', path: 'members', value: [] });
    expect(after).not.toHaveProperty('members');
  });
});

describe('Microsoft Entra ID request shapes', () => {
  it('sends booleans as strings and op names capitalized', () => {
    const after = patchUser(user(), { op: 'Replace', path: 'active', value: 'False' });
    expect(after.active).toBe(false);
    const again = patchUser(after, { op: 'Replace', value: { active: 'True' } });
    expect(again.active).toBe(true);
  });

  it('no-path replace with dotted and URN-prefixed keys, manager as a bare id', () => {
    const after = patchUser(user(), {
      op: 'Replace',
      value: {
        'name.givenName': 'Anna',
        'name.familyName': 'Lee-Smith',
        [`${ENT}:employeeNumber`]: '42',
        [`${ENT}:manager`]: 'mgr-id',
        'emails[type eq "work"].value': 'anna@corp.example',
        displayName: 'Anna Lee-Smith',
        active: 'True',
      },
    });
    expect(after).toMatchObject({
      name: { givenName: 'Anna', familyName: 'Lee-Smith', middleName: 'Q' },
      displayName: 'Anna Lee-Smith',
      active: true,
      [ENT]: { employeeNumber: '42', department: 'R&D', manager: { value: 'mgr-id' } },
    });
    expect((after.emails as unknown[])[0]).toEqual({ value: 'anna@corp.example', type: 'work', primary: true });
  });

  it('replaces manager by path with a bare id', () => {
    const after = patchUser(user(), { op: 'Add', path: `${ENT}:manager`, value: 'mgr-2' });
    expect((after[ENT] as Record<string, unknown>).manager).toEqual({ value: 'mgr-2' });
  });

  it('sets value of the matching element: emails[type eq "work"].value', () => {
    const after = patchUser(user(), { op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@corp.example' });
    expect((after.emails as unknown[])[0]).toEqual({ value: 'x@corp.example', type: 'work', primary: true });
  });

  it('creates the element when emails[type eq "work"].value matches nothing (add and replace)', () => {
    const before = user();
    before.emails = [{ value: 'ann@home.example', type: 'home' }];
    const added = patchUser(before, { op: 'Add', path: 'emails[type eq "work"].value', value: 'w@corp.example' });
    expect(added.emails).toEqual([
      { value: 'ann@home.example', type: 'home' },
      { type: 'work', value: 'w@corp.example' },
    ]);
    const replaced = patchUser(before, {
      op: 'Replace',
      path: 'emails[type eq "work"].value',
      value: 'w@corp.example',
    });
    expect(replaced.emails).toEqual(added.emails);
  });

  it('creates the address for addresses[type eq "work"].streetAddress', () => {
    const after = patchUser(
      user(),
      { op: 'Replace', path: 'addresses[type eq "work"].streetAddress', value: '1 Main St' },
      { op: 'Replace', path: 'addresses[type eq "work"].locality', value: 'Springfield' },
      { op: 'Replace', path: 'addresses[type eq "work"].primary', value: 'True' },
    );
    expect(after.addresses).toEqual([
      { type: 'work', streetAddress: '1 Main St', locality: 'Springfield', primary: true },
    ]);
  });

  it('builds the element from an "and" conjunction of equalities', () => {
    const after = patchUser(user(), {
      op: 'Add',
      path: 'phoneNumbers[type eq "work" and primary eq true].value',
      value: '+1 555 0100',
    });
    expect(after.phoneNumbers).toEqual([{ type: 'work', primary: true, value: '+1 555 0100' }]);
  });

  it('removes only the listed members', () => {
    const after = patchGroup(group(), { op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'nope' }] });
    expect(after.members).toEqual([{ value: 'u3', display: 'Three' }]);
    const all = patchGroup(group(), { op: 'Remove', path: 'members' });
    expect(all).not.toHaveProperty('members');
  });

  it('adds members with a path and a value array', () => {
    const after = patchGroup(group(), { op: 'Add', path: 'members', value: [{ value: 'u9' }, { value: 'u1' }] });
    expect(after.members).toEqual([...(group().members as unknown[]), { value: 'u9' }]);
  });

  it('lifecycle extension attributes by URN path', () => {
    const after = patchUser(user(), {
      op: 'Add',
      path: `${LC}:scheduledActivation`,
      value: '2027-01-01T09:00:00Z',
    });
    expect(after[LC]).toMatchObject({ scheduledActivation: '2027-01-01T09:00:00Z', state: 'ACTIVE' });
  });
});

describe('paths and names', () => {
  it('maps attribute and sub-attribute names case-insensitively to canonical names', () => {
    const after = patchUser(
      user(),
      { op: 'replace', path: 'NAME.GIVENNAME', value: 'Anna' },
      { op: 'replace', path: 'Emails[type eq "work"].Value', value: 'x@corp.example' },
      { op: 'add', path: 'NickName', value: 'A' },
      { op: 'add', value: { Title: 'Dr', EMAILS: [{ VALUE: 'z@z.example', Type: 'other' }] } },
      { op: 'replace', path: `${ENT.toUpperCase()}:DEPARTMENT`, value: 'Ops' },
    );
    expect(after).toMatchObject({
      name: { givenName: 'Anna' },
      nickName: 'A',
      title: 'Dr',
      [ENT]: { department: 'Ops' },
    });
    expect(after).not.toHaveProperty('NickName');
    expect((after.emails as unknown[])[0]).toMatchObject({ value: 'x@corp.example' });
    expect((after.emails as unknown[])[2]).toEqual({ value: 'z@z.example', type: 'other' });
  });

  it('URN-prefixed sub-attribute path: manager.value', () => {
    const after = patchUser(user(), { op: 'replace', path: `${ENT}:manager.value`, value: 'm-9' });
    expect((after[ENT] as Record<string, unknown>).manager).toEqual({ value: 'm-9', displayName: 'Boss' });
  });

  it('core schema URN prefix resolves to core attributes', () => {
    expect(patchUser(user(), { op: 'replace', path: `${CORE}:title`, value: 'T' }).title).toBe('T');
  });

  it.each([
    [{ op: 'add', path: 'favouriteColour', value: 'x' }],
    [{ op: 'remove', path: 'name.nickname' }],
    [{ op: 'replace', path: 'urn:example:unknown:2.0:User:x', value: 'x' }],
    [{ op: 'replace', path: `${ENT}:userName`, value: 'x' }],
    [{ op: 'replace', path: 'userName[value eq "x"]', value: 'x' }],
    [{ op: 'replace', path: 'name[givenName eq "Ann"]', value: 'x' }],
    [{ op: 'replace', path: 'userName.value', value: 'x' }],
    [{ op: 'replace', value: { favouriteColour: 'blue' } }],
    [{ op: 'replace', value: { 'name..x': 'blue' } }],
    [{ op: 'add', path: 'department', value: 'x' }],
  ])('%j is 400 invalidPath', (op) => {
    expectScim(() => patchUser(user(), op), 400, 'invalidPath');
  });

  it('replace and remove with a filter matching nothing are 400 noTarget', () => {
    expectScim(
      () => patchUser(user(), { op: 'replace', path: 'emails[type eq "other"]', value: { value: 'x' } }),
      400,
      'noTarget',
    );
    expectScim(() => patchUser(user(), { op: 'remove', path: 'emails[type eq "other"]' }), 400, 'noTarget');
    expectScim(() => patchUser(user(), { op: 'remove', path: 'addresses[type eq "work"].locality' }), 400, 'noTarget');
    expectScim(() => patchGroup(group(), { op: 'remove', path: 'members[value eq "nobody"]' }), 400, 'noTarget');
  });

  it('add with a non-equality filter matching nothing cannot create an element: 400 noTarget', () => {
    const matcher = () => () => false;
    const ops = parsePatchRequest(body({ op: 'add', path: 'emails[value co "x"].type', value: 'work' }));
    expectScim(() => applyPatch(user(), ops, USER_SCHEMAS, matcher), 400, 'noTarget');
  });

  it('a filter the matcher rejects surfaces as a ScimError', () => {
    const crash = () => {
      throw new TypeError('boom');
    };
    const ops = parsePatchRequest(body({ op: 'remove', path: 'emails[type eq "work"]' }));
    expectScim(() => applyPatch(user(), ops, USER_SCHEMAS, crash), 400, 'invalidPath');
    const bad = parsePatchRequest(body({ op: 'remove', path: 'emails[type zz "work"]' }));
    expectScim(() => applyPatch(user(), bad, USER_SCHEMAS, stubMatches), 400, 'invalidFilter');
  });
});

describe('mutability', () => {
  it.each([
    [{ op: 'replace', path: 'id', value: 'u-2' }],
    [{ op: 'replace', path: 'id', value: 'u-1' }],
    [{ op: 'remove', path: 'meta' }],
    [{ op: 'replace', path: 'meta.lastModified', value: '2030-01-01T00:00:00Z' }],
    [{ op: 'add', path: 'groups', value: [{ value: 'g-2' }] }],
    [{ op: 'remove', path: 'groups[value eq "g-1"]' }],
    [{ op: 'replace', path: `${LC}:passwordStatus`, value: 'ACTIVE' }],
    [{ op: 'replace', path: `${LC}:locked`, value: false }],
    [{ op: 'replace', path: `${ENT}:manager.displayName`, value: 'Big Boss' }],
    [{ op: 'replace', value: { [LC]: { passwordStatus: 'PENDING' } } }],
    [{ op: 'replace', value: { id: 'u-2' } }],
    [{ op: 'add', value: { groups: [] } }],
  ])('%j is 400 mutability', (op) => {
    expectScim(() => patchUser(user(), op), 400, 'mutability');
  });

  it('silently ignores readOnly keys of a no-path value that equal the current value', () => {
    const current = user();
    const after = patchUser(current, {
      op: 'replace',
      value: {
        id: 'u-1',
        meta: current.meta,
        groups: current.groups,
        [LC]: { passwordStatus: 'ACTIVE', source: 'manual', state: 'SUSPENDED' },
        [`${LC}:locked`]: null,
        displayName: 'X',
      },
    });
    expect(after).toMatchObject({
      id: 'u-1',
      displayName: 'X',
      [LC]: { state: 'SUSPENDED', passwordStatus: 'ACTIVE' },
    });
  });

  it('ignores readOnly sub-attributes inside a supplied complex value', () => {
    const after = patchUser(user(), {
      op: 'replace',
      path: `${ENT}:manager`,
      value: { value: 'm-1', displayName: 'Fake' },
    });
    expect((after[ENT] as Record<string, unknown>).manager).toEqual({ value: 'm-1', displayName: 'Boss' });
  });
});

describe('primary', () => {
  it('setting primary on one element clears it on the others', () => {
    const added = patchUser(user(), { op: 'add', path: 'emails', value: [{ value: 'n@corp.example', primary: true }] });
    expect(added.emails).toEqual([
      { value: 'ann@corp.example', type: 'work' },
      { value: 'ann@home.example', type: 'home' },
      { value: 'n@corp.example', primary: true },
    ]);
    const replaced = patchUser(user(), { op: 'replace', path: 'emails[type eq "home"].primary', value: 'True' });
    expect(replaced.emails).toEqual([
      { value: 'ann@corp.example', type: 'work' },
      { value: 'ann@home.example', type: 'home', primary: true },
    ]);
  });

  it('two primary values in one operation are 400 invalidValue', () => {
    expectScim(
      () =>
        patchUser(user(), {
          op: 'replace',
          path: 'emails',
          value: [
            { value: 'a@x.example', primary: true },
            { value: 'b@x.example', primary: 'true' },
          ],
        }),
      400,
      'invalidValue',
    );
  });
});

describe('values', () => {
  it.each([
    [{ op: 'replace', path: 'name', value: { nickname: 'x' } }],
    [{ op: 'replace', path: 'name', value: [1] }],
    [{ op: 'add', path: 'emails', value: [{ value: 'a@b.c', colour: 'red' }] }],
    [{ op: 'add', path: ENT, value: 'x' }],
    [{ op: 'add', value: { [ENT]: 'x' } }],
  ])('%j is 400 invalidValue', (op) => {
    expectScim(() => patchUser(user(), op), 400, 'invalidValue');
  });

  it('cannot pollute prototypes', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "givenName": "x"}');
    expectScim(() => patchUser(user(), { op: 'replace', path: 'name', value }), 400, 'invalidValue');
    const after = patchUser(user(), { op: 'replace', path: 'title', value: JSON.parse('{"__proto__": {"p": 1}}') });
    expect(Object.getPrototypeOf(after.title)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('group service helpers', () => {
  it('isMembersPath recognises members paths', () => {
    const ops = parsePatchRequest(
      body(
        { op: 'remove', path: 'members[value eq "u1"]' },
        { op: 'add', path: 'Members', value: [{ value: 'u2' }] },
        { op: 'add', path: `${GROUP}:members`, value: [{ value: 'u2' }] },
        { op: 'replace', path: 'displayName', value: 'x' },
        { op: 'replace', value: { displayName: 'x' } },
      ),
    );
    expect(ops.map(isMembersPath)).toEqual([true, true, true, false, false]);
  });

  it('partitionMembersOperations splits members out of no-path values', () => {
    const ops = parsePatchRequest(
      body(
        { op: 'replace', value: { displayName: 'New', members: [{ value: 'u5' }] } },
        { op: 'remove', path: 'members[value eq "u1"]' },
        { op: 'replace', path: 'externalId', value: 'e' },
      ),
    );
    const { members, others } = partitionMembersOperations(ops);
    expect(members).toEqual([
      { op: 'replace', path: { attribute: 'members' }, rawPath: 'members', value: [{ value: 'u5' }] },
      ops[1],
    ]);
    expect(others).toEqual([{ op: 'replace', value: { displayName: 'New' } }, ops[2]]);
    expect(applyPatch(group(), others, GROUP_SCHEMAS, stubMatches)).toMatchObject({
      displayName: 'New',
      externalId: 'e',
    });
  });
});

describe('fuzz', () => {
  // deterministic PRNG so a failure reproduces
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)];
  const paths = [
    'userName',
    'name',
    'name.givenName',
    'NAME.familyname',
    'emails',
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[primary eq true].primary',
    'emails.value',
    'addresses[type eq "home"].region',
    'groups',
    'id',
    'meta.created',
    'active',
    'members',
    'members[value eq "u1"]',
    `${ENT}:manager`,
    `${ENT}:manager.value`,
    `${ENT}:department`,
    ENT,
    LC,
    `${LC}:state`,
    `${LC}:passwordStatus`,
    'x[',
    'a.b.c',
    'emails[type ne "x"]',
    'phoneNumbers[value co "5"].type',
    'urn:a:b:c',
    '',
    ' ',
    'schemas',
    '$ref',
  ];
  const scalars: unknown[] = [null, true, false, 'True', 'x', '', 0, -1, 1.5, 'work'];
  const anyValue = (depth = 0): unknown => {
    const r = rand();
    if (depth > 2 || r < 0.4) return pick(scalars);
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 3) }, () => anyValue(depth + 1));
    const keys = [
      'value',
      'type',
      'primary',
      'display',
      'givenName',
      'Value',
      'id',
      'active',
      ENT,
      'name.givenName',
      'x',
    ];
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [pick(keys), anyValue(depth + 1)]));
  };
  const anyOp = () => {
    const op: Record<string, unknown> = {};
    if (rand() < 0.95) op.op = pick(['add', 'remove', 'replace', 'Add', 'REPLACE', 'move', 1, null]);
    if (rand() < 0.7) op.path = rand() < 0.9 ? pick(paths) : anyValue();
    if (rand() < 0.8) op.value = anyValue();
    return rand() < 0.05 ? anyValue() : op;
  };
  const anyBody = () => {
    if (rand() < 0.05) return anyValue();
    const b: Record<string, unknown> = {};
    if (rand() < 0.95) b.schemas = rand() < 0.9 ? [PATCH_OP] : anyValue();
    if (rand() < 0.95)
      b.Operations = rand() < 0.9 ? Array.from({ length: 1 + Math.floor(rand() * 4) }, anyOp) : anyValue();
    return b;
  };

  it('never throws anything but a ScimError, and never mutates its input', () => {
    let applied = 0;
    for (let i = 0; i < 600; i++) {
      const input = anyBody();
      const resource = i % 2 === 0 ? user() : group();
      const schemas = i % 2 === 0 ? USER_SCHEMAS : GROUP_SCHEMAS;
      const snapshot = JSON.stringify(resource);
      try {
        const ops: PatchOperation[] = parsePatchRequest(input);
        applyPatch(resource, ops, schemas, stubMatches);
        applied++;
      } catch (error) {
        if (!(error instanceof ScimError))
          throw new Error(`non-ScimError for ${JSON.stringify(input)}: ${String(error)}`, { cause: error });
        expect(error.status).toBe(400);
      }
      expect(JSON.stringify(resource)).toBe(snapshot);
    }
    expect(applied).toBeGreaterThan(0);
  });

  it('applyPatch on well-formed operations with random values throws only ScimErrors', () => {
    const counts = { applied: 0, rejected: 0 };
    for (let i = 0; i < 1500; i++) {
      const ops: PatchOperation[] = [];
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
        const op = pick(['add', 'remove', 'replace'] as const);
        let path;
        try {
          path = rand() < 0.85 ? parsePatchPath(pick(paths)) : undefined;
        } catch {
          path = undefined;
        }
        const value = rand() < 0.5 && !path ? { [pick(paths) || 'title']: anyValue() } : anyValue();
        ops.push({ op, ...(path ? { path } : {}), value });
      }
      const resource = i % 3 === 0 ? group() : user();
      const schemas = i % 3 === 0 ? GROUP_SCHEMAS : USER_SCHEMAS;
      try {
        applyPatch(resource, ops, schemas, stubMatches);
        counts.applied++;
      } catch (error) {
        if (!(error instanceof ScimError))
          throw new Error(`non-ScimError for ${JSON.stringify(ops)}: ${String(error)}`, { cause: error });
        counts.rejected++;
      }
    }
    expect(counts.applied).toBeGreaterThan(100);
  });
});
