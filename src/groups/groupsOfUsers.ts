/**
 * What the users need of the groups (users/contracts.ts GroupsOfUsers): a user's groups as SCIM shows
 * them, the members a `groups.value` filter looks for, and a deleted user taken out of its groups.
 * The groups sit above the users, so compose/users.ts hands this to the user service.
 */
import type { GroupsOfUsers } from '../users/contracts.js';
import type { GroupRef } from '../users/mapping.js';
import type { MembershipRepository } from './membershipRepository.js';
import type { GroupRepository } from './repository.js';

export function createGroupsOfUsers(
  memberships: MembershipRepository,
  groups: GroupRepository,
  now: () => Date = () => new Date(),
): GroupsOfUsers {
  /**
   * Direct groups, then groups of those groups (indirect), for many users at once: one query per
   * nesting level whatever the number of users, cycle-safe.
   */
  async function groupsOfMany(userIds: string[]): Promise<Map<string, GroupRef[]>> {
    const result = new Map<string, GroupRef[]>(userIds.map((id) => [id, []]));
    const direct = await memberships.groupIdsOf(userIds);
    if (!direct.length) return result;
    const parents = new Map<string, string[]>(); // group -> groups it is a member of
    let frontier = [...new Set(direct.map((m) => m.groupId))];
    const known = new Set(frontier);
    const names = new Map<string, string>();
    for (let depth = 0; frontier.length && depth < 20; depth++) {
      // Each level's names are read beside its parent edges: no round trip of their own.
      const [edges, found] = await Promise.all([memberships.groupIdsOf(frontier), groups.findByIds(frontier)]);
      for (const g of found) names.set(g._id, g.displayName);
      frontier = [];
      for (const edge of edges) {
        parents.set(edge.memberId, [...(parents.get(edge.memberId) ?? []), edge.groupId]);
        if (!known.has(edge.groupId)) {
          known.add(edge.groupId);
          frontier.push(edge.groupId);
        }
      }
    }
    for (const g of await groups.findByIds(frontier)) names.set(g._id, g.displayName); // past the depth limit
    for (const userId of userIds) {
      const seen = new Map<string, 'direct' | 'indirect'>();
      const queue = direct.filter((m) => m.memberId === userId).map((m) => m.groupId);
      queue.forEach((g) => seen.set(g, 'direct'));
      for (let i = 0; i < queue.length; i++) {
        for (const parent of parents.get(queue[i]) ?? []) {
          if (!seen.has(parent)) {
            seen.set(parent, 'indirect');
            queue.push(parent);
          }
        }
      }
      const refs = [...seen]
        .filter(([id]) => names.has(id))
        .map(([id, type]) => ({ value: id, display: names.get(id)!, type }))
        .sort((a, b) => a.display.localeCompare(b.display));
      result.set(userId, refs);
    }
    return result;
  }

  return {
    groupsOfMany,
    groupsOf: async (userId) => (await groupsOfMany([userId])).get(userId)!,
    memberIdsOf: (groupId) => memberships.memberIdsOf([groupId]),
    userIdsInAnyGroup: () => memberships.userIdsInAnyGroup(),
    async removeFromAll(userId) {
      for (const groupId of await memberships.removeMemberEverywhere(userId)) await groups.touch(groupId, now());
    },
  };
}
