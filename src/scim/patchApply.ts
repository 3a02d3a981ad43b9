// Over ~350 lines on purpose: a pure protocol module, RFC 7644 §3.5.2 and the IdP request shapes in one place.
/**
 * Applying SCIM PATCH operations (RFC 7644 §3.5.2, read by patchParse.ts) to the SCIM form of a resource, plus the
 * request shapes Okta and Microsoft Entra ID really send. Pure: no I/O. The caller validates the patched resource
 * against the schema afterwards (types, required, mutability); this module applies operations faithfully and throws
 * ScimError for malformed operations.
 *
 * Decisions (RFC first, then what IdPs send):
 * - replace on a singular complex attribute merges the given sub-attributes (RFC 7644 §3.5.2.3: "Sub-attributes that
 *   are not specified in the value parameter are left unchanged"); when its `value` sub-attribute changes, derived
 *   sub-attributes (readOnly ones and `$ref`, e.g. manager.displayName) that were not supplied are dropped.
 * - replace on `attr[filter]` (no sub-attribute) replaces each matching element wholesale; no match is 400 noTarget.
 *   add on `attr[filter]` merges into matching elements, or appends an element built from the filter's equalities.
 *   add/replace on `attr[filter].sub` with no match appends `{...equalities, sub: value}` (Entra).
 * - remove with a value filter that matches nothing is 400 noTarget; remove of an absent attribute is a no-op.
 * - A value filter is parsed once per operation (a syntax error is 400 invalidFilter) and compiled once by the
 *   caller's ValueFilterCompiler, which knows how the elements' sub-attributes compare.
 * - readOnly sub-attributes inside supplied complex values (members[].display, manager.displayName) are ignored,
 *   as RFC 7643 §7 says for readOnly values in requests; an explicit path to a readOnly (sub-)attribute is 400
 *   mutability. Immutable attributes are left to the caller's validation (it has the old and the new resource).
 * - Unknown attributes (paths or no-path keys) are 400 invalidPath; unknown sub-attribute keys inside a complex value
 *   are 400 invalidValue. Un-prefixed names resolve in the core schema only (plus id, externalId, meta).
 * - null as a value deletes the target; empty arrays and empty complex/extension objects are deleted.
 * - More than one primary:true in the values written by one operation is 400 invalidValue; one primary:true clears
 *   primary on the attribute's other elements.
 * - The result's `schemas` array (when present) lists exactly the extensions that have data.
 */
import { badRequest, ScimError } from './errors.js';
import { parseFilter, type FilterNode } from './filterParser.js';
import { getCI, hasCI, parsePatchPath, type ParsedPatchPath, type PatchOperation } from './patchParse.js';
import { COMMON_ATTRIBUTES, findAttribute, type AttributeDefinition, type SchemaDocument } from './schemaRegistry.js';

/**
 * Compiles a value filter (`emails[type eq "work"]`) once per operation into the test of one element;
 * the caller decides how element attributes are typed.
 */
export type ValueFilterCompiler = (filter: FilterNode) => (element: Record<string, unknown>) => boolean;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalidPath = (detail: string) => badRequest('invalidPath', detail);
const invalidValue = (detail: string) => badRequest('invalidValue', detail);
const noTarget = (detail: string) => badRequest('noTarget', detail);
const mutability = (detail: string) => badRequest('mutability', detail);

interface Context {
  resource: Json;
  core: SchemaDocument;
  coreAttributes: AttributeDefinition[];
  extensions: SchemaDocument[];
  compileValueFilter: ValueFilterCompiler;
}

/** A path's value filter: parsed once, compiled once, then tested on each element. */
interface ValueFilter {
  text: string;
  tree: FilterNode;
  matches(element: Json): boolean;
}

type Target =
  | { kind: 'schema'; urn?: string; attributes: AttributeDefinition[] }
  | { kind: 'attribute'; urn?: string; def: AttributeDefinition; filter?: ValueFilter; sub?: AttributeDefinition };
type AttributeTarget = Extract<Target, { kind: 'attribute' }>;

export function applyPatch(
  resource: Record<string, unknown>,
  operations: PatchOperation[],
  schemas: SchemaDocument[],
  compileValueFilter: ValueFilterCompiler,
): Record<string, unknown> {
  if (schemas.length === 0) throw new Error('applyPatch needs the resource type schemas');
  const [core, ...extensions] = schemas;
  const coreAttributes = [
    ...core.attributes,
    ...COMMON_ATTRIBUTES.filter((c) => !findAttribute(core.attributes, c.name)),
  ];
  const ctx: Context = { resource: clone(resource) as Json, core, coreAttributes, extensions, compileValueFilter };
  for (const op of operations) applyOperation(ctx, op);
  syncSchemas(ctx);
  return ctx.resource;
}

