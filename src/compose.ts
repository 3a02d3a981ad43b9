import type Koa from 'koa';
import type { Db } from 'mongodb';
import { createAsyncBulk } from './bulk/asyncBulk.js';
import { createBulkService } from './bulk/service.js';
import { createRosterApp } from './compose/app.js';
import { prepareDatabase } from './compose/database.js';
import { createLiveConfig } from './compose/liveConfig.js';
import { wireOAuth, wireSecurityEvents } from './compose/security.js';
import { wireDirectories } from './compose/directories.js';
import { wireUsers } from './compose/users.js';
import { scopedDb } from './db/directoryScope.js';
import { DEFAULT_DIRECTORY } from './directory.js';
import { directoryConfigOf, type DirectoryService } from './directories/service.js';
import { scimBaseUrl, type Config } from './config/index.js';
import { createConsoleSessions } from './console/sessions.js';
import { loadSchemaDocuments } from './discovery/loadSchemas.js';
import type { Env } from './events/env.js';
import { createEventLog, type EventLog, type EventSubscriber } from './events/repository.js';
import type { GroupService } from './groups/service.js';
import type { Authenticator } from './http/auth.js';
import type { DevToken } from './http/devTokens.js';
import { createJobs, type Jobs } from './jobs/index.js';
import { createSigningKeys, type SigningKeys } from './keys/signingKeys.js';
import type { Lifecycle } from './lifecycle/service.js';
import type { Logger } from './logger.js';
import { createMailer, type Mailer } from './mail/transport.js';
import { createMetrics } from './metrics.js';
import { createOutbound, type Resolve } from './net/outbound.js';
import type { ClientService } from './oauth/clients.js';
import { createSchemaRegistry } from './scim/schemaRegistry.js';
import type { SecurityEvents } from './securityEvents/index.js';
import { createSlots } from './slots.js';
import type { UserService } from './users/service.js';

export interface RosterDeps {
  config: Config;
  db: Db;
  logger: Logger;
  extraTokens?: DevToken[];
  defaultMetrics?: boolean;
  /** The current time; tests pass their own clock. */
  now?: () => Date;
  /** Tests may pass their own mailer (still real SMTP); default: nodemailer to mail.smtpUrl. */
  mailer?: Mailer;
  /** Host name resolution of outbound requests (pushes, JWKS); tests pass one they control. Default dns.lookup. */
  resolve?: Resolve;
}

export interface Roster {
  app: Koa;
  authenticator: Authenticator;
  /** The event log, to hand to services that record events. */
  events: EventLog;
  users: UserService;
  groups: GroupService;
  lifecycle: Lifecycle;
  jobs: Jobs;
  signingKeys: SigningKeys;
  oauthClients: ClientService;
  securityEvents: SecurityEvents;
  /** The directories (README "Directories"): what the operators' admin API calls, and the purge. */
  directories: DirectoryService;
  /** Starts background work (jobs); the HTTP app works without it. */
  start(): Promise<void>;
  /** Stops background work; the caller closes the database afterwards. */
  stop(): Promise<void>;
  setAccepting(accepting: boolean): void;
  /**
   * Applies a new configuration (default states, templates, reminders, policies) without a restart.
   * Throws, keeping the old one, when the templates do not load; lists changed keys that need a restart.
   */
  reload(next: Config): Promise<{ restartNeeded: string[] }>;
  /** Records a reload refused before it reached reload() (the file did not validate), for the settings page. */
  reloadRefused(message: string): void;
}

/**
 * Wires config, database, services, jobs and HTTP together; shared by main.ts and the tests. Built
 * once, in dependency order, by feature (src/compose/): nothing is wired after construction but
 * the event log's subscriber (docs/ARCHITECTURE.md "Composition").
 */
