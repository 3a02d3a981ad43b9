import { newId } from '../db/ids.js';
import {
  ConflictError,
  InvalidError,
  isRefusal,
  NotFoundError,
  PreconditionFailedError,
  type Refusal,
} from '../errors.js';
import { scimBaseUrl, type Config } from '../config/index.js';
import { LOST_RACE, retryLostRaces } from '../db/retry.js';
import { idJoin } from '../db/joins.js';
import { createPagePositions, listResources } from '../db/listing.js';
import { userResource, type Actor, type EventChange, type NewEvent } from '../events/types.js';
import type { MembershipRepository } from '../groups/memberships.js';
import type { GroupRepository } from '../groups/repository.js';
import { initialLifecycle, updatedLifecycle, type LifecycleInput } from '../lifecycle/rules.js';
import { checkIfMatch } from '../scim/etag.js';
import { compileFilter, type AttributeResolver } from '../scim/filter.js';
import { applyPatch, parsePatchRequest } from '../scim/patch.js';
import { projectResource, wants, type Projection } from '../scim/projection.js';
import { createResolver } from '../scim/resolver.js';
import { SCHEMA_URNS, type SchemaDocument } from '../scim/schemaRegistry.js';
import { isEmailAddress, validateResource, type ScimResource } from '../scim/validate.js';
import {
  normalizedFields,
  storedContent,
  toScimUser,
  type GroupRef,
  type StoredUser,
  type UserSource,
} from './mapping.js';
import { DuplicateError, VersionConflictError, type UserRepository } from './repository.js';

export interface WriteContext {
  actor: Actor;
  /** The token's source category: decides the default state of new users. */
  source: UserSource;
  /** false: no email for this write's transition (CSV import, admin choice). */
  sendEmail?: boolean;
  /** Where this write's email goes ("company", "alternate" or an address); used once, never stored. */
  destination?: string;
  ifMatch?: string;
  /**
   * Judge the write as it would be made (validation, lifecycle rules, password policy, uniqueness)
   * and write nothing: no document, event, email or schedule. The CSV import's dry run.
   */
  dryRun?: boolean;
  /** A replace that would change nothing (see changesBetween) writes nothing, not even a new version. */
  skipUnchanged?: boolean;
}

/** Lifecycle behaviour around user writes (emails, schedules, state events); see src/lifecycle. */
export interface UserEffects {
  afterCreate(user: StoredUser, ctx: WriteContext): Promise<void>;
  afterUpdate(before: StoredUser, after: StoredUser, ctx: WriteContext): Promise<void>;
  afterDelete(user: StoredUser, ctx: WriteContext): Promise<void>;
}

export interface PasswordRules {
  hash(password: string): Promise<string>;
  /** Whether the password is the one the stored hash was made from. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
  /** A human message when the password breaks the policy. */
  check(password: string, user: { userName: string; emails: string[] }): string | undefined;
}

export interface UserServiceDeps {
  config: Config;
  users: UserRepository;
  groups: GroupRepository;
  memberships: MembershipRepository;
  schemas: SchemaDocument[];
  recordEvent(event: NewEvent): Promise<void>;
  recordEvents(events: NewEvent[]): Promise<void>;
  passwords: PasswordRules;
  effects?: UserEffects;
  now?: () => Date;
}

export type UserService = ReturnType<typeof createUserService>;

export function userResolver(schemas: SchemaDocument[]): AttributeResolver {
  return createResolver(schemas, {
    extensionKeys: { [SCHEMA_URNS.enterprise]: 'enterprise', [SCHEMA_URNS.lifecycle]: 'lifecycle' },
    normalized: { username: 'norm.userName', 'emails.value': 'norm.emails', emails: 'norm.emails' },
    joins: { 'groups.value': 'groups.value', groups: 'groups.value' },
    computed: {
      active: (op, value) => {
        const wanted = value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
        if (op === 'pr') return {};
        if (op !== 'eq' && op !== 'ne')
          throw new InvalidError('"active" supports eq, ne and pr', { scimType: 'invalidFilter' });
        const active = op === 'eq' ? wanted : !wanted;
        return active ? { 'lifecycle.state': 'ACTIVE' } : { 'lifecycle.state': { $ne: 'ACTIVE' } };
      },
    },
  });
}

