import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every file in src/ belongs to one layer, and imports go only to the layers its own may use
 * (docs/ARCHITECTURE.md "Layers"). Top to bottom:
 *
 * - composition: app.ts, compose.ts and its parts by feature in compose/, main.ts, roster.ts and a
 *   feature's index.ts that wires its parts (oauth/, securityEvents/). Builds everything; may import anything.
 * - routes: a feature's Koa routes (`routes.ts`, `*Routes.ts`) and the HTTP glue beside them (the
 *   console's session middleware and static files, the lifecycle's pages, the poll body reader).
 *   May import http, services, repositories (a read with no rule of its own), domain and below.
 * - http: src/http, the Koa integration shared by every route (auth, bodies, errors, request context).
 *   Knows no feature: imports only infrastructure and protocol.
 * - service: `service.ts`, `*Service.ts` and the files listed as such: chains protocol steps, domain
 *   rules and repositories. Never imports http or routes (no Koa in a service).
 * - repository: `repository.ts`, `*Repository.ts`, `store.ts` and the files listed as such: storage of
 *   one feature. Imports domain (its document types) and infrastructure (the database); knows MongoDB,
 *   not SCIM (never src/scim), and never a service.
 * - domain: `mapping.ts`, `types.ts`, `rules.ts`, `documents.ts`, `contracts.ts`, `errors.ts` in a
 *   feature, and the files listed as such: a feature's types, mappings and rules, no storage of its own.
 * - infrastructure: config/, db/, devdb/, keys/, mail/, net/ and the files at the top of src/ that are
 *   not composition (errors, logger, metrics, principals, scopes, slots, buckets, transaction). Knows
 *   no feature: imports only infrastructure and protocol.
 * - protocol: src/scim, pure SCIM (RFC 7643/7644): imports nothing of Roster's outside itself.
 * - cli: src/cli, the `roster` command's client: talks to a server over HTTP, and of the server's
 *   code loads only pure rules (protocol, domain files that load nothing else, such as what an email
 *   address is), checked over everything the client loads.
 *
 * Imports are read as written (`from '…'`, `import '…'`, `import('…')`), type-only ones included.
 * Across features the same holds: a feature imports only features below it (FEATURES, lowest
 * first), never one beside or above it; what a lower feature needs from a higher one is passed in
 * by the composition (a function or a narrow interface, e.g. users/contracts.ts). A file that no
 * rule classifies fails, as does a LISTED entry whose file is gone.
 */
const SRC = path.resolve(import.meta.dirname, '../src');

const LAYERS = [
  'composition',
  'routes',
  'http',
  'service',
  'repository',
  'domain',
  'infrastructure',
  'protocol',
  'cli',
] as const;
type Layer = (typeof LAYERS)[number];

const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  composition: LAYERS,
  routes: ['routes', 'http', 'service', 'repository', 'domain', 'infrastructure', 'protocol'],
  http: ['http', 'infrastructure', 'protocol'],
  service: ['service', 'repository', 'domain', 'infrastructure', 'protocol'],
  repository: ['repository', 'domain', 'infrastructure'],
  domain: ['domain', 'infrastructure', 'protocol'],
  infrastructure: ['infrastructure', 'protocol'],
  protocol: ['protocol'],
  cli: ['cli', 'domain', 'protocol'],
};

/** Features, lowest first; features on one line are beside each other (neither imports the other). */
const FEATURES: string[][] = [
  ['events'],
  ['directories'],
  ['users'],
  ['groups', 'jobs'],
  ['lifecycle'],
  ['oauth', 'securityEvents'],
  ['admin', 'bulk', 'console', 'discovery', 'root'],
];

const COMPOSITION = ['app.ts', 'compose.ts', 'main.ts', 'roster.ts', 'oauth/index.ts', 'securityEvents/index.ts'];
const INFRASTRUCTURE_DIRS = ['config', 'db', 'devdb', 'keys', 'mail', 'net'];

const BY_NAME: [RegExp, Layer][] = [
  [/^(routes|\w+Routes)\.ts$/, 'routes'],
  [/^(service|\w+Service)\.ts$/, 'service'],
  [/^(repository|\w+Repository|store)\.ts$/, 'repository'],
  [/^(mapping|types|rules|documents|contracts|errors)\.ts$/, 'domain'],
];

