import { newId } from '../db/ids.js';
import { NotFoundError } from '../errors.js';
import { scimBaseUrl } from '../config/index.js';
import { idJoin } from '../db/joins.js';
import type { Env } from '../events/env.js';
import { checkIfMatch } from '../scim/etag.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import { createResolver } from '../db/fieldResolver.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import type { UserRepository } from '../users/repository.js';
import type { MembershipRepository } from './membershipRepository.js';
import { createGroupMembers } from './memberPatch.js';
import { groupContent, toScimGroup, type StoredGroup } from './mapping.js';
import type { GroupRepository } from './repository.js';
import { createGroupChanges, duplicate, groupEvent, type GroupWriteContext } from './changeService.js';

export type { GroupWriteContext } from './changeService.js';

/** Members rendered (and their names looked up) at a time when a group is streamed. */
const MEMBER_BATCH = 1000;

export interface GroupServiceDeps {
  /** Clock, event recorder, configuration (src/events/env.ts). */
  env: Env;
  groups: GroupRepository;
  memberships: MembershipRepository;
  users: UserRepository;
  schemas: SchemaDocument[];
}

export type GroupService = ReturnType<typeof createGroupService>;

/** Group rules: unique names, members in their own collection (constant-time changes), versions and events. */
export function createGroupService(deps: GroupServiceDeps) {
  const { groups, memberships, users, schemas } = deps;
  const { config, now, recordEvent } = deps.env;
  const baseUrl = () => scimBaseUrl(config);
  const resolver = createResolver(schemas, {
    extensionKeys: {},
    normalized: { displayname: 'norm.displayName' },
    joins: { 'members.value': 'members.value', members: 'members.value' },
  });

  const members = createGroupMembers({ groups, memberships, users, baseUrl });
  const { renderMembers, resolveMembers, membersOf } = members;

  async function load(id: string): Promise<StoredGroup> {
    const group = await groups.findById(id);
    if (!group) throw new NotFoundError(`Group ${id} not found`);
    return group;
  }

  async function render(group: StoredGroup, projection: Projection): Promise<ScimResource> {
    const members = wants(projection, 'members', schemas)
      ? await renderMembers(await memberships.members(group._id))
      : undefined;
    return projectResource(toScimGroup(group, baseUrl(), members), schemas, projection);
  }

  const record = (...args: Parameters<typeof groupEvent>) => recordEvent(groupEvent(...args));
  const changes = createGroupChanges({ groups, schemas, baseUrl, resolver, members, now, load, render, record });

  return {
    schemas,
    load,
    render,
    version: (id: string) => groups.version(id),
    ...changes,

    async create(input: unknown, ctx: GroupWriteContext, projection: Projection = {}) {
      const resource = validateResource(input, { schemas, mode: 'create' });
      const members = await resolveMembers(membersOf(resource));
      const at = now();
      const group: StoredGroup = {
        _id: newId(),
        ...groupContent(resource),
        meta: { created: at, lastModified: at, version: 1 },
      };
      await groups.insert(group).catch(duplicate);
      await memberships.addMembers(group._id, members);
      await record(
        'group_create',
        group,
        ctx.actor,
        members.length ? [{ field: 'members', from: [], to: members.map((m) => m.id) }] : undefined,
      );
      return { group, resource: await render(group, projection), location: `${baseUrl()}/Groups/${group._id}` };
    },

    /**
     * GET /Groups/{id} with every attribute, as JSON text written while the members are read: a
     * batch of members (and their display names) at a time, so a 100k-member group is never held
     * in memory as one document.
     */
    async getStreamed(id: string): Promise<{ group: StoredGroup; chunks: AsyncIterable<string> }> {
      const group = await load(id);
      const head = JSON.stringify(projectResource(toScimGroup(group, baseUrl()), schemas, {}));
      async function* chunks() {
        let first = true;
        for await (const batch of memberships.batchesOf(group._id, MEMBER_BATCH)) {
          const items = (await renderMembers(batch)).map((m) => JSON.stringify(m)).join(',');
          yield first ? `${head.slice(0, -1)},"members":[${items}` : `,${items}`;
          first = false;
        }
        yield first ? head : ']}';
      }
      return { group, chunks: chunks() };
    },

    async get(id: string, projection: Projection = {}) {
      const group = await load(id);
      return { group, resource: await render(group, projection) };
    },

    async delete(id: string, ctx: GroupWriteContext) {
      const group = await load(id);
      checkIfMatch(ctx.ifMatch, group.meta.version);
      await groups.delete(id);
      await memberships.removeGroup(id);
      await record('group_delete', group, ctx.actor);
    },

    list(raw: Record<string, unknown>) {
      return groups.list({
        raw,
        limits: config.scim,
        schemas,
        resolver,
        joins: {
          'members.value': idJoin(
            (memberId) => memberships.groupIdsWithMembers([memberId]),
            () => memberships.groupIdsWithAnyMember(),
          ),
        },
        related: 'members',
        toScim: (docs, withMembers) =>
          Promise.all(
            docs.map(async (g) =>
              toScimGroup(
                g,
                baseUrl(),
                withMembers ? await renderMembers(await memberships.members(g._id)) : undefined,
              ),
            ),
          ),
      });
    },
  };
}
