/**
 * Queries never carry an empty `$in`. It matches nothing, so asking costs a round trip for nothing,
 * and on a sharded DocumentDB (README "Scaling out") such a find with a projection crashed the
 * coordinator (Citus pruned every shard and handed DocumentDB a NULL). Callers with a list answer an
 * empty one without a query; a filter built from parts (joins) is folded by withoutEmptyIn.
 */

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

const isEmptyList = (value: unknown) => Array.isArray(value) && value.length === 0;

/** A field's operators without the empty-$in ones: undefined when they can match nothing. */
function foldOperators(operators: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [op, operand] of Object.entries(operators)) {
    if (op === '$in' && isEmptyList(operand)) return undefined;
    // Not in an empty list, or not (in an empty list): true for every value, no condition.
    if (op === '$nin' && isEmptyList(operand)) continue;
    if (op === '$not' && isPlainObject(operand) && isEmptyList(operand.$in)) continue;
    if (op === '$elemMatch' && isPlainObject(operand)) {
      const inner = withoutEmptyIn(operand);
      if (inner === undefined) return undefined;
      out[op] = inner;
      continue;
    }
    out[op] = operand;
  }
  return out;
}

/**
 * The filter with every empty `$in` folded away (an `$or` branch that can match nothing dropped, an
 * `$and` or field holding one makes the whole filter match nothing), or undefined when it can match
 * nothing at all.
 */
export function withoutEmptyIn<T>(filter: T): T | undefined {
  if (!isPlainObject(filter)) return filter;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filter)) {
    if ((key === '$and' || key === '$or' || key === '$nor') && Array.isArray(value)) {
      const parts = value.map((part) => withoutEmptyIn(part));
      if (key === '$and') {
        if (parts.includes(undefined)) return undefined;
        out[key] = parts;
        continue;
      }
      const left = parts.filter((part) => part !== undefined);
      if (key === '$or' && !left.length) return undefined;
      // A $nor branch that matches nothing excludes nothing.
      if (left.length) out[key] = left;
      continue;
    }
    if (!key.startsWith('$') && isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      const operators = foldOperators(value);
      if (operators === undefined) return undefined;
      if (Object.keys(operators).length) out[key] = operators;
      continue;
    }
    out[key] = value;
  }
  return out as T;
}

/** Whether a filter still holds an empty `$in` anywhere (the development check on every query). */
export function hasEmptyIn(filter: unknown): boolean {
  if (Array.isArray(filter)) return filter.some(hasEmptyIn);
  if (!isPlainObject(filter)) return false;
  return Object.entries(filter).some(([key, value]) => (key === '$in' && isEmptyList(value)) || hasEmptyIn(value));
}
