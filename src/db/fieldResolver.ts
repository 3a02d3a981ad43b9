import {
  COMMON_ATTRIBUTES,
  findAttribute,
  type AttributeDefinition,
  type SchemaDocument,
} from '../scim/schemaRegistry.js';
import type { FieldResolver, ResolvedAttribute } from './filterQuery.js';

export interface StorageLayout {
  /** Plain storage key of each extension URN ('enterprise', 'lifecycle'). */
  extensionKeys: Record<string, string>;
  /** SCIM path (lower-case "attr" or "attr.sub", extensions as "urn:...:attr") -> normalized shadow field. */
  normalized: Record<string, string>;
  /** SCIM path -> join name resolved by the repository (groups.value, members.value). */
  joins?: Record<string, string>;
  /** SCIM path -> computed query builder (core `active` from lifecycle.state). */
  computed?: Record<string, ResolvedAttribute['compute']>;
}

/**
 * Maps SCIM attribute paths to stored fields for filters and sorting, from the schemas (types,
 * caseExact, multiValued) and the storage layout. Unknown paths resolve to undefined.
 */
export function createResolver(schemas: SchemaDocument[], layout: StorageLayout): FieldResolver {
  const [core, ...extensions] = schemas;
  return ({ urn, attribute, subAttribute }) => {
    let schema = core;
    let prefix = '';
    let pathPrefix = '';
    if (urn && urn.toLowerCase() !== core.id.toLowerCase()) {
      const extension = extensions.find((e) => e.id.toLowerCase() === urn.toLowerCase());
      if (!extension) return undefined;
      schema = extension;
      prefix = `${layout.extensionKeys[extension.id]}.`;
      pathPrefix = `${extension.id.toLowerCase()}:`;
    }
    const attributes = schema === core ? [...core.attributes, ...COMMON_ATTRIBUTES] : schema.attributes;
    const attr = findAttribute(attributes, attribute);
    if (!attr) return undefined;
    let target: AttributeDefinition = attr;
    let field = `${prefix}${attr.name}`;
    let path = `${pathPrefix}${attr.name.toLowerCase()}`;
    if (subAttribute) {
      const sub = findAttribute(attr.subAttributes ?? [], subAttribute);
      if (!sub) return undefined;
      target = sub;
      field = `${field}.${sub.name}`;
      path = `${path}.${sub.name.toLowerCase()}`;
    }
    return {
      field,
      type: target.type,
      caseExact: target.caseExact ?? false,
      multiValued: attr.multiValued,
      ...(layout.normalized[path] ? { normalizedField: layout.normalized[path] } : {}),
      ...(layout.joins?.[path] ? { join: layout.joins[path] } : {}),
      ...(layout.computed?.[path] ? { compute: layout.computed[path] } : {}),
    };
  };
}
