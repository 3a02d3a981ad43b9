import type { Collection, Document, Filter, Sort } from 'mongodb';
import { InvalidError } from '../errors.js';
import { parseAttributePath } from '../scim/attributePath.js';
import { compileFilter, type CompiledFilter, type FieldResolver } from './filterQuery.js';
import { withoutEmptyIn } from './emptyIn.js';
import { resolveJoins, type JoinResolver } from './joins.js';
import { countMatching, findPage, findPageInOrder } from './mongo.js';
import { currentDirectory } from '../directory.js';
import { decodeCursor, encodeCursor, listResponse, parseListRequest, type ListRequest } from '../scim/list.js';
import { parseProjection, projectResource, wants } from '../scim/projection.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';
import type { ScimResource } from '../scim/validate.js';

/** Candidates converted and matched at a time when a filter must be finished in memory. */
const INEXACT_BATCH = 500;

export interface ListPlan<T extends Document> {
  collection: Collection<T>;
  request: ListRequest;
  filter?: CompiledFilter;
  /** Resolved query (joins replaced); {} when there is no filter. */
  query: Filter<T>;
  /** Stored sort field; undefined: creation order. */
  sortField?: string;
  /** Converts stored documents to SCIM form (before projection). */
  toScim(docs: T[]): Promise<ScimResource[]>;
  /** Remembered page ends for sequential index paging; without it every page skips. */
  positions?: PagePositions;
  /** How many documents the query selects, when the caller knows a cheaper way than counting them. */
  count?: () => Promise<number>;
}

/**
 * Where recent index-paged pages ended (per instance, bounded): a client reading startIndex pages
 * in order (Okta's import) gets each next page by a range scan after the previous page's last
 * (key, _id) instead of a skip over everything before it.
 */
export function createPagePositions(max = 10_000) {
  const ends = new Map<string, { key: unknown; id: string }>();
  return {
    get: (list: string, endIndex: number) => ends.get(`${list}|${endIndex}`),
    set(list: string, endIndex: number, position: { key: unknown; id: string }) {
      if (ends.size >= max) ends.delete(ends.keys().next().value!);
      ends.set(`${list}|${endIndex}`, position);
    },
  };
}

export type PagePositions = ReturnType<typeof createPagePositions>;

export interface ListPage {
  resources: ScimResource[];
  totalResults: number;
  startIndex?: number;
  nextCursor?: string;
}

function valueAt(doc: Document, field: string): unknown {
  let node: unknown = doc;
  for (const key of field.split('.')) {
    if (Array.isArray(node)) node = node[0];
    node = (node as Record<string, unknown> | undefined)?.[key];
  }
  return Array.isArray(node) ? node[0] : node;
}

/** The answer to a list request whose filter matches nothing. */
function emptyPage(request: ListRequest): ListPage {
  return {
    resources: [],
    totalResults: 0,
    ...(request.cursor === undefined ? { startIndex: request.startIndex } : {}),
  };
}

/** The filter (joins resolved) and the stored sort field of a list request. */
export async function compileListQuery<T extends Document>(
  request: ListRequest,
  resolver: FieldResolver,
  joins: Record<string, JoinResolver>,
): Promise<{ filter?: CompiledFilter; query: Filter<T>; sortField?: string }> {
  const filter = request.filter ? compileFilter(request.filter, resolver) : undefined;
  const query = filter ? ((await resolveJoins(filter.query, joins)) as Filter<T>) : {};
  let sortField: string | undefined;
  if (request.sortBy) {
    const resolved = resolver(parseAttributePath(request.sortBy));
    if (!resolved || resolved.join || resolved.compute)
      throw new InvalidError(`Cannot sort by "${request.sortBy}"`, { scimType: 'invalidPath' });
    sortField = resolved.normalizedField ?? resolved.field;
  }
  return { filter, query, sortField };
}

/**
 * Index paging (startIndex/count) and cursor paging (RFC 9865) over a stable order: the sort key,
 * then _id. A cursor is the last (key, _id) seen, so a deep page is a range scan, not a skip.
 */
