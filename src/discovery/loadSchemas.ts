import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.js';
import type { SchemaDocument } from '../scim/schemaRegistry.js';

export function loadSchemaDocuments(dir = path.join(PROJECT_ROOT, 'schemas')): SchemaDocument[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const doc = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as SchemaDocument & {
        meta?: unknown;
        schemas?: unknown;
      };
      const { meta: _meta, schemas: _schemas, ...rest } = doc;
      return rest;
    });
}
