/**
 * Changes of an existing group: PUT, PATCH, /GroupMembers' single edits, and members the CSV import
 * added. The group is read once and `If-Match` checked once (db/versionedWrite.ts); its own fields
 * and the version bump are one write; members are their own documents (membershipRepository.ts),
 * and a change of members alone bumps the version with one `$inc`; one event per change.
 */
import { versionedWrite } from '../db/versionedWrite.js';
import { ConflictError } from '../errors.js';
import type { Actor, NewEvent } from '../events/types.js';
import { compileMatcher, type AttributeResolver } from '../scim/filterCheck.js';
import { applyPatch } from '../scim/patchApply.js';
import { parsePatchRequest, type PatchOperation } from '../scim/patchParse.js';
import type { Projection } from '../scim/projection.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import { memberEditOf, partitionMembersOperations, type createGroupMembers, type MemberEdit } from './memberPatch.js';
import { groupContent, toScimGroup, type StoredGroup } from './mapping.js';
import { DuplicateGroupError, type GroupRepository } from './repository.js';

export interface GroupWriteContext {
  actor: Actor;
  ifMatch?: string;
}

/** What the group service hands its changes. */
export interface GroupChangeKit {
  groups: GroupRepository;
  schemas: SchemaDocument[];
  baseUrl: () => string;
  resolver: AttributeResolver;
  members: ReturnType<typeof createGroupMembers>;
  now: () => Date;
  load(id: string): Promise<StoredGroup>;
  render(group: StoredGroup, projection: Projection): Promise<ScimResource>;
  record(...args: Parameters<typeof groupEvent>): Promise<void>;
}

/** A unique display name taken: 409 `uniqueness`. */
export function duplicate(err: unknown): never {
  if (err instanceof DuplicateGroupError)
    throw new ConflictError(`A group named "${err.message}" already exists`, { scimType: 'uniqueness' });
  throw err;
}

export function groupEvent(
  type: 'group_create' | 'group_update' | 'group_delete',
  group: StoredGroup,
  actor: Actor,
  changes?: NewEvent['changes'],
  details?: Record<string, unknown>,
): NewEvent {
  return {
    type,
    resource: { type: 'Group', id: group._id, username: group.displayName },
    initiatedBy: actor,
    ...(changes?.length ? { changes } : {}),
    ...(details ? { details } : {}),
  };
}

export function createGroupChanges(kit: GroupChangeKit) {
  const { groups, schemas, baseUrl, resolver, now, load, render, record } = kit;
  const { resolveMembers, membersOf, setMembers, lookUpAdded, applyMemberEdit } = kit.members;

  /**
   * The group read once, `If-Match` checked once, and its own fields (displayName/externalId) written
   * once with the version bump, on the version read (db/versionedWrite.ts); no `build`: read and checked only.
   */
  function writeOwnFields(id: string, ctx: GroupWriteContext, build?: (current: StoredGroup) => ScimResource) {
    return versionedWrite<StoredGroup>({
      load: () => load(id),
      ifMatch: ctx.ifMatch,
      noun: 'group',
      apply: async (before) =>
        build
          ? {
              _id: before._id,
              ...groupContent(build(before)),
              meta: { created: before.meta.created, lastModified: now(), version: before.meta.version + 1 },
            }
          : null,
      write: (before, after) => groups.replace(before, after).catch(duplicate),
    });
  }

  /** The group's version bumped for a member change, unless its fields' write just did (one write per change). */
  async function membersChanged(group: StoredGroup, written: boolean): Promise<StoredGroup> {
    return written ? group : ((await groups.touch(group._id, now())) ?? group);
  }

  const memberChange = (added: number, removed: number) => ({ field: 'members', from: { removed }, to: { added } });

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
    const { before, after } = await writeOwnFields(
      id,
      ctx,
      fieldOps.length
        ? (current) => {
            const existing = toScimGroup(current, baseUrl());
            const patched = applyPatch(existing, fieldOps, schemas, (filter) => compileMatcher(filter, resolver));
            return validateResource(patched, { schemas, mode: 'replace', existing });
          }
        : undefined,
    );
    let group = after;
    const changes = fieldChanges(before, after);
    let added = 0;
    let removed = 0;
    for (const [i, edit] of edits.entries()) {
      const r = await applyMemberEdit(group, edit, newMembers[i]);
      added += r.added;
      removed += r.removed;
    }
    if (added || removed) {
      group = await membersChanged(group, after !== before);
      changes.push(memberChange(added, removed));
    }
    if (changes.length) await record('group_update', group, ctx.actor, changes);
    return { group, resource: respond ? await render(group, projection) : undefined };
  }

  return {
    async replace(id: string, input: unknown, ctx: GroupWriteContext, projection: Projection = {}) {
      const resource = validateResource(input, { schemas, mode: 'replace' });
      const wanted = await resolveMembers(membersOf(resource), id);
      const { before, after } = await writeOwnFields(id, ctx, () => resource);
      // The fields' write bumped the version: changed members need no second write.
      await setMembers(after, wanted);
      await record('group_update', after, ctx.actor, fieldChanges(before, after));
      return { group: after, resource: await render(after, projection) };
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

    /**
     * Members added outside a PATCH (the CSV import adds them in batches across groups): the group's
     * version bumped and one `group_update` event, as a PATCH adding them records.
     */
    async membersAdded(groupId: string, added: number, actor: Actor, details?: Record<string, unknown>) {
      const group = await groups.touch(groupId, now());
      if (group) await record('group_update', group, actor, [memberChange(added, 0)], details);
    },
  };
}