export async function listPage<T extends Document>(plan: ListPlan<T>): Promise<ListPage> {
  const { collection, request } = plan;
  const field = plan.sortField ?? 'meta.created';
  const direction = request.sortOrder === 'descending' ? -1 : 1;
  const sort = { [field]: direction, _id: direction } as Sort;
  const exact = plan.filter?.exact ?? true;

  if (!exact) return inexactPage(plan, sort, field);

  const count = plan.count ?? (() => countMatching(collection, plan.query));
  /** The query's results after a (key, _id) position in this order. */
  const after = (position: { key: unknown; id: string }) => {
    const op = direction === 1 ? '$gt' : '$lt';
    const beyond =
      field === '_id'
        ? { _id: { [op]: position.id } }
        : { $or: [{ [field]: { [op]: position.key } }, { [field]: position.key, _id: { [op]: position.id } }] };
    return { $and: [plan.query, beyond] } as Filter<T>;
  };
  /**
   * The first `limit` results of a query in this order. Probing (findPageInOrder) pays when the
   * scan it makes follows the order: an _id range (the _id index), or the list's start (a table
   * filled in creation order); after a position on another field it would scan the table up to it.
   */
  const read = (query: Filter<T>, limit: number, fromStart: boolean) =>
    direction === 1 && (fromStart || field === '_id')
      ? findPageInOrder(collection, query, limit, field)
      : findPage(collection, query, limit, { sort });
  if (request.count === 0) {
    return {
      resources: [],
      totalResults: await count(),
      ...(request.cursor === undefined ? { startIndex: request.startIndex } : {}),
    };
  }
  if (request.cursor !== undefined) {
    const query = request.cursor === '' ? plan.query : after(decodeCursor(request.cursor, currentDirectory()));
    const docs = await read(query, request.count + 1, request.cursor === '');
    const page = docs.slice(0, request.count);
    const last = page[page.length - 1];
    const more = docs.length > request.count;
    const nextCursor =
      more && last ? encodeCursor({ key: valueAt(last, field), id: String(last._id) }, currentDirectory()) : undefined;
    // A first page that holds everything is its own total: no second query (IdP existence checks).
    const totalResults = request.cursor === '' && !more ? page.length : await count();
    return { resources: await plan.toScim(page as T[]), totalResults, nextCursor };
  }
  // The same list (query and order, in the same directory: the positions are shared by every
  // directory, and the directory is added to the query only by the collection) read by index:
  // continue after the page that ended just before.
  const list =
    plan.positions &&
    `${currentDirectory() ?? ''}|${collection.namespace}|${field}|${direction}|${JSON.stringify(plan.query)}`;
  const previous = list && request.startIndex > 1 ? plan.positions!.get(list, request.startIndex - 1) : undefined;
  const docs = previous
    ? await read(after(previous), request.count, false)
    : request.startIndex === 1
      ? await read(plan.query, request.count, true)
      : await findPage(collection, plan.query, request.count, { sort, skip: request.startIndex - 1 });
  const lastDoc = docs[docs.length - 1];
  if (lastDoc && list) {
    plan.positions!.set(list, request.startIndex - 1 + docs.length, {
      key: valueAt(lastDoc, field),
      id: String(lastDoc._id),
    });
  }
  // A short page that is not empty ends the list, so it gives the total without counting.
  const complete = docs.length < request.count && (docs.length > 0 || request.startIndex === 1);
  const totalResults = complete ? request.startIndex - 1 + docs.length : await count();
  return { resources: await plan.toScim(docs as T[]), totalResults, startIndex: request.startIndex };
}

/**
 * A filter the query can only over-approximate (a case-insensitive order comparison inside a value
 * path): the candidates are streamed in order and `matches` decides. Only the page is kept in memory;
 * the total needs every candidate, so such a filter costs a pass over what its query selects.
 */
