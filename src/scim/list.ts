import { badRequest, ScimError } from './errors.js';
import { parseFilter, type FilterNode } from './filterParser.js';
import { SCHEMA_URNS } from './schemaRegistry.js';

/** Query parameters of a list or /.search request, checked and defaulted (RFC 7644 §3.4.2, RFC 9865 cursors). */
export interface ListRequest {
  /** Parsed here, once; checked against the resource type's attributes where the list is read. */
  filter?: FilterNode;
  sortBy?: string;
  sortOrder: 'ascending' | 'descending';
  startIndex: number;
  count: number;
  /** Present (possibly "") when the client asked for cursor paging. */
  cursor?: string;
  attributes?: unknown;
  excludedAttributes?: unknown;
}

const MAX_INDEX = 1_000_000_000;

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw badRequest('invalidValue', `"${name}" must be an integer`);
  return n;
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) throw badRequest('invalidValue', `"${name}" may be given only once`);
  if (typeof value !== 'string') throw badRequest('invalidValue', `"${name}" must be a string`);
  return value;
}

/** From query-string parameters (GET) or a SearchRequest body (POST /.search); the names are case-insensitive. */
export function parseListRequest(
  raw: Record<string, unknown>,
  limits: { defaultCount: number; maxResults: number },
): ListRequest {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) params[k.toLowerCase()] = v;
  const startIndex = integer(params.startindex, 'startIndex') ?? 1;
  const count = integer(params.count, 'count') ?? limits.defaultCount;
  const sortOrderRaw = single(params.sortorder, 'sortOrder')?.toLowerCase();
  if (sortOrderRaw && sortOrderRaw !== 'ascending' && sortOrderRaw !== 'descending') {
    throw badRequest('invalidValue', '"sortOrder" must be "ascending" or "descending"');
  }
  const cursor = single(params.cursor, 'cursor');
  if (cursor !== undefined && params.startindex !== undefined) {
    throw badRequest('invalidValue', 'Use either "cursor" or "startIndex", not both');
  }
  const filter = single(params.filter, 'filter');
  return {
    filter: filter ? parseFilter(filter) : undefined,
    sortBy: single(params.sortby, 'sortBy') || undefined,
    sortOrder: sortOrderRaw === 'descending' ? 'descending' : 'ascending',
    // RFC 7644: startIndex < 1 is treated as 1; count < 0 as 0; count is capped at maxResults.
    startIndex: Math.min(Math.max(startIndex, 1), MAX_INDEX),
    count: Math.min(Math.max(count, 0), limits.maxResults),
    cursor,
    attributes: params.attributes,
    excludedAttributes: params.excludedattributes,
  };
}

/** Opaque cursor: the sort key and id of the last resource of the previous page. */
export interface CursorPosition {
  key: unknown;
  id: string;
}

/**
 * `scope` names where the cursor is good (the caller's choice, e.g. one directory): a cursor made
 * for one scope is refused in any other, as if it were made up.
 */
export function encodeCursor(position: CursorPosition, scope = ''): string {
  const key = position.key instanceof Date ? { $date: position.key.toISOString() } : position.key;
  return Buffer.from(JSON.stringify([key, position.id, scope])).toString('base64url');
}

export function decodeCursor(cursor: string, scope = ''): CursorPosition {
  const invalid = () => new ScimError(400, 'The cursor is not valid', 'invalidCursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[1] !== 'string' || parsed[2] !== scope)
    throw invalid();
  const [key, id] = parsed as [unknown, string];
  // Only plain values reach the query: an object such as {"$where": …} would be an operator.
  if (key === null || ['string', 'number', 'boolean'].includes(typeof key)) return { key, id };
  if (
    typeof key === 'object' &&
    Object.keys(key).length === 1 &&
    typeof (key as { $date?: unknown }).$date === 'string'
  ) {
    const date = new Date((key as { $date: string }).$date);
    if (!Number.isNaN(date.getTime())) return { key: date, id };
  }
  throw invalid();
}

export function listResponse(
  resources: unknown[],
  totals: { totalResults: number; startIndex?: number; nextCursor?: string; previousCursor?: string },
) {
  return {
    schemas: [SCHEMA_URNS.listResponse],
    totalResults: totals.totalResults,
    itemsPerPage: resources.length,
    ...(totals.startIndex !== undefined ? { startIndex: totals.startIndex } : {}),
    ...(totals.nextCursor ? { nextCursor: totals.nextCursor } : {}),
    Resources: resources,
  };
}
