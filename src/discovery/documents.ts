import { RESOURCE_TYPES, SCHEMA_URNS, type SchemaRegistry } from '../scim/schemaRegistry.js';

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

/** The part of Roster's configuration discovery shows (the protocol module knows no more of it). */
export interface DiscoverySettings {
  server: { publicUrl: string };
  scim: { maxResults: number; defaultCount: number; bulk: { maxOperations: number; maxPayloadSize: number } };
}

/** Which ways of authenticating a SCIM client are really enabled. */
export interface AuthSchemes {
  /** Static bearer tokens (auth.scimTokens, ROSTER_SCIM_TOKEN). */
  staticTokens: boolean;
  /** OAuth 2.0 client credentials at POST /oauth/token. */
  oauthClients: boolean;
  /** JWTs of trusted external issuers (oauth.trustedIssuers). */
  trustedIssuers: boolean;
}

/** RFC 7643 §5 authenticationSchemes for what is enabled; the first listed (static tokens when there are any) is primary. */
export function authenticationSchemes(enabled: AuthSchemes, publicUrl: string) {
  const docs = `${publicUrl}/`;
  const schemes = [
    enabled.staticTokens && {
      type: 'oauthbearertoken',
      name: 'OAuth Bearer Token',
      description: 'Authentication with a bearer token issued by the Roster administrator',
      specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
      documentationUri: docs,
    },
    enabled.oauthClients && {
      type: 'oauth2',
      name: 'OAuth 2.0 client credentials',
      description: `Bearer access tokens from ${publicUrl}/oauth/token (client credentials grant; client_secret_basic, client_secret_post or private_key_jwt); metadata at ${publicUrl}/.well-known/oauth-authorization-server`,
      specUri: 'https://www.rfc-editor.org/rfc/rfc6749',
      documentationUri: docs,
    },
    enabled.trustedIssuers && {
      type: 'oauthbearertoken',
      name: 'JWT bearer token of a trusted issuer',
      description: 'Bearer JWTs issued by an identity provider configured in oauth.trustedIssuers',
      specUri: 'https://www.rfc-editor.org/rfc/rfc9068',
      documentationUri: docs,
    },
  ].filter((s) => s !== false);
  return schemes.map((scheme, i) => ({ ...scheme, primary: i === 0 }));
}

export function serviceProviderConfig(
  config: DiscoverySettings,
  baseUrl: string,
  features: Features,
  auth: AuthSchemes,
) {
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
    // RFC 9967 section 4: /Bulk runs asynchronously when the client asks (Prefer: respond-async)
    // and has a receiver bound to it; README "Asynchronous requests".
    securityEvents: { asyncRequest: 'request', eventUris: [...features.securityEventUris] },
    authenticationSchemes: authenticationSchemes(auth, config.server.publicUrl),
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
