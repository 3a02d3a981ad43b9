// Over ~350 lines on purpose: a pure protocol module, one translation (filter AST -> MongoDB query) read top to bottom.
/**
 * SCIM filters (RFC 7644 §3.4.2.2) -> a MongoDB query (plain objects) plus an exact in-memory matcher.
 *
 * filterParser.ts reads the text, this translator writes the query: a value path with several
 * conditions becomes `$elemMatch` (beside dotted-path conditions on the indexed shadow fields). Only
 * what a query cannot say (a case-insensitive order comparison inside a value path) compiles to a
 * superset (`exact: false`) that `matches()` (filterMatch.ts) finishes in memory.
 */
import { quote, type AttributePath } from './attributePath.js';
import {
  elementsOf,
  escapeRegex,
  evaluate,
  isPresent,
  normalizeText,
  parseDateTime,
  rootOf,
  subValuesOf,
  valuesOf,
} from './filterMatch.js';
import {
  invalid,
  NUMBER,
  ORDER_OPS,
  parseFilter,
  SUBSTRING_OPS,
  type CompareOp,
  type FilterNode,
  type FilterValue,
} from './filterParser.js';

export { parseAttributePath, type AttributePath } from './attributePath.js';
export { escapeRegex, normalizeText, parseDateTime } from './filterMatch.js';
export {
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  parseFilter,
  type CompareOp,
  type FilterNode,
  type FilterValue,
} from './filterParser.js';

export type MongoQuery = Record<string, unknown>;

export interface ResolvedAttribute {
  /** dotted path in the stored document, e.g. 'name.givenName', 'enterprise.employeeNumber', 'emails.value' */
  field: string;
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
  caseExact: boolean;
  /** true when the field holds several values (a multi-valued attribute, or a sub-attribute of one: 'emails.value') */
  multiValued: boolean;
  /** optional normalized shadow field holding lower-cased NFC values (see normalizeText) */
  normalizedField?: string;
  /** special attributes the repository resolves by a join (e.g. 'groups.value' on users, 'members.value' on groups) */
  join?: string;
  /** a computed attribute: called to build the query for (op, value) instead of using field (core `active`) */
  compute?: (op: CompareOp, value: unknown) => MongoQuery;
  /**
   * Optional: URN of the extension schema defining the attribute. Only needed when the resolver accepts an
   * extension attribute without its URN prefix: `matches()` then reads it from `resource[schema]`.
   */
  schema?: string;
}

/** Resolves a SCIM attribute path case-insensitively, or returns undefined when the attribute does not exist. */
export type AttributeResolver = (path: {
  urn?: string;
  attribute: string;
  subAttribute?: string;
}) => ResolvedAttribute | undefined;

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

const MONGO_ORDER: Record<string, string> = { gt: '$gt', ge: '$gte', lt: '$lt', le: '$lte' };

// ---------------------------------------------------------------------------------------------------------------
// Values

const STRING_TYPES = new Set(['string', 'reference', 'binary']);

function attributeName(path: AttributePath): string {
  return `${path.urn ? `${path.urn}:` : ''}${path.attribute}${path.subAttribute ? `.${path.subAttribute}` : ''}`;
}

/** Converts a filter value to the attribute's type (Entra sends "True"/"False" for booleans). */
function coerce(attr: ResolvedAttribute, op: CompareOp, value: FilterValue, name: string): unknown {
  if (STRING_TYPES.has(attr.type)) {
    if (typeof value === 'string') return value;
    return String(value);
  }
  if (SUBSTRING_OPS.has(op)) throw invalid(`"${op}" needs a string attribute; ${quote(name, 60)} is ${attr.type}`);
  if (attr.type === 'boolean') {
    if (ORDER_OPS.has(op)) throw invalid(`"${op}" cannot compare the boolean attribute ${quote(name, 60)}`);
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    throw invalid(`${quote(name, 60)} is boolean; compare it with true or false`);
  }
  if (attr.type === 'integer' || attr.type === 'decimal') {
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && NUMBER.test(value.trim()) && Number.isFinite(Number(value))) return Number(value);
    throw invalid(`${quote(name, 60)} is a number; ${quote(String(value), 40)} is not`);
  }
  if (attr.type === 'dateTime') {
    const date = typeof value === 'string' ? parseDateTime(value.trim()) : undefined;
    if (!date) throw invalid(`${quote(String(value), 40)} is not a valid dateTime for ${quote(name, 60)}`);
    return date;
  }
  throw invalid(`cannot compare ${quote(name, 60)} (${attr.type})`);
}
// ---------------------------------------------------------------------------------------------------------------
// Translation

