/** Wires OAuth 2.0's parts for compose/security.ts: clients, the token endpoint, the JWT bearer verifier. */
import type { Db } from 'mongodb';
import { Counter, type Registry } from 'prom-client';
import type { Env } from '../events/env.js';
import type { SigningKeys } from '../keys/signingKeys.js';
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
  /** Clock, event recorder, configuration, logger (src/events/env.ts). */
  env: Env;
  signingKeys: SigningKeys;
  metrics: Registry;
  /** Outbound requests (trusted issuers' JWKS), destinations checked. */
  outbound: Outbound;
}) {
  const { db, signingKeys } = deps;
  const { config, now } = deps.env;
  const secretChecks = new Counter({
    name: 'roster_oauth_secret_checks_total',
    help: 'Client secrets verified at the token endpoint (scrypt), known and unknown clients alike',
    registers: [deps.metrics],
  });
  const clients = createClientService({
    repository: createClientRepository(db),
    env: deps.env,
    secretOverlapHours: () => config.oauth.secretOverlapHours,
    clientCacheSeconds: () => config.oauth.clientCacheSeconds,
    secretChecks: createSlots(() => ({
      maxInFlight: config.oauth.maxConcurrentSecretChecks,
      maxQueued: config.oauth.maxConcurrentSecretChecks * 16,
      queueTimeoutMs: 5000,
    })),
    countSecretCheck: () => secretChecks.inc(),
  });
  const tokens = createTokenService({ env: deps.env, clients, assertions: createAssertionLog(db), signingKeys });
  const jwks = createJwksCache({
    maxAgeSeconds: () => config.oauth.jwksCacheSeconds,
    cooldownSeconds: () => config.oauth.jwksRefreshCooldownSeconds,
    outbound: deps.outbound,
    now,
  });
  return {
    clients,
    verifyJwt: createBearerVerifier({ env: deps.env, signingKeys, clients, jwks }),
    adminRouter: oauthClientAdminRoutes(clients),
    publicRouter: oauthRoutes(config, tokens),
  };
}