function applyOperation(ctx: Context, op: PatchOperation): void {
  if (!op.path) {
    if (op.op === 'remove') throw noTarget('remove needs a path');
    if (!isObject(op.value)) throw invalidValue('without a path, value must be an object of attributes');
    applyValueObject(ctx, op.op, undefined, op.value);
    return;
  }
  const target = resolve(ctx, op.path);
  if (target.kind === 'schema') {
    if (op.op === 'remove') {
      if (!target.urn) throw invalidPath('the core schema cannot be removed');
      deleteKey(ctx.resource, target.urn);
      return;
    }
    if (op.value === null && target.urn) {
      deleteKey(ctx.resource, target.urn);
      return;
    }
    if (!isObject(op.value)) throw invalidValue(`value for "${op.rawPath ?? ''}" must be an object of attributes`);
    applyValueObject(ctx, op.op, target.urn, op.value);
    return;
  }
  if (isReadOnly(target)) throw mutability(`${describe(target)} is readOnly`);
  if (op.op === 'remove') removeAt(ctx, target, op.value);
  else if (op.value === undefined) throw invalidValue(`${op.op} needs a value`);
  else setAt(ctx, op.op, target, op.value);
}

/** A no-path value (or a whole-schema value): keys are attribute paths within `scopeUrn` (or core). */
function applyValueObject(ctx: Context, op: 'add' | 'replace', scopeUrn: string | undefined, value: Json): void {
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    if (key.toLowerCase() === 'schemas') continue;
    let path = parsePatchPath(key);
    if (!path.urn && scopeUrn) path = { ...path, urn: scopeUrn };
    const target = resolve(ctx, path);
    if (target.kind === 'schema') {
      if (item === null && target.urn) deleteKey(ctx.resource, target.urn);
      else if (!isObject(item)) throw invalidValue(`"${key}" must be an object of attributes`);
      else applyValueObject(ctx, op, target.urn, item);
      continue;
    }
    if (isReadOnly(target)) {
      if (!target.filter && equalsCurrent(ctx, target, item)) continue;
      throw mutability(`${describe(target)} is readOnly`);
    }
    setAt(ctx, op, target, item);
  }
}

function resolve(ctx: Context, path: ParsedPatchPath): Target {
  let attributes = ctx.coreAttributes;
  let urn: string | undefined;
  if (path.urn) {
    const schema = findSchema(ctx, path.urn);
    if (!schema) {
      const whole = !path.filter && !path.subAttribute ? findSchema(ctx, `${path.urn}:${path.attribute}`) : undefined;
      if (whole) return schemaTarget(ctx, whole);
      throw invalidPath(`unknown schema "${path.urn}"`);
    }
    if (path.attribute === '') return schemaTarget(ctx, schema);
    if (schema !== ctx.core) {
      attributes = schema.attributes;
      urn = schema.id;
    }
  } else if (path.attribute === '') {
    throw invalidPath('missing attribute name');
  }
  const def = findAttribute(attributes, path.attribute);
  if (!def) throw invalidPath(`unknown attribute "${path.urn ? `${path.urn}:` : ''}${path.attribute}"`);
  const target: AttributeTarget = { kind: 'attribute', urn, def };
  if (path.filter !== undefined) {
    if (!def.multiValued || def.type !== 'complex') {
      throw invalidPath(`a value filter needs a multi-valued complex attribute; "${def.name}" is not`);
    }
  }
  if (path.subAttribute !== undefined) {
    if (def.type !== 'complex') throw invalidPath(`"${def.name}" has no sub-attributes`);
    const sub = findAttribute(def.subAttributes ?? [], path.subAttribute);
    if (!sub) throw invalidPath(`unknown sub-attribute "${def.name}.${path.subAttribute}"`);
    target.sub = sub;
  }
  if (path.filter !== undefined) target.filter = valueFilter(ctx, path.filter);
  return target;
}

/** Parses and compiles a value filter once; what the compiler throws, other than a ScimError, is the path's fault. */
function valueFilter(ctx: Context, text: string): ValueFilter {
  const tree = parseFilter(text);
  const guarded = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof ScimError) throw error;
      throw invalidPath(`invalid value filter [${text.slice(0, 200)}]`);
    }
  };
  const test = guarded(() => ctx.compileValueFilter(tree));
  return { text, tree, matches: (element) => guarded(() => test(element)) === true };
}