interface Part {
  q: MongoQuery;
  exact: boolean;
  /** exact evaluation against a context: the SCIM resource, or one element of a value path */
  test(ctx: unknown): boolean;
}

/** The context compare nodes are resolved in: the resource, or the elements of a value path. */
type Scope =
  | { kind: 'resource' }
  | {
      kind: 'element';
      parent: AttributePath;
      /** the parent is multi-valued: conditions are on dotted paths into an array */ array: boolean;
    };

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
  return {
    q: part.exact ? { $nor: [part.q] } : {},
    exact: part.exact,
    test: (ctx) => !part.test(ctx),
  };
}

const MATCH_ALL_INEXACT = (test: Part['test']): Part => ({ q: {}, exact: false, test });

class Translator {
  constructor(private readonly resolve: AttributeResolver) {}

  compile(node: FilterNode, scope: Scope): Part {
    switch (node.kind) {
      case 'and': {
        const parts = node.items.map((n) => this.compile(n, scope));
        // several conditions on the elements of one array cannot be tied to the same element without $elemMatch
        const sameElement = scope.kind === 'element' && scope.array && parts.length > 1;
        return {
          q: andQuery(parts.map((p) => p.q)),
          exact: !sameElement && parts.every((p) => p.exact),
          test: (ctx) => parts.every((p) => p.test(ctx)),
        };
      }
      case 'or': {
        // "some element satisfies a or b" == "some element satisfies a" or "some element satisfies b"
        const parts = node.items.map((n) => this.compile(n, scope));
        return {
          q: orQuery(parts.map((p) => p.q)),
          exact: parts.every((p) => p.exact),
          test: (ctx) => parts.some((p) => p.test(ctx)),
        };
      }
      case 'not': {
        const part = this.compile(node.item, scope);
        if (scope.kind === 'element' && scope.array) return MATCH_ALL_INEXACT((ctx) => !part.test(ctx));
        return negate(part);
      }
      case 'valuePath':
        return this.compileValuePath(node.path, node.filter);
      case 'compare':
        return this.compileCompare(node.path, node.op, node.value, scope);
    }
  }

  private compileValuePath(path: AttributePath, filter: FilterNode): Part {
    const name = attributeName(path);
    const parent = this.resolve(path);
    if (!parent) throw invalid(`unknown attribute ${quote(name, 100)}`);
    if (parent.type !== 'complex' && !parent.multiValued) {
      throw invalid(`${quote(name, 100)} is neither multi-valued nor complex, so it cannot have a value filter`);
    }
    const scope: Scope = { kind: 'element', parent: path, array: parent.multiValued };
    const inner = this.compile(filter, scope);
    const urn = parent.schema ?? path.urn;
    const test = (resource: unknown) => elementsOf(rootOf(resource, urn), path.attribute).some((el) => inner.test(el));
    if (parent.multiValued) {
      // When inner.q is only a superset (several conditions, not, ne), $elemMatch ties them to one
      // element; inner.q stays beside it, since it reaches the indexed shadow fields that $elemMatch cannot.
      const element = inner.exact ? undefined : this.elementQuery(filter, path, parent.field);
      if (element) return { q: andQuery([inner.q, { [parent.field]: { $elemMatch: element } }]), exact: true, test };
      return { q: inner.q, exact: inner.exact, test };
    }
    // single-valued complex: the element must exist, then the conditions apply to it like ordinary sub-attributes
    const exists = parent.compute || parent.join ? {} : { [parent.field]: { $exists: true, $ne: null } };
    return { q: andQuery([exists, inner.q]), exact: inner.exact, test };
  }

  /**
   * The conditions of a value filter on the fields of one element, for `$elemMatch`; undefined when
   * one cannot be written there (a case-insensitive order comparison: decided in memory instead).
   */
  private elementQuery(node: FilterNode, parent: AttributePath, parentField: string): MongoQuery | undefined {
    const all = (items: FilterNode[]) => {
      const queries = items.map((item) => this.elementQuery(item, parent, parentField));
      return queries.every((q) => q !== undefined) ? queries : undefined;
    };
    switch (node.kind) {
      case 'and':
      case 'or': {
        const queries = all(node.items);
        return queries && { [node.kind === 'and' ? '$and' : '$or']: queries };
      }
      case 'not': {
        const query = this.elementQuery(node.item, parent, parentField);
        return query && { $nor: [query] };
      }
      case 'valuePath':
        return undefined;
      case 'compare': {
        const full = {
          ...(parent.urn ? { urn: parent.urn } : {}),
          attribute: parent.attribute,
          subAttribute: node.path.attribute,
        };
        const attr = this.resolve(full);
        if (!attr || attr.join || attr.compute || attr.type === 'complex') return undefined;
        if (!attr.field.startsWith(`${parentField}.`)) return undefined;
        return elementCompare(
          { ...attr, field: attr.field.slice(parentField.length + 1) },
          node.op,
          node.value,
          attributeName(full),
        );
      }
    }
  }

