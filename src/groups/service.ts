import { newId } from '../db/ids.js';
import { ConflictError, InvalidError, NotFoundError, PreconditionFailedError } from '../errors.js';
import { scimBaseUrl, type Config } from '../config/index.js';
import { idJoin } from '../db/joins.js';
import { createPagePositions, listResources } from '../db/listing.js';
import type { Actor, NewEvent } from '../events/types.js';
import { checkIfMatch } from '../scim/etag.js';
import { compileFilter } from '../scim/filter.js';
import { applyPatch, parsePatchRequest, partitionMembersOperations, type PatchOperation } from '../scim/patch.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import { createResolver } from '../scim/resolver.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import type { UserRepository } from '../users/repository.js';
import { LOST_RACE, retryLostRaces } from '../db/retry.js';
import type { Membership, MembershipRepository } from './memberships.js';
import { groupContent, toScimGroup } from './mapping.js';
import { DuplicateGroupError, type GroupRepository, type StoredGroup } from './repository.js';

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

interface MemberInput {
  value: string;
  type?: string;
}

export type GroupService = ReturnType<typeof createGroupService>;

const SIMPLE_MEMBER_FILTER = /^\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

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

  async function load(id: string): Promise<StoredGroup> {
    const group = await groups.findById(id);
    if (!group) throw new NotFoundError(`Group ${id} not found`);
    return group;
  }

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

  async function render(group: StoredGroup, projection: Projection): Promise<ScimResource> {
    const members = wants(projection, 'members', schemas)
      ? await renderMembers(await memberships.members(group._id))
      : undefined;
    return projectResource(toScimGroup(group, baseUrl, members), schemas, projection);
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

  /** Applies the PATCH operations that target `members` directly to the membership collection. */
  async function applyMemberOperation(group: StoredGroup, op: PatchOperation) {
    const values = (v: unknown): MemberInput[] => {
      const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
      return list.map((m) => {
        if (typeof m === 'string') return { value: m };
        if (typeof m !== 'object' || m === null || typeof (m as MemberInput).value !== 'string') {
          throw new InvalidError('Each member needs a "value" (the member id)', { scimType: 'invalidValue' });
        }
        return m as MemberInput;
      });
    };
    const filter = op.path?.filter;
    if (op.path?.subAttribute)
      throw new InvalidError('Member sub-attributes cannot be changed', { scimType: 'mutability' });
    if (op.op === 'add') {
      if (filter) throw new InvalidError('add on members takes no filter', { scimType: 'invalidPath' });
      return {
        added: await memberships.addMembers(group._id, await resolveMembers(values(op.value), group._id)),
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

  return {
    schemas,
    load,
    render,

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
      const operations = parsePatchRequest(body);
      const { members: memberOps, others: fieldOps } = partitionMembersOperations(operations);
      let group = await load(id);
      checkIfMatch(ctx.ifMatch, group.meta.version);
      let changes: NewEvent['changes'] = [];
      if (fieldOps.length) {
        const result = await writeOwnFields(id, ctx, (current) => {
          const existing = toScimGroup(current, baseUrl);
          const patched = applyPatch(existing, fieldOps, schemas, (element, filter) =>
            compileFilter(filter, resolver).matches(element),
          );
          return validateResource(patched, { schemas, mode: 'replace', existing });
        });
        group = result.after;
        changes = fieldChanges(result.before, result.after);
      }
      let added = 0;
      let removed = 0;
      for (const op of memberOps) {
        const r = await applyMemberOperation(group, op);
        added += r.added;
        removed += r.removed;
      }
      if (added || removed) {
        group = (await groups.touch(id, now())) ?? group;
        changes.push({ field: 'members', from: { removed }, to: { added } });
      }
      if (changes.length) await record('group_update', group, ctx.actor, changes);
      return { group, resource: respond ? await render(group, projection) : undefined };
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
