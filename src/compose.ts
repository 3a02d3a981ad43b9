import type Koa from 'koa';
import type { Db } from 'mongodb';
import { settingsRoutes, type ReloadStatus } from './admin/settingsRoutes.js';
import { createApp } from './app.js';
import { adminCredential } from './console/auth.js';
import { consoleRoutes } from './console/routes.js';
import { CONSOLE_SESSION_INDEXES, createConsoleSessions } from './console/sessions.js';
import { bulkRoutes } from './bulk/routes.js';
import { rootRoutes } from './root/routes.js';
import { createAsyncBulk } from './bulk/asyncBulk.js';
import { createBulkService } from './bulk/service.js';
import { bindReceiversByPrincipalId, dropRetiredIndexes, renameCollections } from './db/migrations.js';
import { ensureIndexes, type IndexSpec } from './db/mongo.js';
import { createEventLog, EVENT_INDEXES, type EventLog, type EventSubscriber } from './events/repository.js';
import { eventRoutes } from './events/routes.js';
import { loadSchemaDocuments } from './discovery/loadSchemas.js';
import { createAuthenticator, type Authenticator } from './http/auth.js';
import type { DevToken } from './http/devTokens.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { Features } from './discovery/documents.js';
import { createSchemaRegistry, SCHEMA_URNS } from './scim/schemaRegistry.js';
import type { NewEvent } from './events/types.js';
import { createMembershipRepository, MEMBERSHIP_INDEXES } from './groups/membershipRepository.js';
import { createGroupRepository, GROUP_INDEXES } from './groups/repository.js';
import { groupMembersRoutes } from './groups/groupMembersRoutes.js';
import { createGroupMemberService } from './groups/groupMembersService.js';
import { groupRoutes } from './groups/routes.js';
import { createGroupService } from './groups/service.js';
import { createGroupsOfUsers } from './groups/groupsOfUsers.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './lifecycle/passwords.js';
import { createUserRepository, USER_INDEXES } from './users/repository.js';
import { userRoutes } from './users/routes.js';
import { createUserService, type UserEffects, type UserService } from './users/service.js';
import type { GroupService } from './groups/service.js';
import path from 'node:path';
import { adminUserQueryRoutes } from './admin/userQueryRoutes.js';
import { adminUserRoutes } from './admin/userRoutes.js';
import { createExporter } from './admin/exports.js';
import { importExportRoutes } from './admin/importRoutes.js';
import { createImporter } from './admin/imports.js';
import { PROJECT_ROOT, type Config, scimBaseUrl } from './config/index.js';
import { createJobs, type Jobs } from './jobs/index.js';
import { credentialRoutes, lifecycleRoutes } from './lifecycle/routes.js';
import { createLifecycle, type Lifecycle } from './lifecycle/service.js';
import { createLinkTokens, createSchedules, LIFECYCLE_INDEXES } from './lifecycle/store.js';
import { jwksRoutes, signingKeyAdminRoutes } from './keys/routes.js';
import { createSecretBox } from './keys/keyEncryption.js';
import { resealStoredSecrets } from './keys/sealedSecrets.js';
import { createSigningKeys, SIGNING_KEY_INDEXES, SIGNING_KEY_SECRET, type SigningKeys } from './keys/signingKeys.js';
import { loadTemplates, type Templates } from './mail/templates.js';
import type { ClientService } from './oauth/clients.js';
import { createOAuth, OAUTH_INDEXES } from './oauth/index.js';
import {
  createSecurityEvents,
  PUBLISHED_EVENT_URIS,
  SECURITY_EVENT_INDEXES,
  type SecurityEvents,
} from './securityEvents/index.js';
import { RECEIVER_SECRET } from './securityEvents/receivers.js';
import { ScimError } from './scim/errors.js';
import { createMailer, type Mailer } from './mail/transport.js';
import { createOutbound, type Resolve } from './net/outbound.js';
import { createSlots } from './slots.js';

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

/** Settings read once at start-up: changing them needs a restart. */
const RESTART_KEYS: Record<string, (c: Config) => unknown> = {
  server: (c) => ({ port: c.server.port, host: c.server.host, publicUrl: c.server.publicUrl }),
  mongodb: (c) => c.mongodb,
  auth: (c) => c.auth,
  dataDir: (c) => c.dataDir,
  'mail.smtpUrl': (c) => c.mail.smtpUrl,
  'mail.from': (c) => c.mail.from,
  jobs: (c) => c.jobs,
  'securityEvents.sweepEvery': (c) => c.securityEvents.sweepEvery,
  keyEncryption: (c) => c.keyEncryption,
};

