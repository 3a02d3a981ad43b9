import { describe, expect, it } from 'vitest';
import { unenforcedReason } from '../../src/db/shardCheck.js';

/** Which unique indexes a sharded engine enforces (README "Scaling out"; src/db/shardCheck.ts). */
describe('unenforcedReason', () => {
  const byDirectory = { directory: 'hashed' };
  const unique = (name: string, key: Record<string, number>) => ({ name, key, unique: true });

  it('a unique index that starts with the shard key is enforced, hashed or ranged', () => {
    expect(unenforcedReason(byDirectory, unique('directory_userName', { directory: 1, 'dkey.userName': 1 }))).toBe(
      undefined,
    );
    expect(unenforcedReason({ directory: 1 }, unique('directory_email', { directory: 1, email: 1 }))).toBe(undefined);
  });

  it('_id and a one-field directory key under a directory shard key are enforced', () => {
    expect(unenforcedReason(byDirectory, unique('_id_', { _id: 1 }))).toBe(undefined);
    expect(unenforcedReason(byDirectory, unique('directory_userName', { 'dkey.userName': 1 }))).toBe(undefined);
  });

  it('a unique index under another shard key is refused, with the index, its fields and why', () => {
    const reason = unenforcedReason(
      { _id: 'hashed' },
      unique('directory_userName', { directory: 1, 'dkey.userName': 1 }),
    );
    expect(reason).toMatch(
      /directory_userName \(directory, dkey\.userName\) does not start with the shard key \(_id\)/,
    );
    expect(unenforcedReason({ _id: 'hashed' }, unique('directory_userName', { 'dkey.userName': 1 }))).toMatch(
      /does not start/,
    );
    expect(unenforcedReason({ 'norm.userName': 'hashed' }, unique('x', { directory: 1, 'norm.userName': 1 }))).toMatch(
      /does not start/,
    );
  });

  it('indexes that are not unique need nothing', () => {
    expect(unenforcedReason({ _id: 'hashed' }, { name: 'x', key: { directory: 1, a: 1 } })).toBe(undefined);
  });
});
