import { ConflictError, PreconditionFailedError } from '../errors.js';
import { checkIfMatch } from '../scim/etag.js';
import { LOST_RACE, retryLostRaces } from './retry.js';

/** A stored resource with a version (users, groups): every change bumps it, and it is the ETag. */
export interface Versioned {
  meta: { version: number };
}

export interface VersionedWrite<D extends Versioned> {
  /** The document the caller already read: the first attempt uses it instead of reading again. */
  current?: D;
  /** Reads the document (a later attempt, or the first when there is no `current`); throws when there is none. */
  load(): Promise<D>;
  /** The client's `If-Match`: checked once against the version read; a lost race is then 412, not retried. */
  ifMatch?: string;
  /** The next document (its version bumped), or null when there is nothing to write. */
  apply(before: D): Promise<D | null>;
  /** Writes `after` only if the stored version is still `before`'s (one conditional write); false when another writer won. */
  write(before: D, after: D): Promise<boolean>;
  /** What the messages call the document ("resource", "group"). */
  noun: string;
}

/**
 * Optimistic concurrency, one helper for every versioned resource (docs/ARCHITECTURE.md "Storage"):
 * load, check `If-Match`, apply, write once on the version read; a lost race runs again
 * (`retryLostRaces`) unless the client pinned a version (412). `after` is `before` when nothing was written.
 */
export async function versionedWrite<D extends Versioned>(w: VersionedWrite<D>): Promise<{ before: D; after: D }> {
  let known = w.current;
  const result = await retryLostRaces(async () => {
    const before = known ?? (await w.load());
    known = undefined;
    checkIfMatch(w.ifMatch, before.meta.version);
    const after = await w.apply(before);
    if (!after) return { before, after: before };
    if (await w.write(before, after)) return { before, after };
    if (w.ifMatch) throw new PreconditionFailedError(`The ${w.noun} changed while it was being updated`);
    return LOST_RACE;
  });
  if (result === LOST_RACE) throw new ConflictError(`The ${w.noun} is being changed by others; retry`);
  return result;
}
