/**
 * Exact evaluation of a checked SCIM filter (filterCheck.ts) on the SCIM form of a resource, and the
 * value rules whoever else evaluates a filter must share with it: case folding and dates. Pure: no I/O.
 */
import type { CheckedFilter, ValueSource } from './filterCheck.js';
import type { CompareOp } from './filterParser.js';

/**
 * How text compares when an attribute is not caseExact: lower-cased, then Unicode NFC. Whatever stores
 * text for such comparisons (normalized copies, uniqueness keys) must use this.
 */
export function normalizeText(value: string): string {
  return value.toLowerCase().normalize('NFC');
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

/** Compares by Unicode code point (the order of UTF-8 bytes, which storage indexes keep), not by UTF-16 unit. */
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
function order(attr: { caseExact: boolean }, value: unknown, operand: unknown): number | undefined {
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

function evaluate(attr: { caseExact: boolean }, op: CompareOp, operand: unknown, values: unknown[]): boolean {
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

/** Reads a condition's values from the resource, or from one element of a value path. */
function valuesAt(source: ValueSource): (ctx: unknown) => unknown[] {
  if (source.in === 'element') return (element) => subValuesOf(element, source.subAttribute);
  return (resource) => valuesOf(rootOf(resource, source.urn), source.attribute, source.subAttribute);
}

/** The exact test of a checked filter against the SCIM form of a resource. */
export function matcherOf(filter: CheckedFilter): (resource: unknown) => boolean {
  switch (filter.kind) {
    case 'and': {
      const tests = filter.items.map(matcherOf);
      return (ctx) => tests.every((test) => test(ctx));
    }
    case 'or': {
      // "some element satisfies a or b" == "some element satisfies a" or "some element satisfies b"
      const tests = filter.items.map(matcherOf);
      return (ctx) => tests.some((test) => test(ctx));
    }
    case 'not': {
      const test = matcherOf(filter.item);
      return (ctx) => !test(ctx);
    }
    case 'valuePath': {
      const test = matcherOf(filter.filter);
      const urn = filter.attr.schema ?? filter.path.urn;
      return (resource) => elementsOf(rootOf(resource, urn), filter.path.attribute).some(test);
    }
    case 'present': {
      const values = valuesAt(filter.source);
      return (ctx) => values(ctx).some(isPresent) !== filter.absent;
    }
    case 'compare': {
      const values = valuesAt(filter.source);
      return (ctx) => evaluate(filter.attr, filter.op, filter.operand, values(ctx));
    }
  }
}
