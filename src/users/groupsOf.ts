import type { MembershipRepository } from '../groups/membershipRepository.js';
import type { GroupRepository } from '../groups/repository.js';
import type { GroupRef } from './mapping.js';

/** A user's groups as SCIM shows them (`groups`): direct and indirect, with display names. */
export function createGroupsOf(memberships: MembershipRepository, groups: GroupRepository) {
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
    groupsOf: async (userId: string) => (await groupsOfMany([userId])).get(userId)!,
  };
}
