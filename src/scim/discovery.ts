import type { Config } from '../config/index.js';
import { RESOURCE_TYPES, SCHEMA_URNS, type SchemaRegistry } from './schemaRegistry.js';

/** The features Roster really implements; discovery advertises exactly these. */
export interface Features {
  patch: boolean;
  bulk: boolean;
  filter: boolean;
  changePassword: boolean;
  sort: boolean;
  etag: boolean;
  cursorPaging: boolean;
  /** RFC 9967: the SET event URIs Roster publishes to registered receivers. */
  securityEventUris: readonly string[];
}

export function serviceProviderConfig(config: Config, baseUrl: string, features: Features) {
  return {
    schemas: [SCHEMA_URNS.serviceProviderConfig],
    documentationUri: `${config.server.publicUrl}/`,
    patch: { supported: features.patch },
    bulk: {
      supported: features.bulk,
      maxOperations: features.bulk ? config.scim.bulk.maxOperations : 0,
      maxPayloadSize: features.bulk ? config.scim.bulk.maxPayloadSize : 0,
    },
    filter: { supported: features.filter, maxResults: config.scim.maxResults },
    changePassword: { supported: features.changePassword },
    sort: { supported: features.sort },
    etag: { supported: features.etag },
    pagination: {
      cursor: features.cursorPaging,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: config.scim.defaultCount,
      maxPageSize: config.scim.maxResults,
      cursorTimeout: features.cursorPaging ? 3600 : 0,
    },
    // RFC 9967 section 4; asynchronous requests (Prefer: respond-async) are not supported.
    securityEvents: { asyncRequest: 'none', eventUris: [...features.securityEventUris] },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'Authentication with a bearer token issued by the Roster administrator',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: {
      resourceType: 'ServiceProviderConfig',
      location: `${baseUrl}/ServiceProviderConfig`,
    },
  };
}

export function resourceTypeDocuments(baseUrl: string) {
  return RESOURCE_TYPES.map((type) => ({
    schemas: [SCHEMA_URNS.resourceType],
    id: type.id,
    name: type.name,
    endpoint: type.endpoint,
    description: type.description,
    schema: type.schema,
    schemaExtensions: type.schemaExtensions,
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${type.id}` },
  }));
}

export function schemaDocuments(registry: SchemaRegistry, baseUrl: string) {
  return registry.schemas.map((schema) => ({
    ...schema,
    schemas: [SCHEMA_URNS.schema],
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  }));
}
