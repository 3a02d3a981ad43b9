import { newId } from '../db/ids.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../errors.js';
import { scimBaseUrl, type Config } from '../config/index.js';
import { idJoin } from '../db/joins.js';
import { createPagePositions, listResources } from '../db/listing.js';
import type { Actor, NewEvent } from '../events/types.js';
import { checkIfMatch } from '../scim/etag.js';
import { compileMatcher } from '../scim/filterCheck.js';
import { applyPatch } from '../scim/patchApply.js';
import { parsePatchRequest, type PatchOperation } from '../scim/patchParse.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import { createResolver } from '../db/fieldResolver.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import type { UserRepository } from '../users/repository.js';
import { LOST_RACE, retryLostRaces } from '../db/retry.js';
import type { MembershipRepository } from './membershipRepository.js';
import { createGroupMembers, memberEditOf, partitionMembersOperations, type MemberEdit } from './memberPatch.js';
import { groupContent, toScimGroup, type StoredGroup } from './mapping.js';
import { DuplicateGroupError, type GroupRepository } from './repository.js';

export interface GroupWriteContext {
  actor: Actor;
  ifMatch?: string;
}

/** Members rendered (and their names looked up) at a time when a group is streamed. */
const MEMBER_BATCH = 1000;

export interface GroupServiceDeps {
  config: Config;
  groups: GroupRepository;
  memberships: MembershipRepository;
  users: UserRepository;
  schemas: SchemaDocument[];
  recordEvent(event: NewEvent): Promise<void>;
  now?: () => Date;
}

export type GroupService = ReturnType<typeof createGroupService>;