function findSchema(ctx: Context, urn: string): SchemaDocument | undefined {
  const lower = urn.toLowerCase();
  return [ctx.core, ...ctx.extensions].find((s) => s.id.toLowerCase() === lower);
}

function schemaTarget(ctx: Context, schema: SchemaDocument): Target {
  return schema === ctx.core
    ? { kind: 'schema', attributes: ctx.coreAttributes }
    : { kind: 'schema', urn: schema.id, attributes: schema.attributes };
}

const isReadOnly = (t: AttributeTarget) => t.def.mutability === 'readOnly' || t.sub?.mutability === 'readOnly';

function describe(t: AttributeTarget): string {
  return `"${t.urn ? `${t.urn}:` : ''}${t.def.name}${t.sub ? `.${t.sub.name}` : ''}"`;
}

/** The object holding the target attribute: the resource, or its extension object (created when `create`). */
function containerOf(ctx: Context, urn: string | undefined, create: boolean): Json | undefined {
  if (!urn) return ctx.resource;
  canonicalizeKey(ctx.resource, urn);
  const existing = ctx.resource[urn];
  if (isObject(existing)) return existing;
  if (!create) return undefined;
  const fresh: Json = {};
  ctx.resource[urn] = fresh;
  return fresh;
}

/** Renames a key that differs from `name` only in case to `name`. */
function canonicalizeKey(obj: Json, name: string): void {
  if (Object.hasOwn(obj, name)) return;
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  if (key !== undefined) {
    obj[name] = obj[key];
    delete obj[key];
  }
}

function deleteKey(obj: Json, name: string): void {
  canonicalizeKey(obj, name);
  delete obj[name];
}

function equalsCurrent(ctx: Context, target: AttributeTarget, value: unknown): boolean {
  const container = containerOf(ctx, target.urn, false);
  canonicalizeKey(container ?? {}, target.def.name);
  let current = container?.[target.def.name];
  if (target.sub) current = isObject(current) ? current[target.sub.name] : undefined;
  if (deepEqual(value, current ?? null)) return true;
  const def = target.sub ?? target.def;
  return def.type !== 'complex' && !def.multiValued && deepEqual(normalizeSimple(def, value), current ?? null);
}

function setAt(ctx: Context, op: 'add' | 'replace', target: AttributeTarget, raw: unknown): void {
  const { def, sub, filter, urn } = target;
  const container = containerOf(ctx, urn, raw !== null);
  if (!container) return;
  canonicalizeKey(container, def.name);
  const current = container[def.name];

  if (filter !== undefined) {
    const elements = asArray(current);
    const matches = elements.filter((e): e is Json => isObject(e) && filter.matches(e));
    let written: Json[];
    if (sub) {
      const value = raw === null ? null : normalizeSingle(sub, raw, `${def.name}.${sub.name}`);
      if (matches.length === 0) {
        if (value === null) return;
        const element = elementFromFilter(def, filter);
        element[sub.name] = value;
        elements.push(element);
        written = [element];
      } else {
        for (const m of matches) {
          if (value === null) deleteSub(def, m, sub.name);
          else m[sub.name] = clone(value);
        }
        written = matches;
      }
    } else if (matches.length === 0) {
      if (op === 'replace') throw noTarget(`no "${def.name}" value matches [${filter.text}]`);
      if (raw === null) return;
      const element = { ...elementFromFilter(def, filter), ...withoutNulls(normalizeElement(def, raw)) };
      elements.push(element);
      written = [element];
    } else if (raw === null) {
      storeArray(
        container,
        def.name,
        elements.filter((e) => !matches.includes(e as Json)),
      );
      cleanupContainer(ctx, urn);
      return;
    } else {
      const value = normalizeElement(def, raw);
      written = matches.map((m) => {
        const next = op === 'add' ? mergeComplex(def, m, value) : withoutNulls(clone(value) as Json);
        elements[elements.indexOf(m)] = next;
        return next;
      });
    }
    storeArray(container, def.name, elements);
    enforcePrimary(def, elements, written);
    cleanupContainer(ctx, urn);
    return;
  }

  if (sub) {
    const value = raw === null ? null : normalizeSingle(sub, raw, `${def.name}.${sub.name}`);
    if (def.multiValued) {
      const elements = asArray(current);
      if (elements.length === 0 && value !== null) elements.push({});
      const written = elements.filter(isObject);
      for (const e of written) {
        if (value === null) deleteSub(def, e, sub.name);
        else e[sub.name] = clone(value);
      }
      storeArray(container, def.name, elements);
      enforcePrimary(def, elements, written);
    } else {
      const obj: Json = isObject(current) ? current : {};
      if (value === null) deleteSub(def, obj, sub.name);
      else obj[sub.name] = value;
      storeObject(container, def.name, obj);
    }
    cleanupContainer(ctx, urn);
    return;
  }

  if (raw === null) {
    delete container[def.name];
  } else if (def.multiValued) {
    const incoming = (Array.isArray(raw) ? raw : [raw])
      .filter((v) => v !== null && v !== undefined)
      .map((v) => (def.type === 'complex' ? withoutNulls(normalizeElement(def, v)) : normalizeSimple(def, v)));
    const elements = op === 'replace' ? [] : asArray(current);
    const written: unknown[] = [];
    for (const v of incoming) {
      if (isDuplicate(elements, v)) continue;
      elements.push(v);
      written.push(v);
    }
    storeArray(container, def.name, elements);
    enforcePrimary(def, elements, written.filter(isObject));
  } else if (def.type === 'complex') {
    const value = normalizeElement(def, raw);
    storeObject(container, def.name, mergeComplex(def, isObject(current) ? current : undefined, value));
  } else {
    container[def.name] = normalizeSimple(def, raw);
  }
  cleanupContainer(ctx, urn);
}

