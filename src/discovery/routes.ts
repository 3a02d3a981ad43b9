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
  // By base URL: each directory's documents name its own base (README "Directories").
  const documents = new Map<
    string,
    { schemas: ReturnType<typeof schemaDocuments>; types: ReturnType<typeof resourceTypeDocuments> }
  >();
  const documentsOf = (base: string) => {
    let found = documents.get(base);
    if (!found) {
      found = { schemas: schemaDocuments(registry, base), types: resourceTypeDocuments(base) };
      if (documents.size > 10_000) documents.clear();
      documents.set(base, found);
    }
    return found;
  };
  const current = () => documentsOf(scimBaseUrl(config));

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
  readOnly('/ServiceProviderConfig', () => serviceProviderConfig(config, scimBaseUrl(config), features, authSchemes()));
  readOnly('/ResourceTypes', (ctx) => {
    rejectFilter(ctx);
    const { types } = current();
    return listResponse(types, { totalResults: types.length, startIndex: 1 });
  });
  readOnly(
    '/ResourceTypes/:id',
    (ctx) => current().types.find((t) => t.id === ctx.params.id) ?? notFoundError('ResourceType', ctx.params.id),
  );
  readOnly('/Schemas', (ctx) => {
    rejectFilter(ctx);
    const { schemas } = current();
    return listResponse(schemas, { totalResults: schemas.length, startIndex: 1 });
  });
  readOnly('/Schemas/:id', (ctx) => {
    const id = ctx.params.id.toLowerCase();
    return current().schemas.find((s) => s.id.toLowerCase() === id) ?? notFoundError('Schema', ctx.params.id);
  });
  return router;
}

function notFoundError(kind: string, id: string | undefined): never {
  throw notFound(`${kind} ${id ?? ''} not found`);
}
