/**
 * The user service: the SCIM operations on users (create, get, list, delete here; updates in
 * updateService.ts, batches in bulkCreateService.ts). Reads and bookkeeping that are no change of
 * the user (sign-in counters, reminders) are the repository's, handed by compose/users.ts to who needs them.
 */
import { NotFoundError } from '../errors.js';
import { scimBaseUrl } from '../config/index.js';
import { idJoin } from '../db/joins.js';
import type { Env } from '../events/env.js';
import type { NewEvent } from '../events/types.js';
import { checkIfMatch } from '../scim/etag.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import { createUserBatches } from './bulkCreateService.js';
import type { GroupsOfUsers, PasswordRules, UserEffects, WriteContext } from './contracts.js';
import { createUserDocuments } from './documents.js';
import { toScimUser, type GroupRef, type StoredUser } from './mapping.js';
import type { UserRepository } from './repository.js';
import { userResolver } from './resolver.js';
import { conflictFor, createUserUpdates, uniquenessError, userEvent } from './updateService.js';

export type { GroupsOfUsers, PasswordRules, UserEffects, WriteContext } from './contracts.js';

export interface UserServiceDeps {
  /** Clock, event recorder, configuration (src/events/env.ts). */
  env: Env;
  users: UserRepository;
  /** The users' groups, served by src/groups. */
  groups: GroupsOfUsers;
  schemas: SchemaDocument[];
  recordEvents(events: NewEvent[]): Promise<void>;
  passwords: PasswordRules;
  /** What follows each write (the lifecycle's, built before this service and handed in). */
  effects?: UserEffects;
}

export type UserService = ReturnType<typeof createUserService>;

/** The user rules: validation, uniqueness, state, passwords, versions and events around the repository. */
export function createUserService(deps: UserServiceDeps) {
  const { users, groups, schemas } = deps;
  const { config, now, recordEvent } = deps.env;
  const baseUrl = () => scimBaseUrl(config);
  const resolver = userResolver(schemas);
  const { groupsOf, groupsOfMany } = groups;
  const documents = createUserDocuments({ config, passwords: deps.passwords, baseUrl, now });

  /** `knownGroups`: the caller already has them (a new user has none). */
  async function render(user: StoredUser, projection: Projection, knownGroups?: GroupRef[]): Promise<ScimResource> {
    const groupRefs = wants(projection, 'groups', schemas) ? (knownGroups ?? (await groupsOf(user._id))) : undefined;
    return projectResource(toScimUser(user, baseUrl(), groupRefs), schemas, projection);
  }

  async function load(id: string): Promise<StoredUser> {
    const user = await users.findById(id);
    if (!user) throw new NotFoundError(`User ${id} not found`);
    return user;
  }

  const kit = { ...deps, users, schemas, baseUrl, documents, now, recordEvent, load };
  const updates = createUserUpdates(kit);
  const batches = createUserBatches(kit);

  return {
    schemas,
    render,
    load,
    ...batches,
    modify: updates.modify,
    replaceRead: updates.replaceRead,

    async create(
      input: unknown,
      ctx: WriteContext,
      projection: Projection = {},
    ): Promise<{ user: StoredUser; resource: ScimResource; location: string }> {
      const resource = validateResource(input, { schemas, mode: 'create' });
      const user = await documents.buildDocument(resource, undefined, ctx);
      if (ctx.dryRun) {
        const duplicate = await users.findDuplicate(user);
        if (duplicate) throw conflictFor(duplicate);
      } else {
        await users.insert(user).catch(uniquenessError);
        await recordEvent(userEvent('user_create', user, ctx));
        await deps.effects?.afterCreate(user, ctx);
      }
      return { user, resource: await render(user, projection, []), location: `${baseUrl()}/Users/${user._id}` };
    },

    async get(id: string, projection: Projection = {}): Promise<{ user: StoredUser; resource: ScimResource }> {
      // The user and its memberships are read at the same time.
      const [user, refs] = await Promise.all([
        load(id),
        wants(projection, 'groups', schemas) ? groupsOf(id) : Promise.resolve(undefined),
      ]);
      return { user, resource: await render(user, projection, refs) };
    },

    /** `changed` is false when the write changed nothing (only with ctx.skipUnchanged). */
    async replace(id: string, input: unknown, ctx: WriteContext, projection: Projection = {}) {
      const { before, after, recorded } = await updates.replace(id, input, ctx);
      // The answer's group lookup does not wait for the event's write (one round trip less).
      const [, resource] = await Promise.all([recorded, render(after, projection)]);
      return { user: after, resource, changed: after !== before };
    },

    async patch(id: string, body: unknown, ctx: WriteContext, projection: Projection = {}) {
      const { after, recorded } = await updates.patch(id, body, ctx);
      const [, resource] = await Promise.all([recorded, render(after, projection)]);
      return { user: after, resource };
    },

    async delete(id: string, ctx: WriteContext): Promise<void> {
      const user = await load(id);
      checkIfMatch(ctx.ifMatch, user.meta.version);
      await groups.removeFromAll(user._id);
      if (!(await users.delete(user))) throw new NotFoundError(`User ${id} not found`);
      await recordEvent(userEvent('user_delete', user, ctx));
      await deps.effects?.afterDelete(user, ctx);
    },

    list(raw: Record<string, unknown>) {
      return users.list({
        raw,
        limits: config.scim,
        schemas,
        resolver,
        joins: {
          'groups.value': idJoin(groups.memberIdsOf, groups.userIdsInAnyGroup),
        },
        related: 'groups',
        // Groups are read in one batch per page, and only when returned or needed by the filter.
        toScim: async (docs, withGroups) => {
          const refs = withGroups ? await groupsOfMany(docs.map((d) => d._id)) : undefined;
          return docs.map((d) => toScimUser(d, baseUrl(), refs?.get(d._id)));
        },
      });
    },
  };
}
