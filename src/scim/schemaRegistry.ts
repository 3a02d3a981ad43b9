/** RFC 7643 schemas as data: attribute lookup by case-insensitive path, used by validation and discovery. */
export const SCHEMA_URNS = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  groupMember: 'urn:ietf:params:scim:schemas:core:2.0:GroupMember',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  lifecycle: 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  bulkResponse: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

export type AttributeType =
  'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';

export interface AttributeDefinition {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description?: string;
  required: boolean;
  caseExact?: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDefinition[];
}

export interface SchemaDocument {
  id: string;
  name: string;
  description?: string;
  attributes: AttributeDefinition[];
  [key: string]: unknown;
}

export interface ResourceTypeDefinition {
  id: 'User' | 'Group';
  name: string;
  endpoint: string;
  description: string;
  schema: string;
  schemaExtensions: { schema: string; required: boolean }[];
}

export const RESOURCE_TYPES: ResourceTypeDefinition[] = [
  {
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    schema: SCHEMA_URNS.user,
    schemaExtensions: [
      { schema: SCHEMA_URNS.enterprise, required: false },
      { schema: SCHEMA_URNS.lifecycle, required: false },
    ],
  },
  {
    id: 'Group',
    name: 'Group',
    endpoint: '/Groups',
    description: 'Group',
    schema: SCHEMA_URNS.group,
    schemaExtensions: [],
  },
];

/** Attributes common to every resource (RFC 7643 §3.1), not part of any schema document. */
export const COMMON_ATTRIBUTES: AttributeDefinition[] = [
  {
    name: 'id',
    type: 'string',
    multiValued: false,
    required: false,
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  },
  {
    name: 'externalId',
    type: 'string',
    multiValued: false,
    required: false,
    caseExact: true,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
  },
  {
    name: 'meta',
    type: 'complex',
    multiValued: false,
    required: false,
    mutability: 'readOnly',
    returned: 'default',
    uniqueness: 'none',
    subAttributes: ['resourceType', 'created', 'lastModified', 'location', 'version'].map((name) => ({
      name,
      type: name === 'created' || name === 'lastModified' ? 'dateTime' : name === 'location' ? 'reference' : 'string',
      multiValued: false,
      required: false,
      caseExact: true,
      mutability: 'readOnly',
      returned: 'default',
      uniqueness: 'none',
    })),
  },
];

export interface SchemaRegistry {
  schemas: SchemaDocument[];
  get(urn: string): SchemaDocument | undefined;
  resourceType(id: 'User' | 'Group'): ResourceTypeDefinition;
  /** Schemas of a resource type: core first, then extensions. */
  schemasOf(id: 'User' | 'Group'): SchemaDocument[];
}

export function createSchemaRegistry(documents: SchemaDocument[]): SchemaRegistry {
  const byUrn = new Map(documents.map((d) => [d.id.toLowerCase(), d]));
  for (const type of RESOURCE_TYPES) {
    for (const urn of [type.schema, ...type.schemaExtensions.map((e) => e.schema)]) {
      if (!byUrn.has(urn.toLowerCase())) throw new Error(`schema ${urn} is missing from schemas/`);
    }
  }
  const resourceType = (id: 'User' | 'Group') => RESOURCE_TYPES.find((t) => t.id === id)!;
  return {
    schemas: documents,
    get: (urn) => byUrn.get(urn.toLowerCase()),
    resourceType,
    schemasOf(id) {
      const type = resourceType(id);
      return [type.schema, ...type.schemaExtensions.map((e) => e.schema)].map((urn) => byUrn.get(urn.toLowerCase())!);
    },
  };
}

export function findAttribute(attributes: AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return attributes.find((a) => a.name.toLowerCase() === lower);
}
