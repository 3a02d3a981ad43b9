import { ConflictError, isRefusal, NotFoundError, PreconditionFailedError, type Refusal } from '../errors.js';
import { scimBaseUrl, type Config } from '../config/index.js';
import { LOST_RACE, retryLostRaces } from '../db/retry.js';
import { idJoin } from '../db/joins.js';
import { createPagePositions, listResources } from '../db/listing.js';
import { userResource, type EventChange, type NewEvent } from '../events/types.js';
import { checkIfMatch } from '../scim/etag.js';
import { compileMatcher } from '../scim/filterCheck.js';
import { applyPatch } from '../scim/patchApply.js';
import { parsePatchRequest } from '../scim/patchParse.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import type { GroupsOfUsers, PasswordRules, UserEffects, WriteContext } from './contracts.js';
import { createUserDocuments } from './documents.js';
import { normalizedFields, toScimUser, type GroupRef, type StoredUser } from './mapping.js';
import { DuplicateError, VersionConflictError, type UserRepository } from './repository.js';
import { elementResolver, userResolver } from './resolver.js';

export type { GroupsOfUsers, PasswordRules, UserEffects, WriteContext } from './contracts.js';

export interface UserServiceDeps {
  config: Config;
  users: UserRepository;
  /** The users' groups, served by src/groups. */
  groups: GroupsOfUsers;
  schemas: SchemaDocument[];
  recordEvent(event: NewEvent): Promise<void>;
  recordEvents(events: NewEvent[]): Promise<void>;
  passwords: PasswordRules;
  effects?: UserEffects;
  now?: () => Date;
}

export type UserService = ReturnType<typeof createUserService>;

