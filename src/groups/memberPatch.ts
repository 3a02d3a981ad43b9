/**
 * A group's members: who they are (users or groups, checked to exist), how they are shown (with
 * their display names), and the PATCH operations on `members`, applied to the membership
 * collection directly (constant time whatever the group's size).
 */
import { InvalidError } from '../errors.js';
import type { AttributeResolver } from '../scim/filter.js';
import { compileFilter } from '../scim/filter.js';
import type { PatchOperation } from '../scim/patch.js';
import type { ScimResource } from '../scim/validate.js';
import type { UserRepository } from '../users/repository.js';
import type { Membership, MembershipRepository } from './membershipRepository.js';
import type { GroupRepository, StoredGroup } from './repository.js';

export interface MemberInput {
  value: string;
  type?: string;
}

const SIMPLE_MEMBER_FILTER = /^\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

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

export interface GroupMemberDeps {
  groups: GroupRepository;
  memberships: MembershipRepository;
  users: UserRepository;
  baseUrl: string;
  /** Resolves `members.value` and friends in a remove filter. */
  resolver: AttributeResolver;
}

export function createGroupMembers(deps: GroupMemberDeps) {
  const { groups, memberships, users, baseUrl, resolver } = deps;

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
      $ref: `${baseUrl}/${m.type === 'User' ? 'Users' : 'Groups'}/${m.memberId}`,
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
   * The members an `add` operation names, looked up (started before the group is read: its id is
   * the URL's); undefined for other operations. Its errors surface when applyMemberOperation awaits it.
   */
  function resolveAdded(op: PatchOperation, groupId: string) {
    if (op.op !== 'add' || op.path?.filter || op.path?.subAttribute) return undefined;
    const resolving = (async () => resolveMembers(values(op.value), groupId))();
    resolving.catch(() => undefined); // awaited later, in the operations' order
    return resolving;
  }

  /** Applies the PATCH operations that target `members` directly to the membership collection. */
  async function applyMemberOperation(group: StoredGroup, op: PatchOperation, added?: ReturnType<typeof resolveAdded>) {
    const filter = op.path?.filter;
    if (op.path?.subAttribute)
      throw new InvalidError('Member sub-attributes cannot be changed', { scimType: 'mutability' });
    if (op.op === 'add') {
      if (filter) throw new InvalidError('add on members takes no filter', { scimType: 'invalidPath' });
      return {
        added: await memberships.addMembers(group._id, await (added ?? resolveMembers(values(op.value), group._id))),
        removed: 0,
      };
    }
    if (op.op === 'replace') {
      if (filter)
        throw new InvalidError('replace on members takes no filter; use remove and add', { scimType: 'invalidPath' });
      return setMembers(group, await resolveMembers(values(op.value), group._id));
    }
    // remove
    if (filter) {
      const simple = SIMPLE_MEMBER_FILTER.exec(filter);
      let ids: string[];
      if (simple) {
        try {
          ids = [JSON.parse(`"${simple[1]}"`) as string];
        } catch {
          throw new InvalidError(`Invalid filter: ${filter}`, { scimType: 'invalidFilter' });
        }
      } else {
        const compiled = compileFilter(filter, resolver);
        const rendered = await renderMembers(await memberships.members(group._id));
        ids = rendered.filter((m) => compiled.matches({ members: [m] })).map((m) => m.value);
      }
      const present = await memberships.memberIdsMatching(group._id, ids);
      if (!present.length && !simple) throw new InvalidError(`No member matches ${filter}`, { scimType: 'noTarget' });
      return { added: 0, removed: await memberships.removeMembers(group._id, present) };
    }
    if (op.value !== undefined) {
      return {
        added: 0,
        removed: await memberships.removeMembers(
          group._id,
          values(op.value).map((m) => m.value),
        ),
      };
    }
    return { added: 0, removed: await memberships.removeAllMembers(group._id) };
  }

  return { renderMembers, resolveMembers, membersOf, setMembers, resolveAdded, applyMemberOperation };
}
