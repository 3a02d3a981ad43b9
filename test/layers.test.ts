import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Imports go downward only: routes -> services -> repositories, the protocol (src/scim) imports
 * nothing of Roster's outside itself, and only routes and the composition (app, compose, main)
 * import the HTTP layer (src/http).
 */
const SRC = path.resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

type Layer = 'composition' | 'http' | 'routes' | 'service' | 'repository' | 'protocol' | 'other';

function layerOf(file: string): Layer {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  const name = path.basename(rel);
  // securityEvents/index.ts and oauth/index.ts wire their feature's parts for compose.ts.
  if (['app.ts', 'compose.ts', 'main.ts', 'securityEvents/index.ts', 'oauth/index.ts'].includes(rel))
    return 'composition';
  if (rel.startsWith('http/')) return 'http';
  if (rel.startsWith('scim/')) return 'protocol';
  // HTTP glue beside routes: admin JSON bodies, the console's session middleware and static files.
  const glue = ['http/json.ts', 'console/auth.ts', 'console/static.ts'];
  if (name === 'routes.ts' || name.endsWith('Routes.ts') || glue.includes(rel)) return 'routes';
  if (['repository.ts', 'memberships.ts', 'store.ts', 'outboxClaims.ts'].includes(name)) return 'repository';
  if (name === 'service.ts' || rel.startsWith('admin/import') || rel === 'admin/exports.ts') return 'service';
  return 'other';
}

const RANK: Partial<Record<Layer, number>> = { routes: 3, service: 2, repository: 1 };

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from '(\.[^']+)'/g)].map((m) =>
    path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts'),
  );
}

describe('layers', () => {
  const all = files(SRC);

  it('finds the layers it checks', () => {
    const layers = new Set(all.map(layerOf));
    for (const layer of ['routes', 'service', 'repository', 'http', 'protocol'] as Layer[])
      expect(layers).toContain(layer);
  });

  it('imports only downward', () => {
    const wrong: string[] = [];
    for (const file of all) {
      const from = layerOf(file);
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        const rel = `${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`;
        if (to === 'http' && !['http', 'routes', 'composition'].includes(from)) wrong.push(`${rel} (http)`);
        if (to === 'routes' && !['routes', 'composition'].includes(from)) wrong.push(`${rel} (routes)`);
        if (from === 'protocol' && to !== 'protocol') wrong.push(`${rel} (protocol imports outside src/scim)`);
        if (RANK[from] !== undefined && RANK[to] !== undefined && RANK[to]! > RANK[from]!)
          wrong.push(`${rel} (upward)`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