/** The user rules: validation, uniqueness, state, passwords, versions and events around the repository. */
export function createUserService(deps: UserServiceDeps) {
  const { config, users, groups, memberships, schemas } = deps;
  const now = deps.now ?? (() => new Date());
  const baseUrl = scimBaseUrl(config);
  const positions = createPagePositions();
  const resolver = userResolver(schemas);

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

  const groupsOf = async (userId: string) => (await groupsOfMany([userId])).get(userId)!;

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

  function lifecycleInput(resource: ScimResource): LifecycleInput {
    return {
      active: typeof resource.active === 'boolean' ? resource.active : undefined,
      extension: resource[SCHEMA_URNS.lifecycle] as LifecycleInput['extension'],
    };
  }

  function checkEmails(resource: ScimResource, alternate?: string) {
    for (const email of (resource.emails as { value?: unknown }[] | undefined) ?? []) {
      if (typeof email?.value === 'string' && !isEmailAddress(email.value))
        throw new InvalidError(`"${email.value}" is not an email address (one plain address)`, {
          scimType: 'invalidValue',
        });
    }
    if (alternate !== undefined && !isEmailAddress(alternate)) {
      throw new InvalidError(`alternateEmail "${alternate}" is not an email address`, { scimType: 'invalidValue' });
    }
  }

  async function passwordFields(resource: ScimResource, current: StoredUser['secret'], ctx: WriteContext) {
    const password = resource.password;
    if (password === undefined) return undefined;
    if (typeof password !== 'string')
      throw new InvalidError('"password" must be a string', { scimType: 'invalidValue' });
    // The same password again is no change (checked first: it passed the policy when it was set).
    if (ctx.skipUnchanged && (await deps.passwords.verify(password, current?.passwordHash))) return undefined;
    const emails = ((resource.emails as { value: string }[] | undefined) ?? []).map((e) => e.value);
    const problem = deps.passwords.check(password, { userName: String(resource.userName), emails });
    if (problem) throw new InvalidError(`password: ${problem}`, { scimType: 'invalidValue' });
    // A dry run is not worth a hash (scrypt is slow on purpose): any value that differs from the stored hash.
    const passwordHash = ctx.dryRun ? `dry-run:${newId()}` : await deps.passwords.hash(password);
    return { ...current, passwordHash, passwordSetAt: now(), failedLogins: 0 };
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

  /** Validated SCIM input -> the next stored document (shared by create, replace and patch). */
  async function buildDocument(
    resource: ScimResource,
    before: StoredUser | undefined,
    ctx: WriteContext,
  ): Promise<StoredUser> {
    const at = now();
    const input = lifecycleInput(resource);
    const lifecycle = before ? updatedLifecycle(before.lifecycle, input) : initialLifecycle(input, ctx.source, config);
    checkEmails(resource, lifecycle.alternateEmail);
    const secret = await passwordFields(resource, before?.secret, ctx);
    if (secret) lifecycle.passwordStatus = 'ACTIVE';
    if (lifecycle.state === 'ACTIVE' && before?.lifecycle.state !== 'ACTIVE') lifecycle.activatedAt = at;
    const content = storedContent(resource);
    const doc: StoredUser = {
      _id: before?._id ?? newId(),
      ...content,
      lifecycle,
      ...((secret ?? before?.secret) ? { secret: secret ?? before?.secret } : {}),
      norm: normalizedFields({ ...content, lifecycle }),
      meta: before
        ? { created: before.meta.created, lastModified: at, version: before.meta.version + 1 }
        : { created: at, lastModified: at, version: 1 },
    };
    return doc;
  }

  function changesBetween(before: StoredUser, after: StoredUser): EventChange[] {
    const a = withoutRefs(toScimUser(before, baseUrl, undefined));
    const b = withoutRefs(toScimUser(after, baseUrl, undefined));
    const changes: EventChange[] = [];
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (key === 'meta' || key === 'schemas') continue;
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) changes.push({ field: key, from: a[key], to: b[key] });
    }
    if (before.secret?.passwordHash !== after.secret?.passwordHash)
      changes.push({ field: 'password', from: '[hidden]', to: '[hidden]' });
    return changes;
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
     * Many creates in a few writes (SCIM /Bulk): each input is validated and built as by create();
     * claims, users and events are written in batches. Returns per input the user or its error.
     */
    async createMany(inputs: unknown[], ctx: WriteContext): Promise<(StoredUser | Refusal)[]> {
      const built: (StoredUser | Refusal)[] = [];
      for (const input of inputs) {
        try {
          built.push(await buildDocument(validateResource(input, { schemas, mode: 'create' }), undefined, ctx));
        } catch (err) {
          if (!isRefusal(err)) throw err;
          built.push(err);
        }
      }
      const docs = built.filter((b): b is StoredUser => !isRefusal(b));
      const refused = await users.insertMany(docs);
      const created: StoredUser[] = [];
      const outcome = new Map<StoredUser, Refusal | undefined>();
      docs.forEach((doc, i) => {
        const err = refused[i];
        outcome.set(doc, err ? conflictFor(err) : undefined);
        if (!err) created.push(doc);
      });
      await deps.recordEvents(
        created.map((user) => ({
          type: 'user_create' as const,
          resource: { type: 'User' as const, id: user._id, username: user.userName },
          initiatedBy: ctx.actor,
        })),
      );
      for (const user of created) await deps.effects?.afterCreate(user, ctx);
      return built.map((b) => (isRefusal(b) ? b : (outcome.get(b) ?? b)));
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
      const { before, after } = await writeLoop(id, ctx, async (current) => {
        const existing = toScimUser(current, baseUrl, undefined);
        const resource = validateResource(input, { schemas, mode: 'replace', existing });
        const next = await buildDocument(resource, current, ctx);
        return ctx.skipUnchanged && !changesBetween(current, next).length ? null : next;
      });
      await afterUpdate(before, after, ctx);
      return { user: after, resource: await render(after, projection), changed: after !== before };
    },

    async patch(id: string, body: unknown, ctx: WriteContext, projection: Projection = {}) {
      const operations = parsePatchRequest(body);
      const { before, after } = await writeLoop(id, ctx, async (current) => {
        const existing = toScimUser(current, baseUrl, undefined);
        const patched = applyPatch(existing, operations, schemas, (element, filter) =>
          compileFilter(filter, elementResolver).matches(element),
        );
        const resource = validateResource(patched, { schemas, mode: 'replace', existing });
        return buildDocument(resource, current, ctx);
      });
      await afterUpdate(before, after, ctx);
      return { user: after, resource: await render(after, projection) };
    },

    async delete(id: string, ctx: WriteContext): Promise<void> {
      const user = await load(id);
      checkIfMatch(ctx.ifMatch, user.meta.version);
      const groupIds = await memberships.removeMemberEverywhere(user._id);
      for (const groupId of groupIds) await groups.touch(groupId, now());
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
          'groups.value': idJoin(
            (groupId) => memberships.memberIdsOf([groupId]),
            () => memberships.userIdsInAnyGroup(),
          ),
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
    takeLoginAttempt: (id: string, maxAttempts: number) => users.takeLoginAttempt(id, maxAttempts),
    lock: (id: string) => users.lock(id, now()),
    unlockExpired: (id: string, lockedBefore: Date) => users.unlockExpired(id, lockedBefore, now()),
    candidatesForReminder: (cutoff: Date) => users.reminderCandidates(cutoff),
  };
}

/** Event values are stored documents: keys such as "$ref" cannot be stored, and are derived anyway. */
function withoutRefs(value: ScimResource): ScimResource {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === '$ref' ? undefined : v))) as ScimResource;
}

/** Resolves attribute names inside a value filter applied to one element (PATCH paths like emails[type eq "work"]). */
const elementResolver: AttributeResolver = ({ attribute, subAttribute }) => ({
  field: subAttribute ? `${attribute}.${subAttribute}` : attribute,
  type: attribute.toLowerCase() === 'primary' ? 'boolean' : 'string',
  caseExact: false,
  multiValued: false,
});