function removeAt(ctx: Context, target: AttributeTarget, value: unknown): void {
  const { def, sub, filter, urn } = target;
  const container = containerOf(ctx, urn, false);
  if (!container) {
    if (filter !== undefined) throw noTarget(`no "${def.name}" value matches [${filter.text}]`);
    return;
  }
  canonicalizeKey(container, def.name);
  const current = container[def.name];
  if (filter !== undefined) {
    const elements = asArray(current);
    const matches = elements.filter((e): e is Json => isObject(e) && filter.matches(e));
    if (matches.length === 0) throw noTarget(`no "${def.name}" value matches [${filter.text}]`);
    if (sub) {
      for (const m of matches) deleteSub(def, m, sub.name);
      storeArray(container, def.name, elements);
    } else {
      storeArray(
        container,
        def.name,
        elements.filter((e) => !matches.includes(e as Json)),
      );
    }
  } else if (sub) {
    if (def.multiValued) {
      const elements = asArray(current);
      for (const e of elements) if (isObject(e)) deleteSub(def, e, sub.name);
      storeArray(container, def.name, elements);
    } else if (isObject(current)) {
      deleteSub(def, current, sub.name);
      storeObject(container, def.name, current);
    }
  } else if (def.multiValued && value !== undefined && value !== null) {
    // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes only the listed values.
    const listed = Array.isArray(value) ? value : [value];
    storeArray(
      container,
      def.name,
      asArray(current).filter((e) => !listed.some((item) => sameListedValue(e, item))),
    );
  } else {
    delete container[def.name];
  }
  cleanupContainer(ctx, urn);
}

/** Deletes a sub-attribute; without its `value`, derived sub-attributes (readOnly ones, `$ref`) go too. */
function deleteSub(def: AttributeDefinition, obj: Json, name: string): void {
  delete obj[name];
  if (name !== 'value') return;
  for (const sub of def.subAttributes ?? [])
    if (sub.mutability === 'readOnly' || sub.name === '$ref') delete obj[sub.name];
}

function sameListedValue(element: unknown, item: unknown): boolean {
  if (!isObject(item)) return deepEqual(element, item) || (isObject(element) && deepEqual(element.value, item));
  if (!isObject(element)) return false;
  if (hasCI(item, 'value')) return deepEqual(getCI(element, 'value'), getCI(item, 'value'));
  return Object.entries(item).every(([k, v]) => deepEqual(getCI(element, k), v));
}

// ---------------------------------------------------------------------------------------------------------------
// Values

/** A complex value from the request: canonical sub-attribute names, readOnly ones dropped, booleans coerced. */
function normalizeElement(def: AttributeDefinition, raw: unknown): Json {
  return normalizeSingle(def, raw, def.name) as Json;
}

function normalizeSingle(def: AttributeDefinition, raw: unknown, where: string): unknown {
  if (def.type !== 'complex') return normalizeSimple(def, raw);
  const subs = def.subAttributes ?? [];
  if (isObject(raw)) {
    const out: Json = {};
    for (const [key, value] of Object.entries(raw)) {
      if (value === undefined) continue;
      const sub = findAttribute(subs, key);
      if (!sub) throw invalidValue(`unknown sub-attribute "${key.slice(0, 100)}" in "${where}"`);
      if (sub.mutability === 'readOnly') continue;
      out[sub.name] = value === null ? null : normalizeSingle(sub, value, `${where}.${sub.name}`);
    }
    return out;
  }
  const valueSub = findAttribute(subs, 'value');
  if (valueSub && raw !== null && typeof raw !== 'object') {
    // Entra sends manager as a bare id: "manager": "mgr-id" -> {value: "mgr-id"}
    return { value: normalizeSimple(valueSub, raw) };
  }
  throw invalidValue(`"${where}" must be an object`);
}

