/**
 * A checked SCIM filter (src/scim/filterCheck.ts) -> a MongoDB query (plain objects), beside the exact
 * in-memory matcher the protocol builds from the same tree.
 *
 * A value path with several conditions becomes `$elemMatch` (beside dotted-path conditions on the
 * indexed shadow fields). Only what a query cannot say (a case-insensitive order comparison inside a
 * value path) compiles to a superset (`exact: false`) that `matches()` finishes in memory.
 */
import {
  checkFilter,
  type AttributeResolver,
  type CheckedFilter,
  type FilterAttribute,
  type Operand,
} from '../scim/filterCheck.js';
import { matcherOf, normalizeText } from '../scim/filterMatch.js';
import {
  invalid,
  ORDER_OPS,
  parseFilter,
  SUBSTRING_OPS,
  type CompareOp,
  type FilterNode,
} from '../scim/filterParser.js';

export type MongoQuery = Record<string, unknown>;

/** A SCIM attribute and where the repository keeps it. */
export interface ResolvedAttribute extends FilterAttribute {
  /** dotted path in the stored document, e.g. 'name.givenName', 'enterprise.employeeNumber', 'emails.value' */
  field: string;
  /** optional normalized shadow field holding lower-cased NFC values (see normalizeText) */
  normalizedField?: string;
  /** special attributes the repository resolves by a join (e.g. 'groups.value' on users, 'members.value' on groups) */
  join?: string;
  /** a computed attribute: called to build the query for (op, value) instead of using field (core `active`) */
  compute?: (op: CompareOp, value: unknown) => MongoQuery;
}

/** Resolves a SCIM attribute path to its stored field, or undefined when the attribute does not exist. */
export type FieldResolver = AttributeResolver<ResolvedAttribute>;

export interface CompiledFilter {
  /** MongoDB query. Exact, or a superset of the matches when `exact` is false. Joins appear as { $join: { name, op, value } }. */
  query: MongoQuery;
  /** false when the query over-approximates; the repository then also applies `matches` in memory */
  exact: boolean;
  /** Exact in-memory evaluation against the SCIM form of a resource. */
  matches(resource: Record<string, unknown>): boolean;
}

/** The value a `$join` node carries; the repository replaces the node with a query on the stored document. */
export interface JoinNode {
  $join: { name: string; op: CompareOp; value: unknown };
}

type Checked = CheckedFilter<ResolvedAttribute>;

interface Part {
  q: MongoQuery;
  exact: boolean;
}

const MONGO_ORDER: Record<string, string> = { gt: '$gt', ge: '$gte', lt: '$lt', le: '$lte' };

/** Escapes every regular-expression metacharacter (and NUL, which BSON regex patterns cannot hold). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replace(/\0/g, '\\x00');
}

const isEmpty = (q: MongoQuery) => Object.keys(q).length === 0;

function andQuery(queries: MongoQuery[]): MongoQuery {
  const parts = queries.filter((q) => !isEmpty(q));
  if (parts.length === 0) return {};
  return parts.length === 1 ? parts[0] : { $and: parts };
}

function orQuery(queries: MongoQuery[]): MongoQuery {
  if (queries.some(isEmpty)) return {};
  return queries.length === 1 ? queries[0] : { $or: queries };
}

/** not(part): exact only when part is; an inexact part cannot be negated (the complement of a superset is a subset). */
function negate(part: Part): Part {
  return { q: part.exact ? { $nor: [part.q] } : {}, exact: part.exact };
}

const MATCH_ALL_INEXACT: Part = { q: {}, exact: false };

/**
 * The query of a checked filter. `inArray`: the conditions are on the elements of a multi-valued value
 * path, as dotted paths into an array, which cannot tie several conditions (or a negation) to one element.
 */
function queryOf(node: Checked, inArray: boolean): Part {
  switch (node.kind) {
    case 'and': {
      const parts = node.items.map((item) => queryOf(item, inArray));
      const sameElement = inArray && parts.length > 1;
      return { q: andQuery(parts.map((p) => p.q)), exact: !sameElement && parts.every((p) => p.exact) };
    }
    case 'or': {
      const parts = node.items.map((item) => queryOf(item, inArray));
      return { q: orQuery(parts.map((p) => p.q)), exact: parts.every((p) => p.exact) };
    }
    case 'not':
      return inArray ? MATCH_ALL_INEXACT : negate(queryOf(node.item, inArray));
    case 'valuePath':
      return valuePathQuery(node.attr, node.filter);
    case 'present': {
      const present = presentQuery(node.attr);
      if (!node.absent) return present;
      return inArray ? MATCH_ALL_INEXACT : negate(present);
    }
    case 'compare':
      if (inArray && node.op === 'ne') return MATCH_ALL_INEXACT;
      return compareQuery(node.attr, node.op, node.operand);
  }
}

function valuePathQuery(parent: ResolvedAttribute, filter: Checked): Part {
  const inner = queryOf(filter, parent.multiValued);
  if (parent.multiValued) {
    // When inner.q is only a superset (several conditions, not, ne), $elemMatch ties them to one
    // element; inner.q stays beside it, since it reaches the indexed shadow fields that $elemMatch cannot.
    const element = inner.exact ? undefined : elementQuery(filter, parent.field);
    if (element) return { q: andQuery([inner.q, { [parent.field]: { $elemMatch: element } }]), exact: true };
    return inner;
  }
  // single-valued complex: the element must exist, then the conditions apply to it like ordinary sub-attributes
  const exists = parent.compute || parent.join ? {} : { [parent.field]: { $exists: true, $ne: null } };
  return { q: andQuery([exists, inner.q]), exact: inner.exact };
}