  private compileCompare(path: AttributePath, op: CompareOp, value: FilterValue | undefined, scope: Scope): Part {
    let full: AttributePath =
      scope.kind === 'resource'
        ? path
        : {
            ...(scope.parent.urn ? { urn: scope.parent.urn } : {}),
            attribute: scope.parent.attribute,
            subAttribute: path.attribute,
          };
    let name = attributeName(full);
    let attr = this.resolve(full);
    if (!attr) throw invalid(`unknown attribute ${quote(name, 100)}`);
    const array = scope.kind === 'element' && scope.array;

    if (attr.type === 'complex' && op !== 'pr') {
      if (ORDER_OPS.has(op))
        throw invalid(`"${op}" needs a sub-attribute of the complex attribute ${quote(name, 100)}`);
      if (full.subAttribute) throw invalid(`${quote(name, 100)} is complex; filter on one of its sub-attributes`);
      // `emails eq "x"` means `emails.value eq "x"` (RFC 7644 §3.4.2.2 on multi-valued attributes)
      full = { ...full, subAttribute: 'value' };
      name = attributeName(full);
      attr = this.resolve(full);
      if (!attr || attr.type === 'complex') {
        throw invalid(`${quote(attributeName(path), 100)} is complex; filter on one of its sub-attributes`);
      }
    }
    const resolved = attr;
    const urn = resolved.schema ?? full.urn;
    const values: (ctx: unknown) => unknown[] =
      scope.kind === 'resource'
        ? (resource) => valuesOf(rootOf(resource, urn), full.attribute, full.subAttribute)
        : (element) => subValuesOf(element, path.attribute);

    if (op === 'pr' || value === null) {
      if (op !== 'pr' && op !== 'eq' && op !== 'ne')
        throw invalid(`null can only be compared with eq or ne (${quote(name, 100)})`);
      const present: Part = {
        ...presentQuery(resolved),
        test: (ctx) => values(ctx).some(isPresent),
      };
      if (op === 'eq') return array ? MATCH_ALL_INEXACT((ctx) => !present.test(ctx)) : negate(present);
      return present;
    }
    const operand = coerce(resolved, op, value as FilterValue, name);
    const test = (ctx: unknown) => evaluate(resolved, op, operand, values(ctx));
    if (array && op === 'ne') return MATCH_ALL_INEXACT(test);
    return { ...compareQuery(resolved, op, operand), test };
  }
}

function presentQuery(attr: ResolvedAttribute): { q: MongoQuery; exact: boolean } {
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
  op: CompareOp,
  value: FilterValue | undefined,
  name: string,
): MongoQuery | undefined {
  const f = attr.field;
  if (op === 'pr' || value === null || value === undefined) {
    const present = { [f]: { $exists: true, $nin: [null, ''] } };
    return op === 'eq' ? { $nor: [present] } : present;
  }
  const operand = coerce(attr, op, value, name);
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

function compareQuery(attr: ResolvedAttribute, op: CompareOp, operand: unknown): { q: MongoQuery; exact: boolean } {
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
// ---------------------------------------------------------------------------------------------------------------

/**
 * Compiles a SCIM filter. Throws ScimError 400 invalidFilter for anything it cannot evaluate: syntax errors,
 * unknown attributes, operators that do not fit the attribute's type, nested value paths, too long or too deep.
 */
export function compileFilter(filter: string, resolve: AttributeResolver): CompiledFilter {
  try {
    const tree = parseFilter(filter);
    const part = new Translator(resolve).compile(tree, { kind: 'resource' });
    return {
      query: part.q,
      exact: part.exact,
      matches: (resource) => part.test(resource),
    };
  } catch (error) {
    // a stack overflow cannot come from the depth-checked parser, but if it ever does it is the client's filter
    if (error instanceof RangeError) throw invalid('the filter is too complex');
    throw error;
  }
}
