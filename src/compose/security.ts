/**
 * The security features: OAuth 2.0 and the token checks that use it, and the security events
 * (RFC 9967) with the snapshots their tokens carry (docs/ARCHITECTURE.md "Composition").
 */
import type { Db } from 'mongodb';
import type { Registry } from 'prom-client';
import type { Env } from '../events/env.js';
import type { EventLog } from '../events/repository.js';
import type { GroupService } from '../groups/service.js';
import { createAuthenticator, type StoredTokenLookup } from '../http/auth.js';
import type { DevToken } from '../http/devTokens.js';
import type { Jobs } from '../jobs/index.js';
import type { SecretBox } from '../keys/keyEncryption.js';
import type { SigningKeys } from '../keys/signingKeys.js';
import type { Outbound } from '../net/outbound.js';
import { createOAuth } from '../oauth/index.js';
import { ScimError } from '../scim/errors.js';
import { createSecurityEvents } from '../securityEvents/index.js';
import type { UserService } from '../users/service.js';

interface Shared {
  env: Env;
  db: Db;
  signingKeys: SigningKeys;
  metrics: Registry;
  outbound: Outbound;
}

/** OAuth 2.0 and the authenticator that accepts its tokens beside the static ones. */
export function wireOAuth(shared: Shared, extraTokens: DevToken[] | undefined, storedToken: StoredTokenLookup) {
  const oauth = createOAuth(shared);
  const authenticator = createAuthenticator(shared.env.config, extraTokens, oauth.verifyJwt, storedToken);
  return { oauth, authenticator };
}

const notFound = (err: unknown) => {
  if (err instanceof ScimError && err.status === 404) return undefined;
  throw err;
};

/** The security events; a token's snapshot is the resource as SCIM shows it (groups without members). */
export function wireSecurityEvents(
  shared: Shared & { events: EventLog; jobs: Jobs; secrets: SecretBox },
  users: UserService,
  groups: GroupService,
) {
  return createSecurityEvents({
    ...shared,
    loadSnapshot: (type, id) =>
      type === 'User'
        ? users.get(id).then((r) => r.resource, notFound)
        : groups.get(id, { excludedAttributes: ['members'] }).then((r) => r.resource, notFound),
  });
}
