import { InvalidError } from '../errors.js';

export type JoinResolver = (op: string, value: unknown) => Promise<Record<string, unknown>>;

/**
 * Replaces the filter's `{ $join: { name, op, value } }` nodes (attributes stored in another
 * collection, such as group membership) with plain queries.
 */
export async function resolveJoins(query: unknown, resolvers: Record<string, JoinResolver>): Promise<unknown> {
  if (Array.isArray(query)) return Promise.all(query.map((q) => resolveJoins(q, resolvers)));
  if (typeof query !== 'object' || query === null || query instanceof Date || query instanceof RegExp) return query;
  const node = query as Record<string, unknown>;
  if ('$join' in node) {
    const { name, op, value } = node.$join as { name: string; op: string; value: unknown };
    const resolver = resolvers[name];
    if (!resolver) throw new InvalidError(`Filtering on ${name} is not supported`, { scimType: 'invalidFilter' });
    return resolver(op, value);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = await resolveJoins(value, resolvers);
  return out;
}

/** The usual join: "this resource's id is (not) among the ids related to value". */
export function idJoin(
  relatedIds: (value: string) => Promise<string[]>,
  allRelated: () => Promise<string[]>,
): JoinResolver {
  return async (op, value) => {
    if (op === 'pr') return { _id: { $in: await allRelated() } };
    if (typeof value !== 'string')
      throw new InvalidError('Membership filters compare with a string id', { scimType: 'invalidFilter' });
    if (op === 'eq') return { _id: { $in: await relatedIds(value) } };
    if (op === 'ne') return { _id: { $nin: await relatedIds(value) } };
    throw new InvalidError(`Operator ${op} is not supported on membership attributes; use eq, ne or pr`, {
      scimType: 'invalidFilter',
    });
  };
}
