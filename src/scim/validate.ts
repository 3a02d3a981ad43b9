import { badRequest, ScimError } from './errors.js';
import { findAttribute, type AttributeDefinition, type SchemaDocument } from './schemaRegistry.js';

export type ScimResource = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Schemas whose canonicalValues are rules, not suggestions (our own extension). */
const STRICT_CANONICAL = new Set(['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User']);

export interface ValidateOptions {
  /** Core schema first, then extensions. */
  schemas: SchemaDocument[];
  mode: 'create' | 'replace';
  /** The current resource (SCIM form) for replace: immutable attributes must not change. */
  existing?: ScimResource;
}

/**
 * Checks a client's resource against its schemas and returns it cleaned: canonical attribute
 * names, values coerced to their types (Entra sends "True"/"False"), readOnly attributes and
 * unknown attributes dropped, writeOnly kept for the service. Throws 400 with a scimType.
 */
export function validateResource(input: unknown, options: ValidateOptions): ScimResource {
  if (!isObject(input)) throw badRequest('invalidSyntax', 'The resource must be a JSON object');
  const [core, ...extensions] = options.schemas;
  const declared = input.schemas;
  if (declared !== undefined) {
    if (!Array.isArray(declared) || declared.some((s) => typeof s !== 'string')) {
      throw badRequest('invalidSyntax', '"schemas" must be an array of schema URNs');
    }
    // Other URNs are ignored: Entra sends its own ADSCIM group schema beside the core one.
    if (!declared.some((s: string) => s.toLowerCase() === core.id.toLowerCase())) {
      throw badRequest('invalidValue', `"schemas" must include ${core.id}`);
    }
  }

  const out: ScimResource = {};
  const extensionValues = new Map<SchemaDocument, Record<string, unknown>>();
  for (const [key, value] of Object.entries(input)) {
    const lower = key.toLowerCase();
    if (lower === 'schemas' || lower === 'id' || lower === 'meta') continue;
    if (lower === 'externalid') {
      if (value !== null && typeof value !== 'string')
        throw badRequest('invalidValue', '"externalId" must be a string');
      if (value !== null) out.externalId = value;
      continue;
    }
    const extension = extensions.find((e) => e.id.toLowerCase() === lower);
    if (extension) {
      if (value === null) continue;
      if (!isObject(value)) throw badRequest('invalidValue', `"${extension.id}" must be an object`);
      extensionValues.set(extension, { ...(extensionValues.get(extension) ?? {}), ...value });
      continue;
    }
    // "urn:...:User:employeeNumber" style keys (some clients flatten extension attributes).
    const prefixed = extensions.find((e) => lower.startsWith(`${e.id.toLowerCase()}:`));
    if (prefixed) {
      const sub = key.slice(prefixed.id.length + 1);
      extensionValues.set(prefixed, { ...(extensionValues.get(prefixed) ?? {}), [sub]: value });
      continue;
    }
    const attribute = findAttribute(core.attributes, key);
    if (!attribute) continue; // unknown attributes are ignored (RFC 7644 §3.3 leaves this to the server)
    setChecked(out, attribute, value, attribute.name, core.id);
  }
  for (const [extension, values] of extensionValues) {
    const cleaned: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      const attribute = findAttribute(extension.attributes, key);
      if (!attribute) continue;
      setChecked(cleaned, attribute, value, `${extension.id}:${attribute.name}`, extension.id);
    }
    if (Object.keys(cleaned).length) out[extension.id] = cleaned;
  }

  checkRequired(out, core);
  if (options.mode === 'replace' && options.existing) checkImmutable(out, options.existing, options.schemas);
  return out;
}

function setChecked(
  target: Record<string, unknown>,
  attribute: AttributeDefinition,
  value: unknown,
  label: string,
  schemaId: string,
) {
  if (attribute.mutability === 'readOnly') return; // clients may send what they read; RFC says ignore
  const coerced = coerceAttribute(attribute, value, label, schemaId);
  if (coerced !== undefined) target[attribute.name] = coerced;
}

