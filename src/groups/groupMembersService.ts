/**
 * /GroupMembers: each membership as a resource of its own (draft-zollner-scim-group-members-01, the
 * SCIM working group's current proposal for large groups), so a client reads a group of a million
 * members in pages (`filter=group.value eq "…"` with cursor or startIndex paging) and adds or
 * removes one member with one small request. Writes go through the group service, so a membership
 * made here obeys the same rules, bumps the same group version and records the same events as a
 * PATCH of the group's members.
 */
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { FieldResolver } from '../db/filterQuery.js';
import { parseProjection, projectResource, type Projection } from '../scim/projection.js';
import { SCHEMA_URNS, type SchemaDocument } from '../scim/schemaRegistry.js';
import type { ScimResource } from '../scim/validate.js';
import { membershipId, type Membership, type MembershipRepository } from './membershipRepository.js';
import type { GroupService, GroupWriteContext } from './service.js';

/** SCIM paths of a GroupMember and the stored fields behind them. */
const FIELDS: Record<string, string> = {
  id: '_id',
  'group.value': 'groupId',
  'member.value': 'memberId',
  'member.type': 'type',
};

const resolver: FieldResolver = ({ urn, attribute, subAttribute }) => {
  if (urn && urn.toLowerCase() !== SCHEMA_URNS.groupMember.toLowerCase()) return undefined;
  const field = FIELDS[(subAttribute ? `${attribute}.${subAttribute}` : attribute).toLowerCase()];
  return field ? { field, type: 'string', caseExact: true, multiValued: false } : undefined;
};

/** The SCIM form of one membership. Pure. */
export function toScimGroupMember(m: Membership, baseUrl: string): ScimResource {
  const memberEndpoint = m.type === 'Group' ? 'Groups' : 'Users';
  return {
    schemas: [SCHEMA_URNS.groupMember],
    id: m._id,
    group: { value: m.groupId, $ref: `${baseUrl}/Groups/${m.groupId}` },
    member: { value: m.memberId, $ref: `${baseUrl}/${memberEndpoint}/${m.memberId}`, type: m.type },
    meta: { resourceType: 'GroupMember', location: `${baseUrl}/GroupMembers/${m._id}` },
  };
}

/** How long a group's member count is reused at most, and for how many groups. */
const COUNT_TTL_MS = 60_000;
const MAX_COUNTS = 1000;

/**
 * Member counts by group version. Counting a 1M-member group takes over a second on FerretDB and a
 * client reading the group in pages gets the total on every page. Every change of members bumps the
 * group's version after it is written, so a count is reused only for the version it was taken at;
 * it also expires, in case a process stopped between a change and its bump.
 */
function createMemberCounts(deps: {
  count: (groupId: string) => Promise<number>;
  version: (groupId: string) => Promise<number | undefined>;
}) {
  const counts = new Map<string, { version: number; count: number; at: number }>();
  return async (groupId: string): Promise<number> => {
    const version = await deps.version(groupId);
    if (version === undefined) return deps.count(groupId);
    const known = counts.get(groupId);
    if (known && known.version === version && Date.now() - known.at < COUNT_TTL_MS) return known.count;
    const count = await deps.count(groupId);
    counts.delete(groupId);
    if (counts.size >= MAX_COUNTS) counts.delete(counts.keys().next().value!);
    counts.set(groupId, { version, count, at: Date.now() });
    return count;
  };
}

function idOf(value: unknown, name: string): string {
  const id = (value as { value?: unknown } | undefined)?.value;
  if (typeof id !== 'string' || !id)
    throw new InvalidError(`"${name}.value" is required (an id)`, { scimType: 'invalidValue' });
  return id;
}

export type GroupMemberService = ReturnType<typeof createGroupMemberService>;

export function createGroupMemberService(deps: {
  groups: GroupService;
  memberships: MembershipRepository;
  schema: SchemaDocument;
  baseUrl: () => string;
  /** Read on each request, so a reloaded configuration applies. */
  limits: () => { defaultCount: number; maxResults: number };
}) {
  const { groups, memberships, schema, baseUrl } = deps;
  const schemas = [schema];
  const memberCount = createMemberCounts({
    count: (groupId) => memberships.countOfGroup(groupId),
    version: (groupId) => groups.version(groupId),
  });
  const load = async (id: string) => {
    const membership = await memberships.find(id);
    if (!membership) throw new NotFoundError(`GroupMember ${id} not found`);
    return membership;
  };

  return {
    /** Memberships in a stable order (the membership id: the group's, then the member's). */
    list(raw: Record<string, unknown>) {
      return memberships.list(
        {
          raw,
          limits: deps.limits(),
          schemas,
          resolver,
          joins: {},
          related: 'member',
          toScim: async (docs) => docs.map((m) => toScimGroupMember(m, baseUrl())),
        },
        memberCount,
      );
    },

    async get(id: string, projection: Projection = {}) {
      return projectResource(toScimGroupMember(await load(id), baseUrl()), schemas, projection);
    },

    /** Adds one member to one group; 409 when it is a member already. */
    async create(input: unknown, ctx: GroupWriteContext, rawProjection: { attributes?: unknown; excluded?: unknown }) {
      const body = (input ?? {}) as Record<string, unknown>;
      const groupId = idOf(body.group, 'group');
      const memberId = idOf(body.member, 'member');
      if (await memberships.has(groupId, memberId)) {
        throw new ConflictError(`${memberId} is already a member of group ${groupId}`, { scimType: 'uniqueness' });
      }
      await groups.addMember(groupId, memberId, ctx);
      const id = membershipId(groupId, memberId);
      const resource = toScimGroupMember(await load(id), baseUrl());
      const projection = parseProjection(rawProjection.attributes, rawProjection.excluded);
      return { resource: projectResource(resource, schemas, projection), location: `${baseUrl()}/GroupMembers/${id}` };
    },

    async delete(id: string, ctx: GroupWriteContext) {
      const membership = await load(id);
      await groups.removeMember(membership.groupId, membership.memberId, ctx);
    },
  };
}
