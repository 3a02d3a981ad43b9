import { badRequest } from './errors.js';
import { COMMON_ATTRIBUTES, findAttribute, type AttributeDefinition, type SchemaDocument } from './schemaRegistry.js';
import type { ScimResource } from './validate.js';

/** `attributes` / `excludedAttributes` as raw lower-cased paths ("name.givenname", "urn:...:user:department"). */
export interface Projection {
  attributes?: string[];
  excludedAttributes?: string[];
}

export function parseProjection(attributes?: unknown, excludedAttributes?: unknown): Projection {
  const split = (value: unknown, name: string) => {
    if (value === undefined || value === null || value === '') return undefined;
    const list = Array.isArray(value) ? value : [value];
    if (list.some((v) => typeof v !== 'string')) {
      throw badRequest('invalidValue', `"${name}" must be a comma-separated string`);
    }
    const paths = (list as string[])
      .flatMap((v) => v.split(','))
      .map((v) => v.trim().toLowerCase())
      .filter(Boolean);
    if (paths.some((p) => !/^[a-z0-9:._$-]+$/.test(p))) {
      throw badRequest('invalidPath', `"${name}" has an invalid attribute path`);
    }
    return paths;
  };
  return {
    attributes: split(attributes, 'attributes'),
    excludedAttributes: split(excludedAttributes, 'excludedAttributes'),
  };
}

/** Turns a requested path into "<schema urn>:<attr>[.<sub>]" against the resource's schemas. */
function qualify(path: string, schemas: SchemaDocument[]): string {
  const extension = schemas
    .slice(1)
    .find((s) => path === s.id.toLowerCase() || path.startsWith(`${s.id.toLowerCase()}:`));
  if (extension) return path;
  const core = schemas[0].id.toLowerCase();
  return path.startsWith(`${core}:`) ? path : `${core}:${path}`;
}

type Decision = 'all' | 'some' | 'none';

function decide(
  attribute: Pick<AttributeDefinition, 'returned' | 'name'>,
  path: string,
  requested?: string[],
  excluded?: string[],
): Decision {
  if (attribute.returned === 'never') return 'none';
  if (attribute.returned === 'always' || attribute.name === 'id') return 'all';
  const covers = (p: string) => p === path || path.startsWith(`${p}.`) || path.startsWith(`${p}:`);
  const inside = (p: string) => p.startsWith(`${path}.`) || p.startsWith(`${path}:`);
  if (requested) {
    if (requested.some(covers)) return 'all';
    return requested.some(inside) ? 'some' : 'none';
  }
  if (attribute.returned === 'request') return 'none';
  if (excluded?.some(covers)) return 'none';
  return excluded?.some(inside) ? 'some' : 'all';
}

/** Wants the resource's attribute at this path (lets services skip costly reads such as group members)? */
export function wants(projection: Projection, path: string, schemas: SchemaDocument[]): boolean {
  const qualified = qualify(path.toLowerCase(), schemas);
  const requested = projection.attributes?.map((p) => qualify(p, schemas));
  const excluded = projection.excludedAttributes?.map((p) => qualify(p, schemas));
  return decide({ returned: 'default', name: path }, qualified, requested, excluded) !== 'none';
}

/**
 * RFC 7644 §3.4.2.5 on a SCIM-form resource: `returned: never` is always removed, `always` always
 * kept, `request` only when asked for; otherwise `attributes` or `excludedAttributes` decide.
 */
export function projectResource(
  resource: ScimResource,
  schemas: SchemaDocument[],
  projection: Projection,
): ScimResource {
  const requested = projection.attributes?.map((p) => qualify(p, schemas));
  const excluded = projection.excludedAttributes?.map((p) => qualify(p, schemas));
  const [core] = schemas;
  const coreAttributes = [...core.attributes, ...COMMON_ATTRIBUTES];

  const projectAttributes = (value: ScimResource, attributes: AttributeDefinition[], prefix: string): ScimResource => {
    const out: ScimResource = {};
    for (const [key, item] of Object.entries(value)) {
      const attribute = findAttribute(attributes, key) ?? ({ name: key, returned: 'default' } as AttributeDefinition);
      const path = `${prefix}${key.toLowerCase()}`;
      const decision = decide(attribute, path, requested, excluded);
      if (decision === 'all') out[key] = item;
      else if (decision === 'some' && item && typeof item === 'object') {
        const sub = attribute.subAttributes ?? [];
        const pick = (element: unknown) => projectAttributes(element as ScimResource, sub, `${path}.`);
        out[key] = Array.isArray(item) ? item.map(pick) : pick(item);
      }
    }
    return out;
  };

  const out: ScimResource = {};
  for (const [key, value] of Object.entries(resource)) {
    if (key === 'schemas') {
      out.schemas = value;
      continue;
    }
    const extension = schemas.slice(1).find((s) => s.id === key);
    if (extension) {
      const path = extension.id.toLowerCase();
      const decision = decide({ returned: 'default', name: key }, path, requested, excluded);
      if (decision === 'none') continue;
      const projected =
        decision === 'all'
          ? (value as ScimResource)
          : projectAttributes(value as ScimResource, extension.attributes, `${path}:`);
      if (Object.keys(projected).length) out[key] = projected;
      continue;
    }
    Object.assign(out, projectAttributes({ [key]: value }, coreAttributes, `${core.id.toLowerCase()}:`));
  }
  return out;
}
