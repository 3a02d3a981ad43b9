/** Wires OAuth 2.0's parts for compose.ts: clients, the token endpoint, the JWT bearer verifier. */
import type { Db } from 'mongodb';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import type { NewEvent } from '../events/types.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { Logger } from '../logger.js';
import type { Outbound } from '../net/outbound.js';
import { createSlots } from '../slots.js';
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
  metrics: Registry;
  /** Outbound requests (trusted issuers' JWKS), destinations checked. */
  outbound: Outbound;
  now?: () => Date;
}) {
  const { db, config, signingKeys, recordEvent, logger, now } = deps;
  const secretChecks = new Counter({
    name: 'roster_oauth_secret_checks_total',
    help: 'Client secrets verified at the token endpoint (scrypt), known and unknown clients alike',
    registers: [deps.metrics],
  });
  const clients = createClientService({
    repository: createClientRepository(db),
    recordEvent,
    secretOverlapHours: () => config.oauth.secretOverlapHours,
    clientCacheSeconds: () => config.oauth.clientCacheSeconds,
    secretChecks: createSlots(() => ({
      maxInFlight: config.oauth.maxConcurrentSecretChecks,
      maxQueued: config.oauth.maxConcurrentSecretChecks * 16,
      queueTimeoutMs: 5000,
    })),
    countSecretCheck: () => secretChecks.inc(),
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
    outbound: deps.outbound,
    now,
  });
  return {
    clients,
    verifyJwt: createBearerVerifier({ config, signingKeys, clients, jwks, logger, now }),
    adminRouter: oauthClientAdminRoutes(clients),
    publicRouter: oauthRoutes(config, tokens),
  };
}
