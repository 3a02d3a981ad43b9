import { createRouter, type Router } from '../http/router.js';
import type { Context } from 'koa';
import { scimBaseUrl, type Config } from '../config/index.js';
import type { SchemaRegistry } from '../scim/schemaRegistry.js';
import {
  resourceTypeDocuments,
  schemaDocuments,
  serviceProviderConfig,
  type AuthSchemes,
  type Features,
} from './documents.js';
import { ScimError, notFound } from '../scim/errors.js';
import { listResponse } from '../scim/list.js';

/** /ServiceProviderConfig, /ResourceTypes and /Schemas: read-only, 405 for any other method. */
export function discoveryRoutes(
  config: Config,
  registry: SchemaRegistry,
  features: Features,
  authSchemes: () => AuthSchemes,
): Router {
  const router = createRouter();
  const base = scimBaseUrl(config);
  const schemas = schemaDocuments(registry, base);
  const types = resourceTypeDocuments(base);

  const readOnly = (path: string, handler: (ctx: Context) => unknown) => {
    router.get(path, (ctx) => {
      ctx.body = handler(ctx);
    });
    router.all(path, (ctx) => {
      ctx.set('Allow', 'GET');
      throw new ScimError(405, `${ctx.method} is not supported on ${ctx.path}; use GET`);
    });
  };
  const rejectFilter = (ctx: Context) => {
    if (ctx.query.filter !== undefined) throw new ScimError(403, 'Filtering is not supported on discovery endpoints');
  };

  // Built per request: the SCIM limits it advertises follow a configuration reload.
  readOnly('/ServiceProviderConfig', () => serviceProviderConfig(config, base, features, authSchemes()));
  readOnly(
    '/ResourceTypes',
    (ctx) => (rejectFilter(ctx), listResponse(types, { totalResults: types.length, startIndex: 1 })),
  );
  readOnly(
    '/ResourceTypes/:id',
    (ctx) => types.find((t) => t.id === ctx.params.id) ?? notFoundError('ResourceType', ctx.params.id),
  );
  readOnly(
    '/Schemas',
    (ctx) => (rejectFilter(ctx), listResponse(schemas, { totalResults: schemas.length, startIndex: 1 })),
  );
  readOnly('/Schemas/:id', (ctx) => {
    const id = ctx.params.id.toLowerCase();
    return schemas.find((s) => s.id.toLowerCase() === id) ?? notFoundError('Schema', ctx.params.id);
  });
  return router;
}

function notFoundError(kind: string, id: string | undefined): never {
  throw notFound(`${kind} ${id ?? ''} not found`);
}
