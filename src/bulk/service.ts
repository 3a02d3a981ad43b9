import { ConflictError, InvalidError, isRefusal, type Refusal } from '../errors.js';
import { asOperation } from '../transaction.js';
import type { Actor } from '../events/types.js';
import type { GroupService } from '../groups/service.js';
import {
  bulkResponse,
  errorResult,
  parseBulkRequest,
  referencedBulkIds,
  substituteBulkIds,
  type BulkOperation,
  type BulkRequest,
  type BulkResult,
} from '../scim/bulk.js';
import type { StoredUser } from '../users/mapping.js';
import type { UserService } from '../users/service.js';

export interface BulkDeps {
  users: UserService;
  groups: GroupService;
  /** Read per request, so a configuration reload applies (ServiceProviderConfig advertises the live value). */
  maxOperations: () => number;
  /** SCIM base URL, for the locations of users created in batches. */
  baseUrl: () => string;
}

const MAX_BATCH = 250;

interface Item {
  op: BulkOperation;
  index: number;
}

/** A bulk request as it runs: the ids its bulkIds were created with, those that failed, each result. */
interface BulkRun {
  request: BulkRequest;
  ids: Map<string, string>;
  failed: Set<string>;
  results: (BulkResult | undefined)[];
  errors: number;
  /** failOnErrors, else no limit. */
  limit: number;
}

function refuse(state: BulkRun, item: Item, error: Refusal) {
  state.results[item.index] = errorResult(item.op, error);
  if (item.op.bulkId) state.failed.add(item.op.bulkId);
  state.errors++;
}

/** One operation on /Users or /Groups through the services, as its bulk result. */
async function runOperation(deps: BulkDeps, op: BulkOperation, actor: Actor): Promise<BulkResult> {
  const match = /^\/(Users|Groups)(?:\/([^/?]+))?$/i.exec(op.path);
  if (!match) throw new InvalidError(`Unsupported bulk path ${op.path}`, { scimType: 'invalidPath' });
  const type = match[1].toLowerCase() === 'users' ? 'User' : 'Group';
  const id = match[2];
  if (op.method === 'POST' && id) throw new InvalidError('POST goes to /Users or /Groups', { scimType: 'invalidPath' });
  if (op.method !== 'POST' && !id)
    throw new InvalidError(`${op.method} needs /${match[1]}/{id}`, { scimType: 'invalidPath' });
  const ctx = { actor, source: 'bulk' as const, ifMatch: op.version };
  const service = type === 'User' ? deps.users : deps.groups;
  let result: { resource: Record<string, unknown>; version: number } | undefined;
  switch (op.method) {
    case 'POST': {
      const r = type === 'User' ? await deps.users.create(op.data, ctx) : await deps.groups.create(op.data, ctx);
      result = { resource: r.resource, version: 'user' in r ? r.user.meta.version : r.group.meta.version };
      break;
    }
    case 'PUT': {
      const r =
        type === 'User' ? await deps.users.replace(id!, op.data, ctx) : await deps.groups.replace(id!, op.data, ctx);
      result = { resource: r.resource, version: 'user' in r ? r.user.meta.version : r.group.meta.version };
      break;
    }
    case 'PATCH': {
      const r =
        type === 'User'
          ? await deps.users.patch(id!, op.data, ctx)
          : await deps.groups.patch(id!, op.data, ctx, {}, false);
      result = { resource: r.resource ?? {}, version: 'user' in r ? r.user.meta.version : r.group.meta.version };
      break;
    }
    case 'DELETE':
      await service.delete(id!, ctx);
  }
  const location = (result?.resource.meta as { location?: string } | undefined)?.location;
  return {
    method: op.method,
    ...(op.bulkId ? { bulkId: op.bulkId } : {}),
    ...(result ? { version: `W/"${result.version}"` } : {}),
    ...(location ? { location } : {}),
    status: op.method === 'POST' ? '201' : op.method === 'DELETE' ? '204' : '200',
    ...(result && op.method !== 'POST' ? { response: result.resource } : {}),
  };
}

/**
 * Consecutive user creates written together (a few database writes for hundreds of users). A batch
 * is validated and built while the previous one is written, and its users are written while the
 * previous batch's events are: Roster's CPU and two database connections at work side by side. The
 * users' writes stay one at a time, in order.
 */
