/**
 * SCIM filters (RFC 7644 §3.4.2.2) -> a MongoDB query (plain objects) plus an exact in-memory matcher.
 *
 * A small recursive-descent parser of our own (scim2-parse-filter mangles JSON string escapes, merges Entra's
 * `emails[type eq "work"].value eq "x"` into two independent conditions and has no depth limit), then a
 * translator: a value path with several conditions becomes `$elemMatch` (beside dotted-path conditions on the
 * indexed shadow fields). Only what a query cannot say (a case-insensitive order comparison inside a value
 * path) compiles to a superset (`exact: false`) that `matches()` finishes in memory.
 */
import { ScimError } from './errors.js';
import { ATTRNAME, quote, tryParseAttributePath, type AttributePath } from './attributePath.js';

export { parseAttributePath, type AttributePath } from './attributePath.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le' | 'pr';
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

export const MAX_FILTER_LENGTH = 10_000;
/** Nesting limit for parentheses, `not` and value paths together. */
export const MAX_FILTER_DEPTH = 50;

// ---------------------------------------------------------------------------------------------------------------
// Syntax tree

export type FilterValue = string | number | boolean | null;
export type FilterNode =
  | { kind: 'and' | 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  /** Inside a value path, `path` is relative to the element: `{ attribute: <sub-attribute name> }`. */
  | { kind: 'compare'; path: AttributePath; op: CompareOp; value?: FilterValue }
  | { kind: 'valuePath'; path: AttributePath; filter: FilterNode };

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr']);
const ORDER_OPS = new Set<CompareOp>(['gt', 'ge', 'lt', 'le']);
const MONGO_ORDER: Record<string, string> = { gt: '$gt', ge: '$gte', lt: '$lt', le: '$lte' };
const SUBSTRING_OPS = new Set<CompareOp>(['co', 'sw', 'ew']);

function invalid(detail: string): ScimError {
  return new ScimError(400, `Invalid filter: ${detail}`, 'invalidFilter');
}

type TokenType = 'word' | 'string' | '(' | ')' | '[' | ']' | 'end';
interface Token {
  type: TokenType;
  text: string;
  /** decoded value of a string token */
  value?: string;
  start: number;
  end: number;
}

const WORD_CHAR = /[A-Za-z0-9_$:.\-+%/]/;
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ type: c, text: c, start: i, end: i + 1 });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw invalid(`unterminated string starting at position ${i}`);
      const raw = text.slice(i, j + 1);
      let value: unknown;
      try {
        // JSON string escapes; raw control characters are tolerated (escaped before parsing)
        value = JSON.parse(
          // eslint-disable-next-line no-control-regex
          raw.replace(/[\u0000-\u001f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`),
        );
      } catch {
        throw invalid(`invalid escape in the string starting at position ${i}`);
      }
      tokens.push({ type: 'string', text: raw, value: value as string, start: i, end: j + 1 });
      i = j + 1;
    } else if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j])) j++;
      tokens.push({ type: 'word', text: text.slice(i, j), start: i, end: j });
      i = j;
    } else {
      throw invalid(`unexpected character ${quote(c)} at position ${i}`);
    }
  }
  tokens.push({ type: 'end', text: '', start: text.length, end: text.length });
  return tokens;
}

function describe(token: Token): string {
  return token.type === 'end' ? 'the end of the filter' : `${quote(token.text, 40)} at position ${token.start}`;
}

class Parser {
  private pos = 0;
  private depth = 0;
  private inValuePath = false;

  constructor(private readonly tokens: Token[]) {}

  parse(): FilterNode {
    const node = this.parseOr();
    const t = this.peek();
    if (t.type !== 'end') {
      throw invalid(`expected "and", "or" or the end of the filter but found ${describe(t)}`);
    }
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  private expect(type: TokenType): Token {
    const t = this.next();
    if (t.type !== type) throw invalid(`expected "${type}" but found ${describe(t)}`);
    return t;
  }

  private isKeyword(token: Token, keyword: string): boolean {
    return token.type === 'word' && token.text.toLowerCase() === keyword;
  }

  /** Checked before every recursive descent, so no input can exhaust the stack. */
  private enter(at: Token): void {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw invalid(`nesting deeper than ${MAX_FILTER_DEPTH} levels at position ${at.start}`);
    }
  }

  private leave(): void {
    this.depth--;
  }

  private parseOr(): FilterNode {
    const items = [this.parseAnd()];
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  private parseAnd(): FilterNode {
    const items = [this.parseUnary()];
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      items.push(this.parseUnary());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  }

  private parseUnary(): FilterNode {
    const t = this.peek();
    if (t.type === '(') {
      this.enter(t);
      this.next();
      const node = this.parseOr();
      this.expect(')');
      this.leave();
      return node;
    }
    if (this.isKeyword(t, 'not')) {
      const after = this.peek(1);
      // `not(...)` per RFC; `not attr op value` tolerated; `not eq "x"` / `not pr` is an attribute named "not"
      if (after.type === '(' || (after.type === 'word' && !COMPARE_OPS.has(after.text.toLowerCase()))) {
        this.enter(t);
        this.next();
        const item = this.parseUnary();
        this.leave();
        return { kind: 'not', item };
      }
    }
    if (t.type === 'word') return this.parseAttributeExpression();
    throw invalid(`expected an attribute, "not" or "(" but found ${describe(t)}`);
  }

  private parsePath(token: Token): AttributePath {
    if (this.inValuePath) {
      if (!ATTRNAME.test(token.text)) {
        throw invalid(`${quote(token.text, 60)} at position ${token.start} is not a sub-attribute name`);
      }
      return { attribute: token.text };
    }
    const path = tryParseAttributePath(token.text);
    if (typeof path === 'string') throw invalid(`${path} (position ${token.start})`);
    return path;
  }

  private parseAttributeExpression(): FilterNode {
    const pathToken = this.next();
    const path = this.parsePath(pathToken);
    const t = this.peek();
    if (t.type === '[') {
      if (this.inValuePath) throw invalid(`nested value paths are not supported (position ${t.start})`);
      if (path.subAttribute) {
        throw invalid(`a value path needs a multi-valued attribute, not ${quote(pathToken.text, 60)}`);
      }
      this.enter(t);
      this.next();
      this.inValuePath = true;
      const inner = this.parseOr();
      const close = this.expect(']');
      this.inValuePath = false;
      this.leave();
      const sub = this.peek();
      // Entra: emails[type eq "work"].value eq "x" -> one element with type work and value x
      if (sub.type === 'word' && sub.start === close.end && sub.text.startsWith('.')) {
        this.next();
        const name = sub.text.slice(1);
        if (!ATTRNAME.test(name))
          throw invalid(`${quote(sub.text, 60)} at position ${sub.start} is not a sub-attribute`);
        const compare = this.parseComparison({ attribute: name });
        return { kind: 'valuePath', path, filter: { kind: 'and', items: [inner, compare] } };
      }
      return { kind: 'valuePath', path, filter: inner };
    }
    return this.parseComparison(path);
  }

  private parseComparison(path: AttributePath): FilterNode {
    const t = this.next();
    const op = t.type === 'word' ? t.text.toLowerCase() : '';
    if (!COMPARE_OPS.has(op))
      throw invalid(`expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) but found ${describe(t)}`);
    if (op === 'pr') return { kind: 'compare', path, op };
    return { kind: 'compare', path, op: op as CompareOp, value: this.parseValue() };
  }

  private parseValue(): FilterValue {
    const t = this.next();
    if (t.type === 'string') return t.value!;
    if (t.type === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (NUMBER.test(t.text)) {
        const n = Number(t.text);
        if (!Number.isFinite(n)) throw invalid(`number out of range at position ${t.start}`);
        return n;
      }
    }
    throw invalid(`expected a value (a "string", a number, true, false or null) but found ${describe(t)}`);
  }
}

/** Parses a filter into its syntax tree; throws ScimError 400 invalidFilter. */
export function parseFilter(filter: string): FilterNode {
  if (typeof filter !== 'string') throw invalid('the filter must be a string');
  if (filter.length > MAX_FILTER_LENGTH) throw invalid(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (filter.trim() === '') throw invalid('the filter is empty');
  return new Parser(tokenize(filter)).parse();
}

// ---------------------------------------------------------------------------------------------------------------
// Values

/** The normalization of the shadow fields (`norm.*`): lower-cased, then Unicode NFC. Mapping code must use this. */
export function normalizeText(value: string): string {
  return value.toLowerCase().normalize('NFC');
}

/** Escapes every regular-expression metacharacter (and NUL, which BSON regex patterns cannot hold). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replace(/\0/g, '\\x00');
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** Parses an RFC 3339 / ISO 8601 date-time (or date) strictly; no zone means UTC. Undefined when invalid. */
export function parseDateTime(value: string): Date | undefined {
  const m = ISO_DATE.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) =>
    x === undefined ? undefined : Number(x),
  ) as number[];
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offset = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offset, second, millis);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

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
// In-memory evaluation on the SCIM form

const CORE_URN = /^urn:ietf:params:scim:schemas:core:/i;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function getKey(object: unknown, key: string): unknown {
  if (!isObject(object)) return undefined;
  if (Object.hasOwn(object, key)) return object[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(object)) if (k.toLowerCase() === lower) return object[k];
  return undefined;
}

const listOf = (value: unknown): unknown[] =>
  (Array.isArray(value) ? value : [value]).filter((v) => v !== undefined && v !== null);

/** Extension attributes live under their URN key; core attributes (with or without the core URN) at the top. */
function rootOf(resource: unknown, urn: string | undefined): unknown {
  if (!urn) return resource;
  const extension = getKey(resource, urn);
  if (isObject(extension)) return extension;
  return CORE_URN.test(urn) ? resource : undefined;
}

function elementsOf(root: unknown, attribute: string): unknown[] {
  return listOf(getKey(root, attribute));
}

function subValuesOf(element: unknown, subAttribute: string): unknown[] {
  if (isObject(element)) return listOf(getKey(element, subAttribute));
  // a multi-valued simple attribute: `value` is the element itself
  return subAttribute.toLowerCase() === 'value' ? listOf(element) : [];
}

function valuesOf(root: unknown, attribute: string, subAttribute?: string): unknown[] {
  const elements = elementsOf(root, attribute);
  return subAttribute === undefined ? elements : elements.flatMap((el) => subValuesOf(el, subAttribute));
}

const isPresent = (value: unknown) => value !== null && value !== undefined && value !== '';

/** Compares by Unicode code point (MongoDB's binary UTF-8 order), not by UTF-16 unit. */
function compareStrings(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return i < a.length ? 1 : j < b.length ? -1 : 0;
}

function toTime(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string') return parseDateTime(value)?.getTime();
  return undefined;
}

/** Orders a resource value against the operand; undefined when they are not comparable. */
function order(attr: ResolvedAttribute, value: unknown, operand: unknown): number | undefined {
  if (operand instanceof Date) {
    const t = toTime(value);
    return t === undefined ? undefined : Math.sign(t - operand.getTime());
  }
  if (typeof operand === 'string') {
    if (typeof value !== 'string') return undefined;
    return attr.caseExact
      ? compareStrings(value, operand)
      : compareStrings(normalizeText(value), normalizeText(operand));
  }
  if (typeof operand === 'number' || typeof operand === 'boolean') {
    if (typeof value !== typeof operand) return undefined;
    return value === operand ? 0 : (value as number) < (operand as number) ? -1 : 1;
  }
  return undefined;
}

function evaluate(attr: ResolvedAttribute, op: CompareOp, operand: unknown, values: unknown[]): boolean {
  switch (op) {
    case 'eq':
      return values.some((v) => order(attr, v, operand) === 0);
    case 'ne':
      return !values.some((v) => order(attr, v, operand) === 0);
    case 'co':
    case 'sw':
    case 'ew': {
      const fold = (s: string) => (attr.caseExact ? s : normalizeText(s));
      const needle = fold(operand as string);
      return values.some((v) => {
        if (typeof v !== 'string') return false;
        const hay = fold(v);
        return op === 'co' ? hay.includes(needle) : op === 'sw' ? hay.startsWith(needle) : hay.endsWith(needle);
      });
    }
    default:
      return values.some((v) => {
        const c = order(attr, v, operand);
        if (c === undefined) return false;
        return op === 'gt' ? c > 0 : op === 'ge' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
      });
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
