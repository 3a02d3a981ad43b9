import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { membershipId, type Membership } from '../src/groups/membershipRepository.js';
import type { StoredGroup } from '../src/groups/mapping.js';
import { normalizedFields, type Lifecycle, type StoredUser } from '../src/users/mapping.js';
import { normalize } from '../src/scim/validate.js';
import { directoryKeysOf } from '../src/db/directoryScope.js';
import { DEFAULT_DIRECTORY } from '../src/directory.js';
import { claimId } from '../src/users/emailClaimRepository.js';

/**
 * Seeding by direct inserts, in the document shape Roster stores (src/users/mapping.ts,
 * src/users/repository.ts, src/groups/repository.ts): users with their `norm` shadow fields and
 * `meta`, one email claim per company address, groups, and one membership document per pair,
 * each in its directory (src/db/directoryScope.ts; the default one unless asked otherwise).
 * Events are not seeded (no read path the benchmarks use depends on them).
 */

const BATCH = 1000;
/** Creation times one millisecond apart, in the past: the default sort (meta.created, _id) is the seed order. */
const EPOCH = Date.UTC(2024, 0, 1);

export function userName(prefix: string, i: number): string {
  return `${prefix}.user${String(i).padStart(6, '0')}@example.com`;
}

export function storedUser(
  prefix: string,
  i: number,
  directory = DEFAULT_DIRECTORY,
): StoredUser & { directory: string; dkey?: object } {
  const name = userName(prefix, i);
  const content = {
    userName: name,
    externalId: `ext-${prefix}-${i}`,
    name: { givenName: `Given${i}`, familyName: `Family${i}`, formatted: `Given${i} Family${i}` },
    displayName: `Given${i} Family${i}`,
    emails: [{ value: name, type: 'work', primary: true }],
    title: i % 7 === 0 ? 'Engineer' : 'Analyst',
  };
  const lifecycle: Lifecycle = {
    state: 'STAGED',
    passwordStatus: 'PENDING',
    source: 'bulk',
    passwordAuthority: 'none',
    locked: false,
  };
  const created = new Date(EPOCH + i);
  const norm = normalizedFields({ ...content, lifecycle });
  return {
    _id: randomUUID(),
    directory,
    dkey: directoryKeysOf('users', directory, { norm }),
    ...content,
    lifecycle,
    norm,
    meta: { created, lastModified: created, version: 1 },
  };
}

export function storedGroup(
  displayName: string,
  i: number,
  directory = DEFAULT_DIRECTORY,
): StoredGroup & { directory: string; dkey?: object } {
  const created = new Date(EPOCH + i);
  return {
    _id: randomUUID(),
    directory,
    dkey: directoryKeysOf('groups', directory, { norm: { displayName: normalize(displayName) } }),
    displayName,
    norm: { displayName: normalize(displayName) },
    meta: { created, lastModified: created, version: 1 },
  };
}

export interface SeededUsers {
  ids: string[];
  /** ids[i] has userName userName(prefix, i); the first and last created are ids[0] and ids[n-1]. */
  prefix: string;
  first: StoredUser;
  last: StoredUser;
}

export async function seedUsers(
  db: Db,
  prefix: string,
  count: number,
  progress?: (done: number) => void,
  directory = DEFAULT_DIRECTORY,
): Promise<SeededUsers> {
  const ids: string[] = [];
  let first: StoredUser | undefined;
  let last: StoredUser | undefined;
  for (let start = 0; start < count; start += BATCH) {
    const batch: StoredUser[] = [];
    for (let i = start; i < Math.min(start + BATCH, count); i++) batch.push(storedUser(prefix, i, directory));
    first ??= batch[0];
    last = batch[batch.length - 1];
    await db.collection<StoredUser>('users').insertMany(batch, { ordered: false });
    await db.collection<{ _id: string; userId: string }>('email_claims').insertMany(
      batch.map((u) => ({
        _id: claimId(u.norm.companyEmail!, directory),
        directory,
        email: u.norm.companyEmail!,
        userId: u._id,
      })),
      { ordered: false },
    );
    ids.push(...batch.map((u) => u._id));
    progress?.(ids.length);
  }
  return { ids, prefix, first: first!, last: last! };
}

export async function seedGroup(
  db: Db,
  displayName: string,
  memberIds: string[],
  index: number,
  directory = DEFAULT_DIRECTORY,
): Promise<string> {
  const group = storedGroup(displayName, index, directory);
  await db.collection<StoredGroup>('groups').insertOne(group);
  for (let start = 0; start < memberIds.length; start += BATCH) {
    const batch: Membership[] = memberIds.slice(start, start + BATCH).map((memberId) => ({
      _id: membershipId(group._id, memberId),
      directory,
      groupId: group._id,
      memberId,
      type: 'User',
    }));
    await db.collection<Membership>('memberships').insertMany(batch, { ordered: false });
  }
  return group._id;
}