const INDEXES: IndexSpec[] = [
  ...EVENT_INDEXES,
  ...USER_INDEXES,
  ...GROUP_INDEXES,
  ...MEMBERSHIP_INDEXES,
  ...LIFECYCLE_INDEXES,
  ...SIGNING_KEY_INDEXES,
  ...CONSOLE_SESSION_INDEXES,
  ...OAUTH_INDEXES,
  ...SECURITY_EVENT_INDEXES,
];

/** What discovery advertises: keep in step with what the routes really do. */
const FEATURES: Features = {
  patch: true,
  bulk: true,
  filter: true,
  changePassword: true,
  sort: true,
  etag: true,
  cursorPaging: true,
  securityEventUris: PUBLISHED_EVENT_URIS,
};

/** Wires config, database, services, jobs and HTTP together; shared by main.ts and the tests. */
export async function createRoster(deps: RosterDeps): Promise<Roster> {
  const { db, logger } = deps;
  // Services read the configuration through this view, so a reload (SIGHUP) reaches them.
  let current = deps.config;
  const config = new Proxy({} as Config, { get: (_target, key) => current[key as keyof Config] });
  let currentTemplates = loadTemplates(path.resolve(PROJECT_ROOT, current.mail.templatesDir));
  const templates: Templates = {
    get dir() {
      return currentTemplates.dir;
    },
    get byName() {
      return currentTemplates.byName;
    },
  };
  await renameCollections(db);
  await dropRetiredIndexes(db);
  await bindReceiversByPrincipalId(
    db,
    [...current.auth.scimTokens, ...(deps.extraTokens ?? []).filter((t) => t.kind === 'scim')].map((t) => t.name),
  );
  await ensureIndexes(db, INDEXES);
  // Secrets at rest (README "Keys at rest"): no key, or stored secrets this key cannot open, stop here.
  const secrets = createSecretBox({ current: current.keyEncryption.key, previous: current.keyEncryption.previousKeys });
  const resealed = await resealStoredSecrets(db, secrets, [SIGNING_KEY_SECRET, RECEIVER_SECRET]);
  if (resealed.sealed || resealed.resealed) {
    logger.info(
      { ...resealed, keyId: secrets.currentKeyId },
      'stored secrets sealed with the current key-encryption key (sealed: were in clear; resealed: had an older key)',
    );
  }
  // The security event publisher needs the services, which need the event log: it is looked up late.
  const late: { subscriber?: EventSubscriber } = {};
  const events = createEventLog(db, deps.now, () => late.subscriber);
  const registry = createSchemaRegistry(loadSchemaDocuments());
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics });
  const signingKeys = createSigningKeys(db, {
    rotateAfterDays: () => config.signing.rotateAfterDays,
    publishRetiredForDays: () => config.signing.publishRetiredForDays,
    secrets,
    now: deps.now,
  });
  const recordEvent = (event: NewEvent) => events.record(event);
  // Every request Roster makes itself goes through this: destinations checked (README "Outbound requests").
  const outbound = createOutbound({
    settings: () => ({ allowedDestinations: config.outbound.allowedDestinations, production: config.production }),
    resolve: deps.resolve,
  });
  const oauth = createOAuth({
    db,
    config,
    signingKeys,
    recordEvent,
    logger,
    metrics: metrics.registry,
    outbound,
    now: deps.now,
  });
  const oauthClients = oauth.clients;
  const authenticator = createAuthenticator(config, deps.extraTokens, oauth.verifyJwt);
  const userRepository = createUserRepository(db);
  const groupRepository = createGroupRepository(db);
  const memberships = createMembershipRepository(db);
  // The lifecycle needs the user service and the user service calls the lifecycle after writes.
  const effects: UserEffects = {
    afterCreate: (user, ctx) => lifecycle.effects.afterCreate(user, ctx),
    afterUpdate: (before, after, ctx) => lifecycle.effects.afterUpdate(before, after, ctx),
    afterDelete: (user, ctx) => lifecycle.effects.afterDelete(user, ctx),
  };
  const users = createUserService({
    effects,
    config,
    users: userRepository,
    groups: createGroupsOfUsers(memberships, groupRepository, deps.now),
    schemas: registry.schemasOf('User'),
    recordEvent,
    recordEvents: (list) => events.recordMany(list),
    passwords: {
      hash: hashPassword,
      verify: verifyPassword,
      check: (password, user) =>
        checkPasswordPolicy(password, config.passwords, { username: user.userName, emails: user.emails }),
    },
    now: deps.now,
  });
  const groups = createGroupService({
    config,
    groups: groupRepository,
    memberships,
    users: userRepository,
    schemas: registry.schemasOf('Group'),
    recordEvent,
    now: deps.now,
  });

  const mailer = deps.mailer ?? createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from });
  const jobs = createJobs({ db, config, logger, mailer, templates, recordEvent, now: deps.now });
  const lifecycle = createLifecycle({
    config,
    users,
    records: userRepository,
    jobs,
    linkTokens: createLinkTokens(db),
    schedules: createSchedules(db),
    recordEvent,
    now: deps.now,
  });
  await lifecycle.defineJobs();
  const notFound = (err: unknown) => {
    if (err instanceof ScimError && err.status === 404) return undefined;
    throw err;
  };
  const securityEvents = createSecurityEvents({
    db,
    events,
    config,
    outbound,
    logger,
    jobs,
    signingKeys,
    secrets,
    metrics: metrics.registry,
    now: deps.now ?? (() => new Date()),
    loadSnapshot: (type, id) =>
      type === 'User'
        ? users.get(id).then((r) => r.resource, notFound)
        : groups.get(id, { excludedAttributes: ['members'] }).then((r) => r.resource, notFound),
  });
  late.subscriber = securityEvents.subscriber;
  const bulk = createBulkService({
    users,
    groups,
    maxOperations: () => config.scim.bulk.maxOperations,
    baseUrl: scimBaseUrl(config),
  });
  const requestSlots = createSlots(() => config.server.overload);
  const asyncBulk = createAsyncBulk({
    bulk,
    responses: securityEvents.asyncResponses,
    requestSlots,
    limits: () => config.scim.bulk,
    logger,
  });

  const consoleSessions = createConsoleSessions(db, {
    idleMinutes: () => config.console.session.idleMinutes,
    absoluteHours: () => config.console.session.absoluteHours,
    now: deps.now,
  });

  let lastReload: ReloadStatus | undefined;
  const noteReload = (status: Omit<ReloadStatus, 'at'>) => {
    lastReload = { at: (deps.now?.() ?? new Date()).toISOString(), ...status };
  };

  let accepting = true;
  const app = createApp({
    config,
    logger,
    db,
    authenticator,
    metrics,
    registry,
    features: FEATURES,
    authSchemes: () => ({
      staticTokens: authenticator.hasTokens('scim'),
      oauthClients: config.oauth.enabled,
      trustedIssuers: config.oauth.trustedIssuers.length > 0,
    }),
    accepting: () => accepting,
    requestSlots,
    adminAuth: adminCredential(authenticator, consoleSessions),
    scimRouters: [
      userRoutes(users),
      groupRoutes(groups),
      groupMembersRoutes(
        createGroupMemberService({
          groups,
          memberships,
          schema: registry.get(SCHEMA_URNS.groupMember)!,
          baseUrl: scimBaseUrl(config),
          limits: () => config.scim,
        }),
      ),
      bulkRoutes(bulk, asyncBulk),
      rootRoutes(users, groups, config.scim),
    ],
    adminRouters: [
      settingsRoutes(
        () => current,
        () => lastReload,
      ),
      signingKeyAdminRoutes(signingKeys),
      oauth.adminRouter,
      eventRoutes(events),
      adminUserQueryRoutes(users, userRepository),
      securityEvents.adminRouter,
      adminUserRoutes(users, lifecycle),
      importExportRoutes(
        createImporter({
          users,
          userRecords: userRepository,
          groups,
          groupRecords: groupRepository,
          memberships,
          recordEvent,
        }),
        createExporter({ config, users: userRepository, groups: groupRepository, memberships }),
      ),
    ],
    publicRouters: [
      jwksRoutes(signingKeys),
      oauth.publicRouter,
      securityEvents.pollRouter,
      lifecycleRoutes(config, lifecycle),
      credentialRoutes(config, lifecycle, authenticator),
      consoleRoutes(config, authenticator, consoleSessions, path.join(PROJECT_ROOT, 'console')),
    ],
  });
  return {
    app,
    authenticator,
    events,
    users,
    groups,
    lifecycle,
    jobs,
    signingKeys,
    oauthClients,
    securityEvents,
    async start() {
      await jobs.start();
      await lifecycle.startRecurring();
      await securityEvents.start();
    },
    async reload(next: Config) {
      let nextTemplates: Templates;
      try {
        nextTemplates = loadTemplates(path.resolve(PROJECT_ROOT, next.mail.templatesDir));
      } catch (err) {
        noteReload({ ok: false, error: (err as Error).message, restartNeeded: [] });
        throw err;
      }
      const restartNeeded = Object.entries(RESTART_KEYS)
        .filter(([, read]) => JSON.stringify(read(next)) !== JSON.stringify(read(current)))
        .map(([name]) => name);
      const hourChanged = next.reminders.hourUtc !== current.reminders.hourUtc;
      current = next;
      currentTemplates = nextTemplates;
      if (hourChanged) await lifecycle.startRecurring();
      noteReload({ ok: true, restartNeeded });
      return { restartNeeded };
    },
    async stop() {
      await asyncBulk.settled();
      await jobs.stop();
      await mailer.close();
    },
    reloadRefused: (message) => noteReload({ ok: false, error: message, restartNeeded: [] }),
    setAccepting: (value) => {
      accepting = value;
    },
  };
}
