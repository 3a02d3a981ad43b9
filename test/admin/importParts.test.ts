import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/admin/import/batches.js';
import { createLineTable } from '../../src/admin/import/lineTable.js';

describe('import line table', () => {
  it('keeps every key of a large file, through its growth, and overwrites a line', () => {
    const table = createLineTable();
    const n = 200_000;
    for (let i = 0; i < n; i++) table.set(`user${i}@example.com`, i + 2);
    for (let i = 0; i < n; i += 997) expect(table.get(`user${i}@example.com`)).toBe(i + 2);
    expect(table.get('someone-else@example.com')).toBeUndefined();
    expect(table.get(`user${n}@example.com`)).toBeUndefined();
    table.set('user5@example.com', -7);
    expect(table.get('user5@example.com')).toBe(-7);
  });
});

describe('import batches', () => {
  it('answers each call from one run per batch, a lone call at once, and passes a batch error to each call', async () => {
    const runs: number[][] = [];
    const double = createBatcher(async (items: number[]) => {
      runs.push(items);
      if (items.includes(-1)) throw new Error('refused');
      return items.map((x) => x * 2);
    }, 3);

    await expect(Promise.all([1, 2, 3, 4, 5].map((x) => double(x)))).resolves.toEqual([2, 4, 6, 8, 10]);
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await expect(double(7)).resolves.toBe(14);
    const failed = await Promise.allSettled([double(8), double(-1)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(runs.length).toBe(4);
  });
});