function createUserBatches(deps: BulkDeps, state: BulkRun, actor: Actor) {
  let batch: Item[] = [];
  let writing: Promise<void> = Promise.resolve();
  const recording: Promise<void>[] = [];
  let writeFailure: { error: unknown } | undefined;
  const failWith = (error: unknown) => {
    writeFailure ??= { error };
  };
  const ctx = { actor, source: 'bulk' as const };

  const record = (current: Item[], created: (StoredUser | Refusal)[]) => {
    created.forEach((outcome, i) => {
      const item = current[i];
      if (isRefusal(outcome)) return refuse(state, item, outcome);
      if (item.op.bulkId) state.ids.set(item.op.bulkId, outcome._id);
      state.results[item.index] = {
        method: 'POST',
        ...(item.op.bulkId ? { bulkId: item.op.bulkId } : {}),
        version: `W/"${outcome.meta.version}"`,
        location: `${deps.baseUrl()}/Users/${outcome._id}`,
        status: '201',
      };
    });
  };

  const flush = async () => {
    if (!batch.length) return;
    const current = batch;
    batch = [];
    const built = await deps.users
      .prepareMany(
        current.map((b) => b.op.data),
        ctx,
      )
      .catch(async (err: unknown) => {
        await written().catch(() => undefined); // nothing still writing when the request fails
        throw err;
      });
    writing = writing.then(async () => {
      if (writeFailure) return;
      try {
        const { outcomes, recorded } = await deps.users.writeMany(built, ctx);
        recording.push(recorded.catch(failWith));
        record(current, outcomes);
      } catch (error) {
        failWith(error);
      }
    });
  };

  /** Every batch written with its events (and its results known), or the first failure thrown. */
  const written = async () => {
    await flush();
    await writing;
    await Promise.all(recording);
    if (writeFailure) throw writeFailure.error;
  };

  return {
    add: (item: Item) => batch.push(item),
    full: () => batch.length >= MAX_BATCH,
    flush,
    written,
  };
}

/**
 * One pass over the operations still pending: runs those whose bulkIds are known, refuses those
 * that refer to a bulkId that failed or does not exist, and returns those still waiting for one.
 */
async function runPass(deps: BulkDeps, state: BulkRun, pending: Item[], actor: Actor) {
  const waiting: Item[] = [];
  let progressed = false;
  // Batched only without failOnErrors, which must stop at an exact operation.
  const batchable = (op: BulkOperation) =>
    state.limit === Infinity && op.method === 'POST' && /^\/Users$/i.test(op.path);
  const batches = createUserBatches(deps, state, actor);

  for (const item of pending) {
    if (!batchable(item.op)) await batches.written();
    else if (batches.full()) await batches.flush();
    if (state.errors >= state.limit) break;
    const refs = referencedBulkIds(item.op);
    const broken = refs.find((r) => state.failed.has(r) || !state.request.operations.some((o) => o.bulkId === r));
    if (broken) {
      refuse(state, item, new ConflictError(`bulkId ${broken} could not be resolved`, { scimType: 'invalidValue' }));
      progressed = true;
      continue;
    }
    if (refs.some((r) => !state.ids.has(r))) {
      waiting.push(item);
      continue;
    }
    progressed = true;
    if (batchable(item.op)) {
      batches.add({ index: item.index, op: { ...item.op, data: substituteBulkIds(item.op.data, state.ids) } });
      continue;
    }
    await runResolved(deps, state, item, actor);
  }
  await batches.written();
  return { waiting, progressed };
}

/** An operation whose bulkIds are all known: run with their ids; a refusal is its result. */
async function runResolved(deps: BulkDeps, state: BulkRun, item: Item, actor: Actor) {
  const path = item.op.path.replace(/bulkId:([^/]+)/g, (m, r: string) => state.ids.get(r) ?? m);
  const op = { ...item.op, path, data: substituteBulkIds(item.op.data, state.ids) };
  try {
    // Each operation's events are marked with its method (PUT or PATCH) within the request's txn.
    const result = await asOperation(op.method, () => runOperation(deps, op, actor));
    state.results[item.index] = result;
    if (op.method === 'POST' && op.bulkId && result.location)
      state.ids.set(op.bulkId, result.location.split('/').pop()!);
  } catch (err) {
    if (!isRefusal(err)) throw err;
    refuse(state, item, err);
  }
}

/**
 * /Bulk: operations run in order; an operation that refers to a bulkId created later waits for it
 * (so a group can list members created after it in the same request). Users created here get the
 * `bulk` source, whatever the token's category (docs/decisions.md "SCIM behaviour").
 */
export function createBulkService(deps: BulkDeps) {
  /** Checks a request body without running it (the parse errors /Bulk answers at once). */
  const parse = (body: unknown) => parseBulkRequest(body, deps.maxOperations());

  /**
   * Runs a bulk request; the result of each operation at its index in the request (undefined for
   * those not run once failOnErrors was reached).
   */
  async function executeEach(body: unknown, actor: Actor) {
    const request = parse(body);
    const state: BulkRun = {
      request,
      ids: new Map(),
      failed: new Set(),
      results: new Array<BulkResult | undefined>(request.operations.length),
      errors: 0,
      limit: request.failOnErrors ?? Infinity,
    };
    let pending = request.operations.map((op, index) => ({ op, index }));
    while (pending.length && state.errors < state.limit) {
      const { waiting, progressed } = await runPass(deps, state, pending, actor);
      if (!progressed) {
        // Circular references: nothing can run.
        for (const item of waiting) {
          state.results[item.index] = errorResult(
            item.op,
            new ConflictError('Circular bulkId references', { scimType: 'invalidValue' }),
          );
          state.errors++;
        }
        break;
      }
      pending = waiting;
    }
    return { operations: request.operations, results: state.results };
  }

  return {
    parse,
    executeEach,
    async execute(body: unknown, actor: Actor) {
      const { results } = await executeEach(body, actor);
      return bulkResponse(results.filter((r): r is BulkResult => r !== undefined));
    },
  };
}
