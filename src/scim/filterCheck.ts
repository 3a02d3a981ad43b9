/**
 * A parsed filter checked against a resource type's attributes (RFC 7644 §3.4.2.2): every path
 * resolved, every operand converted to its attribute's type, every misfit refused with 400
 * invalidFilter. The checked tree is what the in-memory matcher (filterMatch.ts) and a storage query
 * both read, so neither resolves a name or converts a value again. Pure.
 */
import { quote, type AttributePath } from './attributePath.js';
import { matcherOf, parseDateTime } from './filterMatch.js';
import {
  invalid,
  NUMBER,
  ORDER_OPS,
  SUBSTRING_OPS,
  type CompareOp,
  type FilterNode,
  type FilterValue,
} from './filterParser.js';

/** What the protocol knows of an attribute a filter names; storage adds where it is kept. */
export interface FilterAttribute {
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
  caseExact: boolean;
  /** true when the attribute holds several values (a multi-valued attribute, or a sub-attribute of one: 'emails.value') */
  multiValued: boolean;
  /**
   * Optional: URN of the extension schema defining the attribute. Only needed when the resolver accepts an
   * extension attribute without its URN prefix: the matcher then reads it from `resource[schema]`.
   */
  schema?: string;
}

/** Resolves a SCIM attribute path case-insensitively, or returns undefined when the attribute does not exist. */
export type AttributeResolver<A extends FilterAttribute = FilterAttribute> = (path: AttributePath) => A | undefined;

/** Where a condition's values are read: an attribute of the resource, or a sub-attribute of a value path's element. */
export type ValueSource =
  { in: 'resource'; urn?: string; attribute: string; subAttribute?: string } | { in: 'element'; subAttribute: string };

/** An operand converted to its attribute's type. */
export type Operand = string | number | boolean | Date;

export type CheckedFilter<A extends FilterAttribute = FilterAttribute> =
  | { kind: 'and' | 'or'; items: CheckedFilter<A>[] }
  | { kind: 'not'; item: CheckedFilter<A> }
  /** `attr[filter]`: `filter` holds for one element of the attribute (or for the single complex value). */
  | { kind: 'valuePath'; path: AttributePath; attr: A; filter: CheckedFilter<A> }
  /** `pr`, `eq null` (absent: true) and `ne null`. */
  | { kind: 'present'; attr: A; source: ValueSource; absent: boolean }
  | { kind: 'compare'; attr: A; source: ValueSource; op: Exclude<CompareOp, 'pr'>; operand: Operand };

const STRING_TYPES = new Set(['string', 'reference', 'binary']);

function attributeName(path: AttributePath): string {
  return `${path.urn ? `${path.urn}:` : ''}${path.attribute}${path.subAttribute ? `.${path.subAttribute}` : ''}`;
}

/** Converts a filter value to the attribute's type (Entra sends "True"/"False" for booleans). */
function coerce(attr: FilterAttribute, op: CompareOp, value: FilterValue, name: string): Operand {
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

/**
 * Checks a filter; throws ScimError 400 invalidFilter for anything that cannot be evaluated: unknown
 * attributes, operators that do not fit the attribute's type, values of the wrong type.
 */
export function checkFilter<A extends FilterAttribute>(
  node: FilterNode,
  resolve: AttributeResolver<A>,
): CheckedFilter<A> {
  /** `parent`: the value path the node is inside of; its paths name sub-attributes of the parent's elements. */
  function check(node: FilterNode, parent?: AttributePath): CheckedFilter<A> {
    switch (node.kind) {
      case 'and':
      case 'or':
        return { kind: node.kind, items: node.items.map((item) => check(item, parent)) };
      case 'not':
        return { kind: 'not', item: check(node.item, parent) };
      case 'valuePath':
        return checkValuePath(node.path, node.filter);
      case 'compare':
        return checkCompare(node.path, node.op, node.value, parent);
    }
  }

  function checkValuePath(path: AttributePath, filter: FilterNode): CheckedFilter<A> {
    const name = attributeName(path);
    const attr = resolve(path);
    if (!attr) throw invalid(`unknown attribute ${quote(name, 100)}`);
    if (attr.type !== 'complex' && !attr.multiValued) {
      throw invalid(`${quote(name, 100)} is neither multi-valued nor complex, so it cannot have a value filter`);
    }
    return { kind: 'valuePath', path, attr, filter: check(filter, path) };
  }

  function checkCompare(
    path: AttributePath,
    op: CompareOp,
    value: FilterValue | undefined,
    parent: AttributePath | undefined,
  ): CheckedFilter<A> {
    let full: AttributePath = parent
      ? { ...(parent.urn ? { urn: parent.urn } : {}), attribute: parent.attribute, subAttribute: path.attribute }
      : path;
    let name = attributeName(full);
    let attr = resolve(full);
    if (!attr) throw invalid(`unknown attribute ${quote(name, 100)}`);
    if (attr.type === 'complex' && op !== 'pr') {
      if (ORDER_OPS.has(op))
        throw invalid(`"${op}" needs a sub-attribute of the complex attribute ${quote(name, 100)}`);
      if (full.subAttribute) throw invalid(`${quote(name, 100)} is complex; filter on one of its sub-attributes`);
      // `emails eq "x"` means `emails.value eq "x"` (RFC 7644 §3.4.2.2 on multi-valued attributes)
      full = { ...full, subAttribute: 'value' };
      name = attributeName(full);
      attr = resolve(full);
      if (!attr || attr.type === 'complex') {
        throw invalid(`${quote(attributeName(path), 100)} is complex; filter on one of its sub-attributes`);
      }
    }
    const source: ValueSource = parent
      ? { in: 'element', subAttribute: path.attribute }
      : { in: 'resource', urn: attr.schema ?? full.urn, attribute: full.attribute, subAttribute: full.subAttribute };
    if (op === 'pr' || value === null) {
      if (op !== 'pr' && op !== 'eq' && op !== 'ne')
        throw invalid(`null can only be compared with eq or ne (${quote(name, 100)})`);
      return { kind: 'present', attr, source, absent: op === 'eq' };
    }
    return { kind: 'compare', attr, source, op, operand: coerce(attr, op, value as FilterValue, name) };
  }

  return check(node);
}

/** The exact in-memory test of a filter (a PATCH value filter, a member filter): checked once, then run per element. */
export function compileMatcher(filter: FilterNode, resolve: AttributeResolver): (resource: unknown) => boolean {
  return matcherOf(checkFilter(filter, resolve));
}
