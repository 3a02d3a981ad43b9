/**
 * Writing one line through the user service, source `bulk`, no email. The service judges the user
 * exactly as it judges a SCIM POST or PUT; in a dry run (ctx.dryRun) it judges and writes nothing.
 * - An existing userName (case-insensitive) is an update of the user the line's lookup read (the
 *   service's replaceRead: not read again): its SCIM form with the CSV values laid over it
 *   (merge.ts), guarded by the version read; a line that changes nothing writes nothing (`unchanged`).
 * - Groups are additive: the user is added to the listed groups and stays in others. Memberships
 *   are added right after the user (a crash between the two is repaired by importing the file
 *   again: memberships are idempotent).
 * - The rows in flight share their round trips (batches.ts): one query looks up their userNames,
 *   one createMany writes their new users (the service's batch of what create() does), one insert
 *   their memberships. Updates stay one by one (each is its own conditional write).
 */
import { randomUUID } from 'node:crypto';
import type { MembershipRepository } from '../../groups/membershipRepository.js';
import { ConflictError, isRefusal, PreconditionFailedError } from '../../errors.js';
import { etagFor } from '../../scim/etag.js';
import type { Projection } from '../../scim/projection.js';
import type { ScimResource } from '../../scim/validate.js';
import type { StoredUser } from '../../users/mapping.js';
import type { UserRepository } from '../../users/repository.js';
import type { UserService, WriteContext } from '../../users/service.js';
import { ENTERPRISE_SCHEMA } from '../csvColumns.js';
import { createBatcher } from './batches.js';
import { isObj, mergeForUpdate } from './merge.js';
import type { Outcome } from './report.js';
import { DRY_RUN_MANAGER, type GroupTarget, type Row } from './validate.js';

const UPDATE_ATTEMPTS = 3;
/**
 * Rows whose lookups, creates or memberships go in one database call. Each call has a cost of its
 * own in FerretDB and the driver: a 100k-line import ran at 2,118 lines/s in batches of 100, 2,560
 * in batches of 250 and 2,695 in batches of 500 (more rows in flight, more memory).
 */
export const BATCH_SIZE = 250;
/** The answer of a dry-run create is not used: without `groups` the service skips the user's group lookup. */
const NO_GROUPS: Projection = { excludedAttributes: ['groups'] };

export interface WriterDeps {
  users: UserService;
  /** The rows' users looked up by userName, many at once. */
  records: Pick<UserRepository, 'findByUserNames'>;
  memberships: MembershipRepository;
  /** Who writes, source `bulk`, no email; dryRun: judge only. */
  ctx: WriteContext;
}

export function createWriter(deps: WriterDeps) {
  const { users, records, memberships, ctx } = deps;
  const dryRun = Boolean(ctx.dryRun);
  /** Members added per group, for one group_update event each at the end. */
  const groupsTouched = new Map<string, number>();

  const findByUserName = createBatcher(async (names: string[]) => {
    const found = await records.findByUserNames([...new Set(names)]);
    const byName = new Map(found.map((user) => [user.norm.userName, user]));
    return names.map((name): StoredUser | undefined => byName.get(name));
  }, BATCH_SIZE);
  const createUser = createBatcher((inputs: ScimResource[]) => users.createMany(inputs, ctx), BATCH_SIZE);
  const addMembership = createBatcher(
    (pairs: { groupId: string; memberId: string }[]) =>
      memberships.addPairs(pairs.map((p) => ({ ...p, type: 'User' as const }))),
    BATCH_SIZE,
  );

  async function create(input: ScimResource): Promise<StoredUser> {
    if (dryRun) return (await users.create(input, ctx, NO_GROUPS)).user;
    const created = await createUser(input);
    if (isRefusal(created)) throw created;
    return created;
  }

  /** Adds the user to the groups (a dry run counts those it would add); returns how many. */
  async function joinGroups(userId: string, targets: GroupTarget[], isNew: boolean): Promise<number> {
    if (dryRun) {
      if (isNew) return 0;
      const had = await Promise.all(targets.map((group) => memberships.has(group.id, userId)));
      return had.filter((has) => !has).length;
    }
    const added = await Promise.all(targets.map((group) => addMembership({ groupId: group.id, memberId: userId })));
    targets.forEach((group, i) => {
      if (added[i]) groupsTouched.set(group.id, (groupsTouched.get(group.id) ?? 0) + 1);
    });
    return added.filter(Boolean).length;
  }

  return {
    groupsTouched,
    /** The user with this normalized userName, looked up with the other rows in flight. */
    findByUserName,

    /** The line's user as SCIM input, with its manager's id. */
    inputOf(row: Row, managerId: string | undefined): ScimResource {
      const input = structuredClone(row.csv.user);
      if (!managerId) return input;
      const enterprise = isObj(input[ENTERPRISE_SCHEMA]) ? input[ENTERPRISE_SCHEMA] : {};
      const value = managerId === DRY_RUN_MANAGER ? randomUUID() : managerId;
      input[ENTERPRISE_SCHEMA] = { ...enterprise, manager: { value } };
      const schemas = input.schemas as string[];
      if (!schemas.includes(ENTERPRISE_SCHEMA)) schemas.push(ENTERPRISE_SCHEMA);
      return input;
    },

    /** Creates the user, or updates the one with this userName. */
    async write(row: Row, input: ScimResource, targets: GroupTarget[]): Promise<Outcome> {
      for (let attempt = 1; ; attempt++) {
        // One indexed lookup per line (no map of every user: the import's memory stays flat).
        const current = await findByUserName(row.userName);
        if (!current) {
          try {
            const user = await create(input);
            await joinGroups(user._id, targets, true);
            return 'created';
          } catch (err) {
            // Created by someone else meanwhile: update it instead.
            const other = err instanceof ConflictError && attempt < UPDATE_ATTEMPTS;
            if (!other || !(await findByUserName(row.userName))) throw err;
            continue;
          }
        }
        let changed: boolean;
        try {
          const writeCtx = { ...ctx, ifMatch: etagFor(current.meta.version), skipUnchanged: true };
          ({ changed } = await users.replaceRead(current, (existing) => mergeForUpdate(existing, input), writeCtx));
        } catch (err) {
          // Someone else wrote the user between our read and our write: merge again onto theirs.
          if (err instanceof PreconditionFailedError && attempt < UPDATE_ATTEMPTS) continue;
          throw err;
        }
        const added = await joinGroups(current._id, targets, false);
        return changed || added ? 'updated' : 'unchanged';
      }
    },
  };
}

export type Writer = ReturnType<typeof createWriter>;
