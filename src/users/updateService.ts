/**
 * Changes of an existing user, through one versioned write (db/versionedWrite.ts): SCIM PUT and
 * PATCH, the lifecycle's and admins' edits (`modify`), and the CSV import's update of a user it
 * already read (`replaceRead`). Each reads the user once, checks `If-Match` once, builds the next
 * document with the bookkeeping of users/documents.ts, writes it once on the version read, then
 * records the event and calls the lifecycle.
 */
import { ConflictError } from '../errors.js';
import { versionedWrite } from '../db/versionedWrite.js';
import { userResource, type EventChange, type NewEvent } from '../events/types.js';
import { compileMatcher } from '../scim/filterCheck.js';
import { applyPatch } from '../scim/patchApply.js';
import { parsePatchRequest } from '../scim/patchParse.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import { validateResource, type ScimResource } from '../scim/validate.js';
import type { UserEffects, WriteContext } from './contracts.js';
import { withBookkeeping, type createUserDocuments } from './documents.js';
import { toScimUser, type StoredUser } from './mapping.js';
import { DuplicateError, VersionConflictError } from './errors.js';
import type { UserRepository } from './repository.js';
import { elementResolver } from './resolver.js';

/** What the parts of the user service share. */
export interface UserWriteKit {
  users: UserRepository;
  schemas: SchemaDocument[];
  baseUrl: () => string;
  documents: ReturnType<typeof createUserDocuments>;
  recordEvent(event: NewEvent): Promise<void>;
  recordEvents(events: NewEvent[]): Promise<void>;
  effects?: UserEffects;
  now: () => Date;
  load(id: string): Promise<StoredUser>;
}

export function conflictFor(err: DuplicateError): ConflictError {
  const message =
    err.field === 'userName' ? `userName "${err.value}" is already taken` : `Email ${err.value} is already in use`;
  return new ConflictError(message, { scimType: 'uniqueness' });
}

export function uniquenessError(err: unknown): never {
  if (err instanceof DuplicateError) throw conflictFor(err);
  throw err;
}

export function userEvent(
  type: 'user_create' | 'user_update' | 'user_delete',
  user: StoredUser,
  ctx: WriteContext,
  changes?: EventChange[],
): NewEvent {
  return { type, resource: userResource(user), initiatedBy: ctx.actor, ...(changes ? { changes } : {}) };
}

/** The next document from the current one and its SCIM form, or null when there is nothing to change. */
type Build = (current: StoredUser, existing: ScimResource) => Promise<StoredUser | null>;

export function createUserUpdates(kit: UserWriteKit) {
  const { users, schemas, baseUrl, now } = kit;
  const { buildDocument, changesBetween } = kit.documents;

  /** One conditional write on `before`'s version (a dry run checks uniqueness and writes nothing); false: a lost race. */
  async function write(before: StoredUser, after: StoredUser, ctx: WriteContext): Promise<boolean> {
    if (ctx.dryRun) {
      const duplicate = await users.findDuplicate(after, before);
      if (duplicate) throw conflictFor(duplicate);
      return true;
    }
    try {
      await users.replace(before, after);
      return true;
    } catch (err) {
      if (err instanceof VersionConflictError) return false;
      return uniquenessError(err);
    }
  }

  /**
   * The user read once (or `current`, already read by the caller), `If-Match` checked once, `build`
   * applied, written once; then its event and the lifecycle's effects, which `recorded` awaits (an
   * answer can be rendered meanwhile). `after` is `before` when nothing was written (nothing to
   * change, or unchanged with ctx.skipUnchanged).
   */
  async function update(id: string, ctx: WriteContext, build: Build, current?: StoredUser) {
    let changes: EventChange[] = [];
    const { before, after } = await versionedWrite<StoredUser>({
      current,
      load: () => kit.load(id),
      ifMatch: ctx.ifMatch,
      noun: 'resource',
      apply: async (before) => {
        const existing = toScimUser(before, baseUrl(), undefined);
        const next = await build(before, existing);
        if (!next) return null;
        changes = changesBetween(before, next, existing);
        return ctx.skipUnchanged && !changes.length ? null : next;
      },
      write: (before, after) => write(before, after, ctx),
    });
    const recorded =
      after === before || ctx.dryRun
        ? Promise.resolve()
        : (async () => {
            if (changes.length) await kit.recordEvent(userEvent('user_update', after, ctx, changes));
            await kit.effects?.afterUpdate(before, after, ctx);
          })();
    return { before, after, recorded };
  }

  const replaceWith =
    (input: (existing: ScimResource) => unknown, ctx: WriteContext): Build =>
    (current, existing) => {
      const resource = validateResource(input(existing), { schemas, mode: 'replace', existing });
      return buildDocument(resource, current, ctx);
    };

  return {
    /** SCIM PUT: the user becomes `input`. */
    replace(id: string, input: unknown, ctx: WriteContext) {
      return update(
        id,
        ctx,
        replaceWith(() => input, ctx),
      );
    },

    /**
     * A PUT of `input(existing)` onto a user the caller already read (the CSV import: its line laid
     * over the user's SCIM form); the first attempt reads nothing again. `changed` is false when it wrote nothing.
     */
    async replaceRead(current: StoredUser, input: (existing: ScimResource) => unknown, ctx: WriteContext) {
      const { before, after, recorded } = await update(current._id, ctx, replaceWith(input, ctx), current);
      await recorded;
      return { user: after, changed: after !== before };
    },

    /** SCIM PATCH: the operations parsed once, applied to the user's SCIM form. */
    patch(id: string, body: unknown, ctx: WriteContext) {
      const operations = parsePatchRequest(body);
      return update(id, ctx, (current, existing) => {
        const patched = applyPatch(existing, operations, schemas, (filter) => compileMatcher(filter, elementResolver));
        const resource = validateResource(patched, { schemas, mode: 'replace', existing });
        return buildDocument(resource, current, ctx);
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
      const { after, recorded } = await update(id, ctx, async (current) => {
        const next = structuredClone(current);
        if ((await mutate(next)) === false) return null;
        return withBookkeeping(next, current, now());
      });
      await recorded;
      return after;
    },
  };
}