/** The user rules: validation, uniqueness, state, passwords, versions and events around the repository. */
export function createUserService(deps: UserServiceDeps) {
  const { config, users, groups, schemas } = deps;
  const now = deps.now ?? (() => new Date());
  const baseUrl = scimBaseUrl(config);
  const positions = createPagePositions();
  const resolver = userResolver(schemas);
  const { groupsOf, groupsOfMany } = groups;
  const { buildDocument, changesBetween } = createUserDocuments({ config, passwords: deps.passwords, baseUrl, now });

  /** `knownGroups`: the caller already has them (a new user has none). */
  async function render(user: StoredUser, projection: Projection, knownGroups?: GroupRef[]): Promise<ScimResource> {
    const groupRefs = wants(projection, 'groups', schemas) ? (knownGroups ?? (await groupsOf(user._id))) : undefined;
    return projectResource(toScimUser(user, baseUrl, groupRefs), schemas, projection);
  }

  async function load(id: string): Promise<StoredUser> {
    const user = await users.findById(id);
    if (!user) throw new NotFoundError(`User ${id} not found`);
    return user;
  }

  function conflictFor(err: DuplicateError): ConflictError {
    const message =
      err.field === 'userName' ? `userName "${err.value}" is already taken` : `Email ${err.value} is already in use`;
    return new ConflictError(message, { scimType: 'uniqueness' });
  }

  function uniquenessError(err: unknown): never {
    if (err instanceof DuplicateError) throw conflictFor(err);
    throw err;
  }

  async function recordUserEvent(
    type: 'user_create' | 'user_update' | 'user_delete',
    user: StoredUser,
    ctx: WriteContext,
    changes?: EventChange[],
  ) {
    await deps.recordEvent({
      type,
      resource: userResource(user),
      initiatedBy: ctx.actor,
      ...(changes ? { changes } : {}),
    });
  }

  /** Runs read-modify-write with optimistic concurrency; a lost race is retried unless the client pinned a version. */
  async function writeLoop(
    id: string,
    ctx: WriteContext,
    build: (before: StoredUser) => Promise<StoredUser | null>,
  ): Promise<{ before: StoredUser; after: StoredUser }> {
    const result = await retryLostRaces(async () => {
      const before = await load(id);
      checkIfMatch(ctx.ifMatch, before.meta.version);
      const after = await build(before);
      if (!after) return { before, after: before }; // nothing to change
      if (ctx.dryRun) {
        const duplicate = await users.findDuplicate(after, before);
        if (duplicate) throw conflictFor(duplicate);
        return { before, after };
      }
      try {
        await users.replace(before, after);
        return { before, after };
      } catch (err) {
        if (!(err instanceof VersionConflictError)) return uniquenessError(err);
        if (ctx.ifMatch) throw new PreconditionFailedError('The resource changed while it was being updated');
        return LOST_RACE;
      }
    });
    if (result === LOST_RACE) throw new ConflictError('The resource is being changed by others; retry');
    return result;
  }

  async function afterUpdate(before: StoredUser, after: StoredUser, ctx: WriteContext) {
    if (after === before || ctx.dryRun) return;
    const changes = changesBetween(before, after);
    if (changes.length) await recordUserEvent('user_update', after, ctx, changes);
    await deps.effects?.afterUpdate(before, after, ctx);
  }

  /** createMany's first half, which touches no database: validated and built documents, or refusals. */
  async function prepareMany(inputs: unknown[], ctx: WriteContext): Promise<(StoredUser | Refusal)[]> {
    const built: (StoredUser | Refusal)[] = [];
    for (const input of inputs) {
      try {
        built.push(await buildDocument(validateResource(input, { schemas, mode: 'create' }), undefined, ctx));
      } catch (err) {
        if (!isRefusal(err)) throw err;
        built.push(err);
      }
    }
    return built;
  }

  /**
   * createMany's second half: writes what prepareMany built (refusals pass through). Returns once
   * the users are written; `recorded` settles when their events and effects are too, so a caller
   * may write its next batch of users meanwhile (it must handle `recorded`'s failure).
   */
  async function writeMany(
    built: (StoredUser | Refusal)[],
    ctx: WriteContext,
  ): Promise<{ outcomes: (StoredUser | Refusal)[]; recorded: Promise<void> }> {
    const docs = built.filter((b): b is StoredUser => !isRefusal(b));
    const refused = await users.insertMany(docs);
    const created: StoredUser[] = [];
    const outcome = new Map<StoredUser, Refusal | undefined>();
    docs.forEach((doc, i) => {
      const err = refused[i];
      outcome.set(doc, err ? conflictFor(err) : undefined);
      if (!err) created.push(doc);
    });
    const recorded = (async () => {
      await deps.recordEvents(
        created.map((user) => ({
          type: 'user_create' as const,
          resource: userResource(user),
          initiatedBy: ctx.actor,
        })),
      );
      for (const user of created) await deps.effects?.afterCreate(user, ctx);
    })();
    return { outcomes: built.map((b) => (isRefusal(b) ? b : (outcome.get(b) ?? b))), recorded };
  }

  return {
    schemas,
    render,
    load,

    /** The user, or undefined when there is none; database failures propagate (they are not "missing"). */
    async find(id: string): Promise<StoredUser | undefined> {
      return (await users.findById(id)) ?? undefined;
    },

    async create(
      input: unknown,
      ctx: WriteContext,
      projection: Projection = {},
    ): Promise<{ user: StoredUser; resource: ScimResource; location: string }> {
      const resource = validateResource(input, { schemas, mode: 'create' });
      const user = await buildDocument(resource, undefined, ctx);
      if (ctx.dryRun) {
        const duplicate = await users.findDuplicate(user);
        if (duplicate) throw conflictFor(duplicate);
        return { user, resource: await render(user, projection, []), location: `${baseUrl}/Users/${user._id}` };
      }
      await users.insert(user).catch(uniquenessError);
      await recordUserEvent('user_create', user, ctx);
      await deps.effects?.afterCreate(user, ctx);
      return { user, resource: await render(user, projection, []), location: `${baseUrl}/Users/${user._id}` };
    },

    /**
     * Many creates in a few writes (SCIM /Bulk, CSV import): each input is validated and built as by
     * create(); claims, users and events are written in batches. Per input, the user or its error.
     */
    async createMany(inputs: unknown[], ctx: WriteContext): Promise<(StoredUser | Refusal)[]> {
      const { outcomes, recorded } = await writeMany(await prepareMany(inputs, ctx), ctx);
      await recorded;
      return outcomes;
    },

    prepareMany,
    writeMany,

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
      const { before, after } = await writeLoop(id, ctx, async (current) => {
        const existing = toScimUser(current, baseUrl, undefined);
        const resource = validateResource(input, { schemas, mode: 'replace', existing });
        const next = await buildDocument(resource, current, ctx);
        return ctx.skipUnchanged && !changesBetween(current, next).length ? null : next;
      });
      const [, resource] = await Promise.all([afterUpdate(before, after, ctx), render(after, projection)]);
      return { user: after, resource, changed: after !== before };
    },

    async patch(id: string, body: unknown, ctx: WriteContext, projection: Projection = {}) {
      const operations = parsePatchRequest(body);
      const { before, after } = await writeLoop(id, ctx, async (current) => {
        const existing = toScimUser(current, baseUrl, undefined);
        const patched = applyPatch(existing, operations, schemas, (filter) => compileMatcher(filter, elementResolver));
        const resource = validateResource(patched, { schemas, mode: 'replace', existing });
        return buildDocument(resource, current, ctx);
      });
      // The answer's group lookup does not wait for the event's write (one round trip less).
      const [, resource] = await Promise.all([afterUpdate(before, after, ctx), render(after, projection)]);
      return { user: after, resource };
    },

    async delete(id: string, ctx: WriteContext): Promise<void> {
      const user = await load(id);
      checkIfMatch(ctx.ifMatch, user.meta.version);
      await groups.removeFromAll(user._id);
      if (!(await users.delete(user))) throw new NotFoundError(`User ${id} not found`);
      await recordUserEvent('user_delete', user, ctx);
      await deps.effects?.afterDelete(user, ctx);
    },

    list(raw: Record<string, unknown>) {
      return listResources({
        raw,
        limits: config.scim,
        collection: users.collection,
        positions,
        schemas,
        resolver,
        joins: {
          'groups.value': idJoin(groups.memberIdsOf, groups.userIdsInAnyGroup),
        },
        related: 'groups',
        // Groups are read in one batch per page, and only when returned or needed by the filter.
        toScim: async (docs, withGroups) => {
          const refs = withGroups ? await groupsOfMany(docs.map((d) => d._id)) : undefined;
          return docs.map((d) => toScimUser(d, baseUrl, refs?.get(d._id)));
        },
      });
    },

    /**
     * Lifecycle and admin changes (state, password, lock): `mutate` edits a copy of the stored user;
     * the write, version, events and effects (emails, schedules) are those of any other update.
     * `mutate` returns false when there is nothing to change (then nothing is written).
     */
    async modify(
      id: string,
      ctx: WriteContext,
      mutate: (user: StoredUser) => boolean | void | Promise<boolean | void>,
    ): Promise<StoredUser> {
      const { before, after } = await writeLoop(id, ctx, async (current) => {
        const next = structuredClone(current);
        if ((await mutate(next)) === false) return null;
        const at = now();
        if (next.lifecycle.state === 'ACTIVE' && current.lifecycle.state !== 'ACTIVE') next.lifecycle.activatedAt = at;
        next.norm = normalizedFields(next);
        next.meta = { created: current.meta.created, lastModified: at, version: current.meta.version + 1 };
        return next;
      });
      await afterUpdate(before, after, ctx);
      return after;
    },

    /** Bookkeeping that is no change of the user (login times, failure counters): no version bump, no event. */
    touch: (id: string, set: Record<string, unknown>) => users.setFields(id, set),
    unset: (id: string, fields: string[]) => users.setFields(id, {}, fields),
    findByUserName: (normalizedUserName: string) => users.findByUserName(normalizedUserName),
    findByUserNames: (normalizedUserNames: string[]) => users.findByUserNames(normalizedUserNames),
    takeLoginAttempt: (id: string, maxAttempts: number) => users.takeLoginAttempt(id, maxAttempts),
    lock: (id: string) => users.lock(id, now()),
    unlockExpired: (id: string, lockedBefore: Date) => users.unlockExpired(id, lockedBefore, now()),
    candidatesForReminder: (cutoff: Date) => users.reminderCandidates(cutoff),
    counts: () => users.lifecycleCounts(),
  };
}