function normalizeSimple(def: AttributeDefinition, raw: unknown): unknown {
  if (def.type === 'boolean' && typeof raw === 'string') {
    const lower = raw.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return clone(raw);
}

/** Merge sub-attributes (null deletes); a changed `value` drops derived sub-attributes that were not supplied. */
function mergeComplex(def: AttributeDefinition, existing: Json | undefined, incoming: Json): Json {
  const out: Json = existing ? { ...existing } : {};
  if (
    existing &&
    incoming.value !== undefined &&
    incoming.value !== null &&
    existing.value !== undefined &&
    !deepEqual(existing.value, incoming.value)
  ) {
    for (const sub of def.subAttributes ?? []) {
      if ((sub.mutability === 'readOnly' || sub.name === '$ref') && !Object.hasOwn(incoming, sub.name))
        delete out[sub.name];
    }
  }
  for (const [key, value] of Object.entries(incoming)) {
    if (value === null) delete out[key];
    else out[key] = clone(value);
  }
  return out;
}

function withoutNulls(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null && v !== undefined));
}

/** Build a new element from `a eq "x" and b eq true ...`; anything else cannot create an element. */
function elementFromFilter(def: AttributeDefinition, filter: ValueFilter): Json {
  const element: Json = {};
  const terms = filter.tree.kind === 'and' ? filter.tree.items : [filter.tree];
  for (const term of terms) {
    if (term.kind !== 'compare' || term.op !== 'eq' || term.path.urn || term.path.subAttribute) {
      throw noTarget(
        `no "${def.name}" value matches [${filter.text}], and the filter is not a simple "eq" filter to create one`,
      );
    }
    const sub = findAttribute(def.subAttributes ?? [], term.path.attribute);
    if (!sub) throw invalidPath(`unknown sub-attribute "${term.path.attribute}" in filter on "${def.name}"`);
    if (term.value !== null && term.value !== undefined) element[sub.name] = normalizeSimple(sub, term.value);
  }
  return element;
}

function enforcePrimary(def: AttributeDefinition, elements: unknown[], written: Json[]): void {
  if (!findAttribute(def.subAttributes ?? [], 'primary')) return;
  const primaries = written.filter((e) => e.primary === true);
  if (primaries.length > 1) throw invalidValue(`only one "${def.name}" value may be primary`);
  if (primaries.length === 0) return;
  for (const e of elements) if (isObject(e) && e !== primaries[0] && e.primary === true) delete e.primary;
}

function isDuplicate(elements: unknown[], value: unknown): boolean {
  return elements.some(
    (e) =>
      deepEqual(e, value) ||
      (isObject(e) && isObject(value) && Object.entries(value).every(([k, v]) => deepEqual(e[k], v))),
  );
}

function asArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

function storeArray(container: Json, name: string, elements: unknown[]): void {
  const kept = elements.filter((e) => e !== null && e !== undefined && !(isObject(e) && Object.keys(e).length === 0));
  if (kept.length === 0) delete container[name];
  else container[name] = kept;
}

function storeObject(container: Json, name: string, obj: Json): void {
  if (Object.keys(obj).length === 0) delete container[name];
  else container[name] = obj;
}

function cleanupContainer(ctx: Context, urn: string | undefined): void {
  if (urn && isObject(ctx.resource[urn]) && Object.keys(ctx.resource[urn]).length === 0) delete ctx.resource[urn];
}

/** `schemas` (when the resource has it) lists the core schema and exactly the extensions that hold data. */
function syncSchemas(ctx: Context): void {
  const list = ctx.resource.schemas;
  if (!Array.isArray(list)) return;
  const present = ctx.extensions.filter((ext) => {
    canonicalizeKey(ctx.resource, ext.id);
    return isObject(ctx.resource[ext.id]);
  });
  const extensionOf = (s: unknown) =>
    typeof s === 'string' ? ctx.extensions.find((e) => e.id.toLowerCase() === s.toLowerCase()) : undefined;
  const next = list.filter((s) => {
    const ext = extensionOf(s);
    return !ext || present.includes(ext);
  });
  for (const ext of present) if (!next.some((s) => extensionOf(s) === ext)) next.push(ext.id);
  ctx.resource.schemas = next;
}

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (value instanceof Date) return new Date(value.getTime());
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]));
  return value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