export async function createRoster(deps: RosterDeps): Promise<Roster> {
  const { db, logger } = deps;
  const now = deps.now ?? (() => new Date());
  // Services read the configuration through this view, so a reload (SIGHUP) reaches them.
  const live = createLiveConfig(deps.config, now, directoryConfigOf);
  const { config } = live;
  const secrets = await prepareDatabase(db, deps.config, deps.extraTokens, logger);
  // Repositories get directory data only through its directory (src/db/directoryScope.ts).
  const data = scopedDb(db);
  // The security event publisher reads through the services, which record into the event log: looked up late.
  const late: { subscriber?: EventSubscriber } = {};
  const events = createEventLog(data, now, () => late.subscriber);
  const env: Env = { now, recordEvent: (event) => events.record(event), config, logger };
  const directories = wireDirectories({ env, db, data, fileConfig: live.file, fileTemplates: live.fileTemplates });
  const registry = createSchemaRegistry(loadSchemaDocuments());
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics });
  const signingKeys = createSigningKeys(db, {
    rotateAfterDays: () => config.signing.rotateAfterDays,
    publishRetiredForDays: () => config.signing.publishRetiredForDays,
    secrets,
    now,
  });
  // Every request Roster makes itself goes through this: destinations checked (README "Outbound requests").
  const outbound = createOutbound({
    settings: () => ({ allowedDestinations: config.outbound.allowedDestinations, production: config.production }),
    resolve: deps.resolve,
  });
  const shared = { env, db: data, signingKeys, metrics: metrics.registry, outbound };
  const { oauth, authenticator } = wireOAuth(shared, deps.extraTokens, directories.tokens.principal);
  const mailer = deps.mailer ?? createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from });
  const jobs = createJobs({ db: data, env, mailer, templates: live.templates, directories: directories.forJobs });
  directories.definePurge(jobs);
  const core = await wireUsers({ env, db: data, registry, events, jobs });
  const { users, groups, lifecycle } = core;
  const securityEvents = wireSecurityEvents({ ...shared, events, jobs, secrets }, users, groups);
  late.subscriber = securityEvents.subscriber;
  const bulk = createBulkService({
    users,
    groups,
    maxOperations: () => config.scim.bulk.maxOperations,
    baseUrl: () => scimBaseUrl(config),
  });
  const requestSlots = createSlots(() => ({
    ...config.server.overload,
    maxInFlightPerGroup: config.server.overload.maxInFlightPerDirectory,
  }));
  const asyncBulk = createAsyncBulk({
    bulk,
    responses: securityEvents.asyncResponses,
    requestSlots,
    limits: () => config.scim.bulk,
    logger,
  });
  const consoleSessions = createConsoleSessions(data, {
    idleMinutes: () => config.console.session.idleMinutes,
    absoluteHours: () => config.console.session.absoluteHours,
    now,
  });
  let accepting = true;
  const app = createRosterApp({
    env,
    db: data,
    directories,
    live,
    core,
    events,
    authenticator,
    oauth,
    signingKeys,
    securityEvents,
    bulk,
    asyncBulk,
    consoleSessions,
    metrics,
    registry,
    requestSlots,
    accepting: () => accepting,
  });
  await directories.byId(DEFAULT_DIRECTORY); // read once, so the handles below have its settings
  const inDefault = directories.inDefault;
  return {
    app,
    authenticator,
    events: inDefault(events),
    users: inDefault(users),
    groups: inDefault(groups),
    lifecycle: inDefault(lifecycle),
    jobs: inDefault(jobs),
    signingKeys,
    oauthClients: inDefault(oauth.clients),
    securityEvents: inDefault(securityEvents),
    directories: directories.service,
    async start() {
      await jobs.start();
      await directories.startPurge(jobs);
      await lifecycle.startRecurring();
      await securityEvents.start();
    },
    reload: (next) =>
      live.reload(next, async (previous) => {
        if (next.reminders.hourUtc !== previous.reminders.hourUtc) await lifecycle.startRecurring();
      }),
    async stop() {
      await asyncBulk.settled();
      await directories.activity.flush();
      await jobs.stop();
      await mailer.close();
    },
    reloadRefused: live.refused,
    setAccepting: (value) => {
      accepting = value;
    },
  };
}