async function inexactPage<T extends Document>(plan: ListPlan<T>, sort: Sort, field: string): Promise<ListPage> {
  const { collection, request } = plan;
  const position = request.cursor ? decodeCursor(request.cursor, currentDirectory()) : undefined;
  const skip = request.cursor === undefined ? request.startIndex - 1 : 0;
  let reachedCursor = position === undefined;
  let totalResults = 0;
  let passed = 0;
  let more = false;
  const page: { doc: Document; resource: ScimResource }[] = [];
  let batch: T[] = [];
  const take = async () => {
    const resources = await plan.toScim(batch);
    resources.forEach((resource, i) => {
      if (!plan.filter!.matches(resource)) return;
      totalResults++;
      if (!reachedCursor) {
        reachedCursor = String(batch[i]._id) === position!.id;
        return;
      }
      if (passed++ < skip) return;
      if (page.length < request.count) page.push({ doc: batch[i], resource });
      else more = true;
    });
    batch = [];
  };
  for await (const doc of collection.find(plan.query).sort(sort).batchSize(INEXACT_BATCH)) {
    batch.push(doc as T);
    if (batch.length === INEXACT_BATCH) await take();
  }
  await take();
  const last = page[page.length - 1];
  if (request.cursor !== undefined) {
    return {
      resources: page.map((m) => m.resource),
      totalResults,
      nextCursor:
        more && last
          ? encodeCursor({ key: valueAt(last.doc, field), id: String(last.doc._id) }, currentDirectory())
          : undefined,
    };
  }
  return { resources: page.map((m) => m.resource), totalResults, startIndex: request.startIndex };
}

/**
 * What a SCIM list needs. A repository's `list` takes these without `collection` (its own) and
 * without what it decides itself (page positions, a default order, a query rewrite): services name
 * no collection.
 */
export interface ListOptions<T extends Document> {
  raw: Record<string, unknown>;
  limits: { defaultCount: number; maxResults: number };
  collection: Collection<T>;
  schemas: SchemaDocument[];
  resolver: FieldResolver;
  joins: Record<string, JoinResolver>;
  related: string;
  toScim(docs: T[], withRelated: boolean): Promise<ScimResource[]>;
  positions?: PagePositions;
  /** The stored order when the request has no sortBy (default: creation order, meta.created). */
  defaultSortField?: string;
  /**
   * Lets the caller serve a query its own way: a cheaper equivalent query (one an index reads in
   * order) and a cheaper count of what it selects.
   */
  rewrite?: (query: Filter<T>) => { query: Filter<T>; count?: () => Promise<number> } | undefined;
}

/** A repository's list request: ListOptions without what the repository supplies. */
export type ListQuery<T extends Document> = Omit<
  ListOptions<T>,
  'collection' | 'positions' | 'defaultSortField' | 'rewrite'
>;

/**
 * A SCIM list (GET /Users, /Groups, their /.search) from the raw request to the ListResponse: paging,
 * filter (joins resolved), sorting, projection. `related` names the costly attribute (a user's
 * groups, a group's members): toScim is told to fill it only when it is returned or the filter
 * must be finished in memory.
 */
export async function listResources<T extends Document>(options: ListOptions<T>) {
  const request = parseListRequest(options.raw, options.limits);
  const projection = parseProjection(request.attributes, request.excludedAttributes);
  const { filter, query: joined, sortField } = await compileListQuery<T>(request, options.resolver, options.joins);
  const withRelated = wants(projection, options.related, options.schemas) || (filter !== undefined && !filter.exact);
  // A join that found nothing (members eq an unknown id) can make the filter match nothing: no query.
  const query = withoutEmptyIn(joined);
  if (query === undefined) return listResponse([], emptyPage(request));
  const rewritten = options.rewrite?.(query);
  const page = await listPage({
    collection: options.collection,
    request,
    filter,
    query: rewritten?.query ?? query,
    count: rewritten?.count,
    sortField: sortField ?? options.defaultSortField,
    toScim: (docs) => options.toScim(docs, withRelated),
    positions: options.positions,
  });
  return listResponse(
    page.resources.map((r) => projectResource(r, options.schemas, projection)),
    page,
  );
}