/** Feature files whose name says no layer. */
const LISTED: Record<string, Layer> = {
  'admin/csvCells.ts': 'domain',
  'admin/csvColumns.ts': 'domain',
  'admin/csvExportRow.ts': 'domain',
  'admin/exports.ts': 'service',
  'admin/imports.ts': 'service',
  'admin/import/apply.ts': 'service',
  'admin/import/batches.ts': 'domain',
  'admin/import/lineTable.ts': 'domain',
  'admin/import/merge.ts': 'domain',
  'admin/import/parse.ts': 'domain',
  'admin/import/report.ts': 'domain',
  'admin/import/validate.ts': 'service',
  'admin/userSearch.ts': 'domain',
  'bulk/asyncBulk.ts': 'service',
  'directories/activity.ts': 'service',
  'console/auth.ts': 'routes',
  'console/sessions.ts': 'repository',
  'console/static.ts': 'routes',
  'discovery/documents.ts': 'domain',
  'discovery/loadSchemas.ts': 'service',
  'events/env.ts': 'domain',
  'groups/groupsOfUsers.ts': 'service',
  'groups/memberPatch.ts': 'service',
  'jobs/agenda.ts': 'service',
  'jobs/emailDelivery.ts': 'service',
  'jobs/emailOutbox.ts': 'service',
  'jobs/index.ts': 'service',
  'jobs/outboxClaims.ts': 'repository',
  'lifecycle/context.ts': 'service',
  'lifecycle/credentials.ts': 'service',
  'lifecycle/emails.ts': 'service',
  'lifecycle/pages.ts': 'routes',
  'lifecycle/passwords.ts': 'domain',
  'lifecycle/tokens.ts': 'domain',
  'oauth/bearer.ts': 'service',
  'oauth/clientAuth.ts': 'domain',
  'oauth/clients.ts': 'service',
  'oauth/jwksCache.ts': 'service',
  'oauth/tokens.ts': 'domain',
  'securityEvents/asyncResponses.ts': 'service',
  'securityEvents/claims.ts': 'domain',
  'securityEvents/eventUris.ts': 'domain',
  'securityEvents/outbox.ts': 'repository',
  'securityEvents/pollRequest.ts': 'routes',
  'securityEvents/publisher.ts': 'service',
  'securityEvents/push.ts': 'service',
  'securityEvents/receiverInput.ts': 'domain',
  'securityEvents/receivers.ts': 'repository',
  'users/emailAddresses.ts': 'domain',
  'users/resolver.ts': 'domain',
  'users/states.ts': 'domain',
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

const relative = (file: string) => path.relative(SRC, file).split(path.sep).join('/');
const featureOf = (rel: string) => FEATURES.findIndex((rank) => rank.includes(rel.split('/')[0]));

function layerOf(rel: string): Layer | undefined {
  const [top] = rel.split('/');
  const name = path.basename(rel);
  if (COMPOSITION.includes(rel) || top === 'compose') return 'composition';
  if (top === 'scim') return 'protocol';
  if (top === 'http') return 'http';
  if (top === 'cli') return 'cli';
  if (!rel.includes('/')) return 'infrastructure';
  if (INFRASTRUCTURE_DIRS.includes(top)) return name === 'routes.ts' ? 'routes' : 'infrastructure';
  if (featureOf(rel) === -1) return undefined;
  return BY_NAME.find(([pattern]) => pattern.test(name))?.[1] ?? LISTED[rel];
}

/** Relative imports: static (`from '…'`, `import '…'`) and dynamic (`import('…')`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*'(\.[^']+)'/g)].map((m) =>
    relative(path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts')),
  );
}

describe('layers', () => {
  const all = files(SRC).map(relative);

  it('classifies every file in src/', () => {
    expect(all.filter((rel) => layerOf(rel) === undefined)).toEqual([]);
    expect(Object.keys(LISTED).filter((rel) => !existsSync(path.join(SRC, rel)))).toEqual([]);
    const layers = new Set(all.map(layerOf));
    for (const layer of LAYERS) expect(layers).toContain(layer);
  });

  it('imports only downward', () => {
    const wrong: string[] = [];
    for (const rel of all) {
      const from = layerOf(rel);
      if (from === undefined) continue; // reported by the first test
      for (const target of importsOf(path.join(SRC, rel))) {
        const to = layerOf(target);
        if (to === undefined) continue; // outside src/, or a file the first test reports
        if (!MAY_IMPORT[from].includes(to)) wrong.push(`${rel} (${from}) -> ${target} (${to})`);
        const [a, b] = [featureOf(rel), featureOf(target)];
        const sameFolder = rel.split('/')[0] === target.split('/')[0];
        if (from !== 'composition' && a !== -1 && b !== -1 && !sameFolder && b >= a) {
          wrong.push(`${rel} -> ${target} (a feature beside or above ${rel.split('/')[0]})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the server out of the command-line client', () => {
    const loaded = new Set(all.filter((rel) => layerOf(rel) === 'cli'));
    for (const rel of loaded) for (const target of importsOf(path.join(SRC, rel))) loaded.add(target);
    expect([...loaded].filter((rel) => !['cli', 'domain', 'protocol'].includes(layerOf(rel)!))).toEqual([]);
  });
});
