import { describe, expect, it } from 'vitest';
import { hasEmptyIn, withoutEmptyIn } from '../../src/db/emptyIn.js';

/** No query carries an empty $in (src/db/emptyIn.ts): filters built from joins are folded first. */
describe('withoutEmptyIn', () => {
  it('a field in an empty list matches nothing: the whole filter, or the whole $and', () => {
    expect(withoutEmptyIn({ _id: { $in: [] } })).toBeUndefined();
    expect(withoutEmptyIn({ active: true, _id: { $in: [] } })).toBeUndefined();
    expect(withoutEmptyIn({ $and: [{ active: true }, { _id: { $in: [] } }] })).toBeUndefined();
    expect(withoutEmptyIn({ emails: { $elemMatch: { type: { $in: [] } } } })).toBeUndefined();
  });

  it('an $or keeps the branches that can match; none left matches nothing', () => {
    expect(withoutEmptyIn({ $or: [{ _id: { $in: [] } }, { 'norm.userName': 'a' }] })).toEqual({
      $or: [{ 'norm.userName': 'a' }],
    });
    expect(withoutEmptyIn({ $or: [{ _id: { $in: [] } }, { x: { $in: [] } }] })).toBeUndefined();
  });

  it('not in an empty list holds for everything: the condition goes, the rest stays', () => {
    expect(withoutEmptyIn({ _id: { $nin: [] }, active: true })).toEqual({ active: true });
    expect(withoutEmptyIn({ _id: { $nin: [], $gt: 'b' } })).toEqual({ _id: { $gt: 'b' } });
    expect(withoutEmptyIn({ x: { $not: { $in: [] } } })).toEqual({});
    expect(withoutEmptyIn({ $nor: [{ _id: { $in: [] } }, { a: 1 }] })).toEqual({ $nor: [{ a: 1 }] });
    expect(withoutEmptyIn({ $nor: [{ _id: { $in: [] } }] })).toEqual({});
  });

  it('filters without an empty $in come back equal, values untouched', () => {
    const when = new Date(0);
    const filter = { _id: { $in: ['a'] }, 'meta.created': { $gt: when }, name: /x/, list: [1, 2], $or: [{ a: 1 }] };
    expect(withoutEmptyIn(filter)).toEqual(filter);
    expect((withoutEmptyIn(filter) as typeof filter)['meta.created'].$gt).toBe(when);
  });

  it('hasEmptyIn finds one at any depth', () => {
    expect(hasEmptyIn({ $and: [{ a: 1 }, { $or: [{ b: { $in: [] } }] }] })).toBe(true);
    expect(hasEmptyIn({ a: { $in: ['x'] } })).toBe(false);
    expect(hasEmptyIn(undefined)).toBe(false);
  });
});
