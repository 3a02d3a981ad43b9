/**
 * The HTTP app with every feature's routers, grouped by the error shape and authentication they
 * share: SCIM, admin, public (docs/ARCHITECTURE.md "Composition").
 */
import path from 'node:path';
import type { Db } from 'mongodb';
import { createExporter } from '../admin/exports.js';
import { importExportRoutes } from '../admin/importRoutes.js';
import { createImporter } from '../admin/imports.js';
import { settingsRoutes } from '../admin/settingsRoutes.js';
import { adminUserQueryRoutes } from '../admin/userQueryRoutes.js';
import { adminUserRoutes } from '../admin/userRoutes.js';
import { createApp } from '../app.js';
import { bulkRoutes } from '../bulk/routes.js';
import type { AsyncBulk } from '../bulk/asyncBulk.js';
import type { createBulkService } from '../bulk/service.js';
import { PROJECT_ROOT, scimBaseUrl } from '../config/index.js';
import { adminCredential } from '../console/auth.js';
import { consoleRoutes } from '../console/routes.js';
import type { ConsoleSessions } from '../console/sessions.js';
import type { Features } from '../discovery/documents.js';
import type { Env } from '../events/env.js';
import type { EventLog } from '../events/repository.js';
import { eventRoutes } from '../events/routes.js';
import { groupMembersRoutes } from '../groups/groupMembersRoutes.js';
import { createGroupMemberService } from '../groups/groupMembersService.js';
import { groupRoutes } from '../groups/routes.js';
import type { Authenticator } from '../http/auth.js';
import { jwksRoutes, signingKeyAdminRoutes } from '../keys/routes.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import { credentialRoutes, lifecycleRoutes } from '../lifecycle/routes.js';
import type { HttpMetrics } from '../metrics.js';
import type { createOAuth } from '../oauth/index.js';
import { rootRoutes } from '../root/routes.js';
import { SCHEMA_URNS, type SchemaRegistry } from '../scim/schemaRegistry.js';
import { PUBLISHED_EVENT_URIS, type SecurityEvents } from '../securityEvents/index.js';
import type { Slots } from '../slots.js';
import { userRoutes } from '../users/routes.js';
import { directoryAdminRoutes, directoryRoutes } from '../directories/routes.js';
import type { WiredDirectories } from './directories.js';
import type { LiveConfig } from './liveConfig.js';
import type { UsersAndGroups } from './users.js';

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

export interface AppParts {
  env: Env;
  db: Db;
  directories: WiredDirectories;
  live: LiveConfig;
  core: UsersAndGroups;
  events: EventLog;
  authenticator: Authenticator;
  oauth: ReturnType<typeof createOAuth>;
  signingKeys: SigningKeys;
  securityEvents: SecurityEvents;
  bulk: ReturnType<typeof createBulkService>;
  asyncBulk: AsyncBulk;
  consoleSessions: ConsoleSessions;
  metrics: HttpMetrics;
  registry: SchemaRegistry;
  requestSlots: Slots;
  accepting: () => boolean;
}

export function createRosterApp(parts: AppParts) {
  const { env, authenticator, registry, core, oauth, signingKeys, securityEvents, live } = parts;
  const { config } = env;
  const { users, groups, lifecycle, userRepository, groupRepository, memberships } = core;
  return createApp({
    config,
    logger: env.logger,
    db: parts.db,
    authenticator,
    metrics: parts.metrics,
    registry,
    features: FEATURES,
    authSchemes: () => ({
      staticTokens: authenticator.hasTokens('scim'),
      oauthClients: config.oauth.enabled,
      trustedIssuers: config.oauth.trustedIssuers.length > 0,
    }),
    accepting: parts.accepting,
    requestSlots: parts.requestSlots,
    adminAuth: adminCredential(authenticator, parts.consoleSessions),
    directories: parts.directories,
    scimAnswered: parts.directories.activity.note,
    scimRouters: [
      userRoutes(users),
      groupRoutes(groups),
      groupMembersRoutes(
        createGroupMemberService({
          groups,
          memberships,
          schema: registry.get(SCHEMA_URNS.groupMember)!,
          baseUrl: () => scimBaseUrl(config),
          limits: () => config.scim,
        }),
      ),
      bulkRoutes(parts.bulk, parts.asyncBulk),
      rootRoutes(users, groups, config.scim),
    ],
    adminRouters: [
      directoryRoutes(parts.directories.service, live.file),
      directoryAdminRoutes(parts.directories.service, parts.directories.tokens, live.file),
      settingsRoutes(live.current, live.lastReload),
      signingKeyAdminRoutes(signingKeys),
      oauth.adminRouter,
      eventRoutes(parts.events),
      adminUserQueryRoutes(users, userRepository),
      securityEvents.adminRouter,
      adminUserRoutes(users, lifecycle),
      importExportRoutes(
        createImporter({ users, userRecords: userRepository, groups, groupRecords: groupRepository, memberships, env }),
        createExporter({ config, users: userRepository, groups: groupRepository, memberships }),
      ),
    ],
    publicRouters: [
      jwksRoutes(signingKeys),
      oauth.publicRouter,
      securityEvents.pollRouter,
      lifecycleRoutes(config, lifecycle),
      credentialRoutes(config, lifecycle, authenticator),
      consoleRoutes(config, authenticator, parts.consoleSessions, path.join(PROJECT_ROOT, 'console')),
    ],
  });
}
