/**
 * A group's members: who they are (users or groups, checked to exist), how they are shown (with
 * their display names), and their edits (a PATCH operation on `members`, read once into a
 * MemberEdit, or a /GroupMembers request), applied to the membership collection directly
 * (constant time whatever the group's size).
 */
import { InvalidError } from '../errors.js';
import { compileMatcher, type AttributeResolver } from '../scim/filterCheck.js';
import { parseFilter } from '../scim/filterParser.js';
import type { PatchOperation } from '../scim/patchParse.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';
import type { ScimResource } from '../scim/validate.js';
import type { UserRepository } from '../users/repository.js';
import type { Membership, MembershipRepository } from './membershipRepository.js';
import type { GroupRepository } from './repository.js';
import type { StoredGroup } from './mapping.js';

export interface MemberInput {
  value: string;
  type?: string;
}

/** The members a PATCH operation's value names. */
function values(v: unknown): MemberInput[] {
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.map((m) => {
    if (typeof m === 'string') return { value: m };
    if (typeof m !== 'object' || m === null || typeof (m as MemberInput).value !== 'string') {
      throw new InvalidError('Each member needs a "value" (the member id)', { scimType: 'invalidValue' });
    }
    return m as MemberInput;
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the operation targets the Group `members` attribute by path (with or without a value filter). */
export function isMembersPath(op: PatchOperation): boolean {
  const path = op.path;
  if (!path || path.attribute.toLowerCase() !== 'members') return false;
  return !path.urn || path.urn.toLowerCase() === SCHEMA_URNS.group.toLowerCase();
}

/**
 * Splits a group PATCH: `members` operations (by path, or a `members` key inside a no-path value,
 * turned into a path operation), which change membership documents, versus everything else (no-path
 * values keep their other keys), which changes the group document.
 */
export function partitionMembersOperations(operations: PatchOperation[]): {
  members: PatchOperation[];
  others: PatchOperation[];
} {
  const members: PatchOperation[] = [];
  const others: PatchOperation[] = [];
  for (const op of operations) {
    if (isMembersPath(op)) {
      members.push(op);
    } else if (!op.path && isObject(op.value)) {
      const rest: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(op.value)) {
        const lower = key.toLowerCase();
        if (lower === 'members' || lower === `${SCHEMA_URNS.group.toLowerCase()}:members`) {
          members.push({ op: op.op, path: { attribute: 'members' }, value, rawPath: 'members' });
        } else {
          Object.defineProperty(rest, key, { value, enumerable: true, writable: true, configurable: true });
        }
      }
      if (Object.keys(rest).length > 0) others.push({ ...op, value: rest });
    } else {
      others.push(op);
    }
  }
  return { members, others };
}

/** One change of a group's members, read from its request once. */
export type MemberEdit =
  | { kind: 'add' | 'replace'; members: MemberInput[] }
  /** Listed ids; one that is not a member is no error (Okta replays removals). */
  | { kind: 'remove'; ids: string[] }
  /** The members a value filter selects; when it selects none, 400 noTarget. */
  | { kind: 'removeMatching'; text: string; matches(member: ScimResource): boolean }
  | { kind: 'removeAll' };

/** A PATCH operation on `members` as a member edit; its value filter is parsed and checked here, once. */
export function memberEditOf(op: PatchOperation, resolver: AttributeResolver): MemberEdit {
  const filter = op.path?.filter;
  if (op.path?.subAttribute)
    throw new InvalidError('Member sub-attributes cannot be changed', { scimType: 'mutability' });
  if (op.op === 'add') {
    if (filter) throw new InvalidError('add on members takes no filter', { scimType: 'invalidPath' });
    return { kind: 'add', members: values(op.value) };
  }
  if (op.op === 'replace') {
    if (filter)
      throw new InvalidError('replace on members takes no filter; use remove and add', { scimType: 'invalidPath' });
    return { kind: 'replace', members: values(op.value) };
  }
  if (filter) return removalByFilter(filter, resolver);
  if (op.value !== undefined) return { kind: 'remove', ids: values(op.value).map((m) => m.value) };
  return { kind: 'removeAll' };
}

/** `value eq "id"` names one member; any other filter selects members as `members[filter]` does. */
function removalByFilter(text: string, resolver: AttributeResolver): MemberEdit {
  const tree = parseFilter(text);
  if (tree.kind === 'compare' && tree.op === 'eq' && typeof tree.value === 'string') {
    const { urn, attribute, subAttribute } = tree.path;
    if (!urn && !subAttribute && attribute.toLowerCase() === 'value') {
      // an id never holds control characters: such a filter is refused as malformed, not taken as "no such member"
      if (/\p{Cc}/u.test(tree.value)) throw new InvalidError(`Invalid filter: ${text}`, { scimType: 'invalidFilter' });
      return { kind: 'remove', ids: [tree.value] };
    }
  }
  const matches = compileMatcher({ kind: 'valuePath', path: { attribute: 'members' }, filter: tree }, resolver);
  return { kind: 'removeMatching', text, matches: (member) => matches({ members: [member] }) };
}

export interface GroupMemberDeps {
  groups: GroupRepository;
  memberships: MembershipRepository;
  users: UserRepository;
  baseUrl: () => string;
}

export function createGroupMembers(deps: GroupMemberDeps) {
  const { groups, memberships, users, baseUrl } = deps;

  async function renderMembers(memberships: Membership[]) {
    const userIds = memberships.filter((m) => m.type === 'User').map((m) => m.memberId);
    const groupIds = memberships.filter((m) => m.type === 'Group').map((m) => m.memberId);
    const names = new Map<string, string>();
    for (const u of await users.findByIds(userIds, { userName: 1, displayName: 1 })) {
      names.set(u._id, (u.displayName as string | undefined) ?? u.userName);
    }
    for (const g of await groups.findByIds(groupIds)) names.set(g._id, g.displayName);
    return memberships.map((m) => ({
      value: m.memberId,
      $ref: `${baseUrl()}/${m.type === 'User' ? 'Users' : 'Groups'}/${m.memberId}`,
      type: m.type,
      ...(names.has(m.memberId) ? { display: names.get(m.memberId) } : {}),
    }));
  }

  /** Checks that members exist and says whether each is a User or a Group. */
  async function resolveMembers(
    input: MemberInput[],
    selfId?: string,
  ): Promise<{ id: string; type: 'User' | 'Group' }[]> {
    const ids = [...new Set(input.map((m) => m.value))];
    if (selfId && ids.includes(selfId))
      throw new InvalidError('A group cannot be a member of itself', { scimType: 'invalidValue' });
    const userDocs = await users.findByIds(ids, { _id: 1 });
    const foundUsers = new Set(userDocs.map((u) => u._id));
    const rest = ids.filter((id) => !foundUsers.has(id));
    const groupDocs = await groups.findByIds(rest);
    const foundGroups = new Set(groupDocs.map((g) => g._id));
    const missing = rest.filter((id) => !foundGroups.has(id));
    if (missing.length)
      throw new InvalidError(`Members not found: ${missing.slice(0, 10).join(', ')}`, { scimType: 'invalidValue' });
    return ids.map((id) => ({ id, type: foundUsers.has(id) ? 'User' : 'Group' }));
  }

  function membersOf(resource: ScimResource): MemberInput[] {
    const list = (resource.members as MemberInput[] | undefined) ?? [];
    for (const m of list) {
      if (typeof m.value !== 'string' || !m.value)
        throw new InvalidError('Each member needs a "value" (the member id)', { scimType: 'invalidValue' });
    }
    return list;
  }

  /** Makes the member list exactly `wanted`, touching only the memberships that differ. */
  async function setMembers(group: StoredGroup, wanted: { id: string; type: 'User' | 'Group' }[]) {
    const current = new Set((await memberships.members(group._id)).map((m) => m.memberId));
    const keep = new Set(wanted.map((m) => m.id));
    const removed = await memberships.removeMembers(
      group._id,
      [...current].filter((id) => !keep.has(id)),
    );
    const added = await memberships.addMembers(
      group._id,
      wanted.filter((m) => !current.has(m.id)),
    );
    return { added, removed };
  }

  /**
   * The members an `add` edit names, looked up (started before the group is read: its id is the
   * URL's); undefined for other edits. Its errors surface when applyMemberEdit awaits it.
   */
  function lookUpAdded(edit: MemberEdit, groupId: string) {
    if (edit.kind !== 'add') return undefined;
    const resolving = resolveMembers(edit.members, groupId);
    resolving.catch(() => undefined); // awaited later, in the edits' order
    return resolving;
  }

  /** Applies one member edit to the membership collection; how many members it added and removed. */
  async function applyMemberEdit(
    group: StoredGroup,
    edit: MemberEdit,
    added?: ReturnType<typeof lookUpAdded>,
  ): Promise<{ added: number; removed: number }> {
    switch (edit.kind) {
      case 'add': {
        const members = await (added ?? resolveMembers(edit.members, group._id));
        return { added: await memberships.addMembers(group._id, members), removed: 0 };
      }
      case 'replace':
        return setMembers(group, await resolveMembers(edit.members, group._id));
      case 'remove':
        return { added: 0, removed: await memberships.removeMembers(group._id, edit.ids) };
      case 'removeMatching': {
        const rendered = await renderMembers(await memberships.members(group._id));
        const ids = rendered.filter((m) => edit.matches(m)).map((m) => m.value);
        const present = await memberships.memberIdsMatching(group._id, ids);
        if (!present.length) throw new InvalidError(`No member matches ${edit.text}`, { scimType: 'noTarget' });
        return { added: 0, removed: await memberships.removeMembers(group._id, present) };
      }
      case 'removeAll':
        return { added: 0, removed: await memberships.removeAllMembers(group._id) };
    }
  }

  return { renderMembers, resolveMembers, membersOf, setMembers, lookUpAdded, applyMemberEdit };
}