/**
 * The conditions of a value filter on the fields of one element, for `$elemMatch`; undefined when
 * one cannot be written there (a case-insensitive order comparison: decided in memory instead).
 */
function elementQuery(node: Checked, parentField: string): MongoQuery | undefined {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const queries = node.items.map((item) => elementQuery(item, parentField));
      if (!queries.every((q) => q !== undefined)) return undefined;
      return { [node.kind === 'and' ? '$and' : '$or']: queries };
    }
    case 'not': {
      const query = elementQuery(node.item, parentField);
      return query && { $nor: [query] };
    }
    case 'valuePath':
      return undefined;
    case 'present':
    case 'compare': {
      const attr = node.attr;
      if (attr.join || attr.compute || attr.type === 'complex') return undefined;
      if (!attr.field.startsWith(`${parentField}.`)) return undefined;
      const local = { ...attr, field: attr.field.slice(parentField.length + 1) };
      if (node.kind === 'compare') return elementCompare(local, node.op, node.operand);
      const present = { [local.field]: { $exists: true, $nin: [null, ''] } };
      return node.absent ? { $nor: [present] } : present;
    }
  }
}

function presentQuery(attr: ResolvedAttribute): Part {
  if (attr.compute) return { q: attr.compute('pr', undefined), exact: true };
  if (attr.join) return { q: { $join: { name: attr.join, op: 'pr', value: undefined } }, exact: true };
  const f = attr.field;
  if (attr.type === 'complex') {
    return {
      q: { [f]: attr.multiValued ? { $exists: true, $nin: [null, []] } : { $exists: true, $ne: null } },
      exact: true,
    };
  }
  // a dotted path into an array: `$nin` would exclude a document when *any* element lacks the value
  if (attr.multiValued) return { q: { [f]: { $exists: true } }, exact: false };
  return { q: { [f]: { $exists: true, $nin: [null, '', []] } }, exact: true };
}

/** One comparison on a field of an array element (inside `$elemMatch`, where shadow fields do not reach). */
function elementCompare(
  attr: ResolvedAttribute,
  op: Exclude<CompareOp, 'pr'>,
  operand: Operand,
): MongoQuery | undefined {
  const f = attr.field;
  if (typeof operand !== 'string' || attr.caseExact) {
    if (SUBSTRING_OPS.has(op)) return compareQuery(attr, op, operand).q;
    if (op === 'eq') return { [f]: operand };
    if (op === 'ne') return { [f]: { $ne: operand } };
    return { [f]: { [MONGO_ORDER[op]]: operand } };
  }
  if (ORDER_OPS.has(op)) return undefined;
  const escaped = escapeRegex(operand);
  const pattern = op === 'sw' ? `^${escaped}` : op === 'ew' ? `${escaped}$` : op === 'co' ? escaped : `^${escaped}$`;
  const match = { [f]: { $regex: pattern, $options: 'i' } };
  return op === 'ne' ? { $nor: [match] } : match;
}

function compareQuery(attr: ResolvedAttribute, op: CompareOp, operand: Operand): Part {
  if (attr.compute) return { q: attr.compute(op, operand), exact: true };
  if (attr.join) return { q: { $join: { name: attr.join, op, value: operand } }, exact: true };
  const f = attr.field;
  const isString = typeof operand === 'string';
  const folded = isString && !attr.caseExact;
  const nf = folded ? attr.normalizedField : undefined;
  const text = isString ? (nf ? normalizeText(operand) : operand) : '';
  switch (op) {
    case 'eq':
    case 'ne': {
      if (folded && !nf) {
        const eq = { [f]: { $regex: `^${escapeRegex(text)}$`, $options: 'i' } };
        return { q: op === 'eq' ? eq : { $nor: [eq] }, exact: true };
      }
      const key = nf ?? f;
      const v = nf ? text : operand;
      return { q: { [key]: op === 'eq' ? v : { $ne: v } }, exact: true };
    }
    case 'co':
    case 'sw':
    case 'ew': {
      const escaped = escapeRegex(text);
      const pattern = op === 'sw' ? `^${escaped}` : op === 'ew' ? `${escaped}$` : escaped;
      if (nf) return { q: { [nf]: { $regex: pattern } }, exact: true };
      return { q: { [f]: folded ? { $regex: pattern, $options: 'i' } : { $regex: pattern } }, exact: true };
    }
    default: {
      // gt ge lt le; a case-insensitive order without a normalized field cannot be expressed: match all, decide in memory
      if (folded && !nf) return { q: {}, exact: false };
      return { q: { [nf ?? f]: { [MONGO_ORDER[op]]: nf ? text : operand } }, exact: true };
    }
  }
}

/**
 * Compiles a SCIM filter (its text, or the tree parseFilter made of it). Throws ScimError 400 invalidFilter
 * for anything it cannot evaluate: syntax errors, unknown attributes, operators that do not fit the
 * attribute's type, nested value paths, too long or too deep.
 */
export function compileFilter(filter: string | FilterNode, resolve: FieldResolver): CompiledFilter {
  try {
    const checked = checkFilter(typeof filter === 'string' ? parseFilter(filter) : filter, resolve);
    const { q, exact } = queryOf(checked, false);
    return { query: q, exact, matches: matcherOf(checked) };
  } catch (error) {
    // a stack overflow cannot come from the depth-checked parser, but if it ever does it is the client's filter
    if (error instanceof RangeError) throw invalid('the filter is too complex');
    throw error;
  }
}