/** Group rules: unique names, members in their own collection (constant-time changes), versions and events. */
export function createGroupService(deps: GroupServiceDeps) {
  const { config, groups, memberships, users, schemas } = deps;
  const now = deps.now ?? (() => new Date());
  const baseUrl = scimBaseUrl(config);
  const positions = createPagePositions();
  const resolver = createResolver(schemas, {
    extensionKeys: {},
    normalized: { displayname: 'norm.displayName' },
    joins: { 'members.value': 'members.value', members: 'members.value' },
  });

  const { renderMembers, resolveMembers, membersOf, setMembers, lookUpAdded, applyMemberEdit } = createGroupMembers({
    groups,
    memberships,
    users,
    baseUrl,
  });

  async function load(id: string): Promise<StoredGroup> {
    const group = await groups.findById(id);
    if (!group) throw new NotFoundError(`Group ${id} not found`);
    return group;
  }

  async function render(group: StoredGroup, projection: Projection): Promise<ScimResource> {
    const members = wants(projection, 'members', schemas)
      ? await renderMembers(await memberships.members(group._id))
      : undefined;
    return projectResource(toScimGroup(group, baseUrl, members), schemas, projection);
  }

  function duplicate(err: unknown): never {
    if (err instanceof DuplicateGroupError)
      throw new ConflictError(`A group named "${err.message}" already exists`, { scimType: 'uniqueness' });
    throw err;
  }

  async function record(
    type: 'group_create' | 'group_update' | 'group_delete',
    group: StoredGroup,
    actor: Actor,
    changes?: NewEvent['changes'],
  ) {
    await deps.recordEvent({
      type,
      resource: { type: 'Group', id: group._id, username: group.displayName },
      initiatedBy: actor,
      ...(changes?.length ? { changes } : {}),
    });
  }

  /** Writes displayName/externalId with optimistic concurrency. */
  async function writeOwnFields(id: string, ctx: GroupWriteContext, build: (current: StoredGroup) => ScimResource) {
    const result = await retryLostRaces(async () => {
      const before = await load(id);
      checkIfMatch(ctx.ifMatch, before.meta.version);
      const resource = build(before);
      const after: StoredGroup = {
        _id: before._id,
        ...groupContent(resource),
        meta: { created: before.meta.created, lastModified: now(), version: before.meta.version + 1 },
      };
      if (await groups.replace(before, after).catch(duplicate)) return { before, after };
      if (ctx.ifMatch) throw new PreconditionFailedError('The group changed while it was being updated');
      return LOST_RACE;
    });
    if (result === LOST_RACE) throw new ConflictError('The group is being changed by others; retry');
    return result;
  }

  function fieldChanges(before: StoredGroup, after: StoredGroup) {
    const changes: NonNullable<NewEvent['changes']> = [];
    if (before.displayName !== after.displayName)
      changes.push({ field: 'displayName', from: before.displayName, to: after.displayName });
    if (before.externalId !== after.externalId)
      changes.push({ field: 'externalId', from: before.externalId, to: after.externalId });
    return changes;
  }

  /** A change of the group: its own fields (PATCH operations) written first, then its member edits, one event. */
  async function change(
    id: string,
    ctx: GroupWriteContext,
    fieldOps: PatchOperation[],
    edits: MemberEdit[],
    projection: Projection,
    respond: boolean,
  ) {
    // New members are looked up while the group is read (one round trip less).
    const newMembers = edits.map((edit) => lookUpAdded(edit, id));
    let group = await load(id);
    checkIfMatch(ctx.ifMatch, group.meta.version);
    let changes: NewEvent['changes'] = [];
    if (fieldOps.length) {
      const result = await writeOwnFields(id, ctx, (current) => {
        const existing = toScimGroup(current, baseUrl);
        const patched = applyPatch(existing, fieldOps, schemas, (filter) => compileMatcher(filter, resolver));
        return validateResource(patched, { schemas, mode: 'replace', existing });
      });
      group = result.after;
      changes = fieldChanges(result.before, result.after);
    }
    let added = 0;
    let removed = 0;
    for (const [i, edit] of edits.entries()) {
      const r = await applyMemberEdit(group, edit, newMembers[i]);
      added += r.added;
      removed += r.removed;
    }
    if (added || removed) {
      group = (await groups.touch(id, now())) ?? group;
      changes.push({ field: 'members', from: { removed }, to: { added } });
    }
    if (changes.length) await record('group_update', group, ctx.actor, changes);
    return { group, resource: respond ? await render(group, projection) : undefined };
  }

  return {
    schemas,
    load,
    render,
    version: (id: string) => groups.version(id),

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
      return { group, resource: await render(group, projection), location: `${baseUrl}/Groups/${group._id}` };
    },

    /**
     * GET /Groups/{id} with every attribute, as JSON text written while the members are read: a
     * batch of members (and their display names) at a time, so a 100k-member group is never held
     * in memory as one document.
     */
    async getStreamed(id: string): Promise<{ group: StoredGroup; chunks: AsyncIterable<string> }> {
      const group = await load(id);
      const head = JSON.stringify(projectResource(toScimGroup(group, baseUrl), schemas, {}));
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

    async replace(id: string, input: unknown, ctx: GroupWriteContext, projection: Projection = {}) {
      const resource = validateResource(input, { schemas, mode: 'replace' });
      const wanted = await resolveMembers(membersOf(resource), id);
      const { before, after } = await writeOwnFields(id, ctx, () => resource);
      const { added, removed } = await setMembers(after, wanted);
      const final = added || removed ? ((await groups.touch(id, now())) ?? after) : after;
      await record('group_update', final, ctx.actor, fieldChanges(before, after));
      return { group: final, resource: await render(final, projection) };
    },

    async patch(id: string, body: unknown, ctx: GroupWriteContext, projection: Projection = {}, respond = true) {
      const { members, others } = partitionMembersOperations(parsePatchRequest(body));
      const edits = members.map((op) => memberEditOf(op, resolver));
      return change(id, ctx, others, edits, projection, respond);
    },

    /** /GroupMembers: one member added by the rules, version and event of a PATCH adding it. */
    addMember(groupId: string, memberId: string, ctx: GroupWriteContext) {
      return change(groupId, ctx, [], [{ kind: 'add', members: [{ value: memberId }] }], {}, false);
    },

    /** /GroupMembers: one member removed by the rules, version and event of a PATCH removing it. */
    removeMember(groupId: string, memberId: string, ctx: GroupWriteContext) {
      return change(groupId, ctx, [], [{ kind: 'remove', ids: [memberId] }], {}, false);
    },

    async delete(id: string, ctx: GroupWriteContext) {
      const group = await load(id);
      checkIfMatch(ctx.ifMatch, group.meta.version);
      await groups.delete(id);
      await memberships.removeGroup(id);
      await record('group_delete', group, ctx.actor);
    },

    list(raw: Record<string, unknown>) {
      return listResources({
        raw,
        limits: config.scim,
        collection: groups.collection,
        positions,
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
              toScimGroup(g, baseUrl, withMembers ? await renderMembers(await memberships.members(g._id)) : undefined),
            ),
          ),
      });
    },
  };
}
