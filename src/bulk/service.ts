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
  baseUrl: string;
}

const MAX_BATCH = 250;

/**
 * /Bulk: operations run in order; an operation that refers to a bulkId created later waits for it
 * (so a group can list members created after it in the same request). Users created here get the
 * `bulk` source, whatever the token's category (docs/decisions.md "SCIM behaviour").
 */
export function createBulkService(deps: BulkDeps) {
  /** Each operation's events are marked with its method (PUT or PATCH) within the request's txn. */
  const run = (op: BulkOperation, actor: Actor) => asOperation(op.method, () => runOperation(op, actor));

  async function runOperation(op: BulkOperation, actor: Actor): Promise<BulkResult> {
    const match = /^\/(Users|Groups)(?:\/([^/?]+))?$/i.exec(op.path);
    if (!match) throw new InvalidError(`Unsupported bulk path ${op.path}`, { scimType: 'invalidPath' });
    const type = match[1].toLowerCase() === 'users' ? 'User' : 'Group';
    const id = match[2];
    if (op.method === 'POST' && id)
      throw new InvalidError('POST goes to /Users or /Groups', { scimType: 'invalidPath' });
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

  /** Checks a request body without running it (the parse errors /Bulk answers at once). */
  const parse = (body: unknown) => parseBulkRequest(body, deps.maxOperations());

  /**
   * Runs a bulk request; the result of each operation at its index in the request (undefined for
   * those not run once failOnErrors was reached).
   */
  async function executeEach(body: unknown, actor: Actor) {
    const request = parse(body);
    const ids = new Map<string, string>();
    const failed = new Set<string>();
    const results: (BulkResult | undefined)[] = new Array(request.operations.length);
    let pending = request.operations.map((op, index) => ({ op, index }));
    let errors = 0;
    const limit = request.failOnErrors ?? Infinity;

    while (pending.length && errors < limit) {
      const waiting: typeof pending = [];
      let progressed = false;
      // Consecutive user creates are written together (a few database writes for hundreds of
      // users); only without failOnErrors, which must stop at an exact operation.
      let batch: { index: number; op: BulkOperation }[] = [];
      let writing: Promise<void> = Promise.resolve();
      const recording: Promise<void>[] = [];
      let writeFailure: { error: unknown } | undefined;
      const failWith = (error: unknown) => {
        writeFailure ??= { error };
      };
      const record = (current: typeof batch, created: (StoredUser | Refusal)[]) => {
        created.forEach((outcome, i) => {
          const { index, op } = current[i];
          if (isRefusal(outcome)) {
            results[index] = errorResult(op, outcome);
            if (op.bulkId) failed.add(op.bulkId);
            errors++;
            return;
          }
          if (op.bulkId) ids.set(op.bulkId, outcome._id);
          results[index] = {
            method: 'POST',
            ...(op.bulkId ? { bulkId: op.bulkId } : {}),
            version: `W/"${outcome.meta.version}"`,
            location: `${deps.baseUrl}/Users/${outcome._id}`,
            status: '201',
          };
        });
      };
      const ctx = { actor, source: 'bulk' as const };
      // A batch is validated and built while the previous one is written, and its users are written
      // while the previous batch's events are: Roster's CPU and two database connections at work
      // side by side. The users' writes stay one at a time, in order.
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
      const batchable = (op: BulkOperation) => limit === Infinity && op.method === 'POST' && /^\/Users$/i.test(op.path);

      for (const item of pending) {
        if (!batchable(item.op)) await written();
        else if (batch.length >= MAX_BATCH) await flush();
        if (errors >= limit) break;
        const refs = referencedBulkIds(item.op);
        const broken = refs.find((r) => failed.has(r) || !request.operations.some((o) => o.bulkId === r));
        if (broken) {
          results[item.index] = errorResult(
            item.op,
            new ConflictError(`bulkId ${broken} could not be resolved`, { scimType: 'invalidValue' }),
          );
          if (item.op.bulkId) failed.add(item.op.bulkId);
          errors++;
          progressed = true;
          continue;
        }
        if (refs.some((r) => !ids.has(r))) {
          waiting.push(item);
          continue;
        }
        progressed = true;
        if (batchable(item.op)) {
          batch.push({ index: item.index, op: { ...item.op, data: substituteBulkIds(item.op.data, ids) } });
          continue;
        }
        const path = item.op.path.replace(/bulkId:([^/]+)/g, (m, r: string) => ids.get(r) ?? m);
        const op = { ...item.op, path, data: substituteBulkIds(item.op.data, ids) };
        try {
          const result = await run(op, actor);
          results[item.index] = result;
          if (op.method === 'POST' && op.bulkId && result.location)
            ids.set(op.bulkId, result.location.split('/').pop()!);
        } catch (err) {
          const error = isRefusal(err) ? err : null;
          if (!error) throw err;
          results[item.index] = errorResult(item.op, error);
          if (item.op.bulkId) failed.add(item.op.bulkId);
          errors++;
        }
      }
      await written();
      if (!progressed) {
        // Circular references: nothing can run.
        for (const item of waiting) {
          results[item.index] = errorResult(
            item.op,
            new ConflictError('Circular bulkId references', { scimType: 'invalidValue' }),
          );
          errors++;
        }
        break;
      }
      pending = waiting;
    }
    return { operations: request.operations, results };
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
