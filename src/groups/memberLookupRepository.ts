import type { Collection } from 'mongodb';
import type { Membership } from './mapping.js';

/**
 * Reads of memberships by member, across groups: the groups of users (and of groups, for nesting),
 * the joins of the `groups.value` and `members.value` filters, the export's widest user. Served by
 * the `member` index (the `group_member` one serves the reads by group). Part of the membership
 * repository (membershipRepository.ts).
 */
export function createMemberLookups(memberships: Collection<Membership>) {
  return {
    /** Groups that have any of these members directly. */
    async groupIdsOf(memberIds: string[]): Promise<Membership[]> {
      if (!memberIds.length) return [];
      return memberships.find({ memberId: { $in: memberIds } }).toArray();
    },

    async groupIdsWithMembers(memberIds: string[]): Promise<string[]> {
      if (!memberIds.length) return [];
      return memberships.distinct('groupId', { memberId: { $in: memberIds } });
    },

    async memberIdsOf(groupIds: string[]): Promise<string[]> {
      if (!groupIds.length) return [];
      return memberships.distinct('memberId', { groupId: { $in: groupIds } });
    },

    /** Users that are in any group (the `groups pr` filter). */
    userIdsInAnyGroup(): Promise<string[]> {
      return memberships.distinct('memberId', { type: 'User' });
    },

    /** Groups that have any member (the `members pr` filter). */
    groupIdsWithAnyMember(): Promise<string[]> {
      return memberships.distinct('groupId');
    },

    /** The direct group memberships of these users. */
    async ofUsers(userIds: string[]): Promise<Pick<Membership, 'groupId' | 'memberId'>[]> {
      if (!userIds.length) return [];
      return memberships
        .find({ memberId: { $in: userIds }, type: 'User' }, { projection: { groupId: 1, memberId: 1 } })
        .toArray();
    },

    /** The largest number of groups any user is directly in: one pass over memberships by member. */
    async maxGroupsPerUser(): Promise<number> {
      let max = 0;
      let current: string | undefined;
      let count = 0;
      const cursor = memberships
        .find({ type: 'User' }, { projection: { _id: 0, memberId: 1 } })
        .sort({ memberId: 1 })
        .batchSize(5000);
      for await (const m of cursor) {
        if (m.memberId !== current) {
          current = m.memberId;
          count = 0;
        }
        count++;
        if (count > max) max = count;
      }
      return max;
    },
  };
}
