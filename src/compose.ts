import type Koa from 'koa';
import type { Db } from 'mongodb';
import { settingsRoutes } from './admin/settingsRoutes.js';
import { createApp } from './app.js';
import type { Config } from './config/index.js';
import { ensureIndexes, type IndexSpec } from './db/mongo.js';
import { loadSchemaDocuments } from './discovery/loadSchemas.js';
import { createAuthenticator, type Authenticator } from './http/auth.js';
import type { DevToken } from './http/devTokens.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { Features } from './scim/discovery.js';
import { createSchemaRegistry } from './scim/schemaRegistry.js';

export interface RosterDeps {
  config: Config;
  db: Db;
  logger: Logger;
  extraTokens?: DevToken[];
  defaultMetrics?: boolean;
  /** The current time; tests pass their own clock. */
  now?: () => Date;
}

export interface Roster {
  app: Koa;
  authenticator: Authenticator;
  /** Starts background work (jobs); the HTTP app works without it. */
  start(): Promise<void>;
  /** Stops background work; the caller closes the database afterwards. */
  stop(): Promise<void>;
  setAccepting(accepting: boolean): void;
}

const INDEXES: IndexSpec[] = [];

const FEATURES: Features = {
  patch: false,
  bulk: false,
  filter: false,
  changePassword: false,
  sort: false,
  etag: false,
  cursorPaging: false,
};

/** Wires config, database, services, jobs and HTTP together; shared by main.ts and the tests. */
export async function createRoster(deps: RosterDeps): Promise<Roster> {
  const { config, db, logger } = deps;
  await ensureIndexes(db, INDEXES);
  const registry = createSchemaRegistry(loadSchemaDocuments());
  const authenticator = createAuthenticator(config, deps.extraTokens);
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics });
  let accepting = true;
  const app = createApp({
    config,
    logger,
    db,
    authenticator,
    metrics,
    registry,
    features: FEATURES,
    accepting: () => accepting,
    adminRouters: [settingsRoutes(() => config)],
  });
  return {
    app,
    authenticator,
    start: async () => undefined,
    stop: async () => undefined,
    setAccepting: (value) => {
      accepting = value;
    },
  };
}