/** Coerces and checks one attribute value; undefined means "not set" (null, empty array). */
export function coerceAttribute(
  attribute: AttributeDefinition,
  value: unknown,
  label: string,
  schemaId: string,
): unknown {
  if (value === null || value === undefined) return undefined;
  if (attribute.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    const items = list
      .map((item, i) => coerceSingle(attribute, item, `${label}[${i}]`, schemaId))
      .filter((item) => item !== undefined);
    if (items.length === 0) return undefined;
    if (attribute.type === 'complex') {
      const primaries = items.filter((item) => isObject(item) && item.primary === true).length;
      if (primaries > 1) throw badRequest('invalidValue', `Only one "${label}" value may be primary`);
    }
    return items;
  }
  if (Array.isArray(value)) throw badRequest('invalidValue', `"${label}" must be a single value, not an array`);
  return coerceSingle(attribute, value, label, schemaId);
}

function coerceSingle(attribute: AttributeDefinition, value: unknown, label: string, schemaId: string): unknown {
  if (value === null || value === undefined) return undefined;
  const fail = (expected: string): never => {
    throw badRequest('invalidValue', `"${label}" must be ${expected}`);
  };
  switch (attribute.type) {
    case 'string':
    case 'reference':
    case 'binary': {
      if (typeof value !== 'string') {
        if (typeof value === 'number' || typeof value === 'boolean') return String(value);
        return fail('a string');
      }
      if (value.includes('\u0000')) fail('a string without NUL characters');
      if (attribute.canonicalValues && STRICT_CANONICAL.has(schemaId)) {
        const match = attribute.canonicalValues.find((c) => c.toLowerCase() === value.toLowerCase());
        if (!match) fail(`one of ${attribute.canonicalValues.join(', ')}`);
        return match;
      }
      return value;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return fail('a boolean');
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail('an integer');
      return n;
    }
    case 'decimal': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) return fail('a number');
      return n;
    }
    case 'dateTime': {
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
        return fail('an xsd:dateTime such as 2026-01-31T09:00:00Z');
      }
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) fail('a valid date');
      return date.toISOString();
    }
    case 'complex': {
      if (!isObject(value)) {
        // Entra sends manager as a bare id string; a bare value fills the "value" sub-attribute.
        const valueAttr = attribute.subAttributes?.find((s) => s.name === 'value');
        if (valueAttr && (typeof value === 'string' || typeof value === 'number')) {
          return { value: String(value) };
        }
        return fail('an object');
      }
      const out: Record<string, unknown> = {};
      for (const [key, subValue] of Object.entries(value)) {
        const sub = findAttribute(attribute.subAttributes ?? [], key);
        if (!sub) continue;
        if (sub.mutability === 'readOnly' && sub.name !== 'display' && sub.name !== 'displayName') continue;
        const coerced = coerceSingle(sub, subValue, `${label}.${sub.name}`, schemaId);
        if (coerced !== undefined) out[sub.name] = coerced;
      }
      return Object.keys(out).length ? out : undefined;
    }
  }
}

function checkRequired(resource: ScimResource, core: SchemaDocument) {
  for (const attribute of core.attributes) {
    if (attribute.required && attribute.mutability !== 'readOnly') {
      const value = resource[attribute.name];
      if (value === undefined || value === '') {
        throw badRequest('invalidValue', `"${attribute.name}" is required`);
      }
    }
  }
}

function checkImmutable(resource: ScimResource, existing: ScimResource, schemas: SchemaDocument[]) {
  const [core] = schemas;
  for (const attribute of core.attributes) {
    if (attribute.mutability !== 'immutable') continue;
    const before = existing[attribute.name];
    const after = resource[attribute.name];
    if (before !== undefined && JSON.stringify(before) !== JSON.stringify(after)) {
      throw new ScimError(400, `"${attribute.name}" is immutable`, 'mutability');
    }
  }
}

/** Lower-cased NFC form used for case-insensitive uniqueness and lookups (the filters' comparison form). */
export { normalizeText as normalize } from './filterMatch.js';
