/** Wires OAuth 2.0's parts for compose.ts: clients, the token endpoint, the JWT bearer verifier. */
import type { Db } from 'mongodb';
import type { Config } from '../config/index.js';
import type { NewEvent } from '../events/types.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { Logger } from '../logger.js';
import { oauthClientAdminRoutes } from './adminRoutes.js';
import { createBearerVerifier } from './bearer.js';
import { createAssertionLog, createClientRepository } from './clientRepository.js';
import { createClientService } from './clients.js';
import { createJwksCache } from './jwksCache.js';
import { oauthRoutes } from './routes.js';
import { createTokenService } from './tokenService.js';

export { OAUTH_INDEXES } from './clientRepository.js';

export function createOAuth(deps: {
  db: Db;
  config: Config;
  signingKeys: SigningKeys;
  recordEvent(event: NewEvent): Promise<void>;
  logger: Logger;
  now?: () => Date;
}) {
  const { db, config, signingKeys, recordEvent, logger, now } = deps;
  const clients = createClientService({
    repository: createClientRepository(db),
    recordEvent,
    secretOverlapHours: () => config.oauth.secretOverlapHours,
    clientCacheSeconds: () => config.oauth.clientCacheSeconds,
    now,
  });
  const tokens = createTokenService({
    config,
    clients,
    assertions: createAssertionLog(db),
    signingKeys,
    recordEvent,
    now,
  });
  const jwks = createJwksCache({
    maxAgeSeconds: () => config.oauth.jwksCacheSeconds,
    cooldownSeconds: () => config.oauth.jwksRefreshCooldownSeconds,
    now,
  });
  return {
    clients,
    verifyJwt: createBearerVerifier({ config, signingKeys, clients, jwks, logger, now }),
    adminRouter: oauthClientAdminRoutes(clients),
    publicRouter: oauthRoutes(config, tokens),
  };
}
