/**
 * Shared fixtures for the IdP replay tests (test/idp, test/oauth/provisioning): what Okta's "SCIM 2.0
 * protocol reference" and Microsoft's "Develop and plan provisioning for a SCIM endpoint" (plus "Known
 * issues ... SCIM 2.0 protocol compliance") send. The URNs and PatchOp builder are in ./scim.ts, the
 * assertions on the answers in ./scimResponses.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Json as ConfigJson } from '../../src/config/index.js';
import { TOKENS, useTestRoster, type TestRoster, type TestRosterOptions } from './roster.js';
import type { Json } from './scim.js';

/**
 * This file's Roster as an IdP reaches it: `idp()` is a SCIM client with the integration token, as
 * Okta and Entra are application and cloud-directory integrations (new users default to ACTIVE).
 */
export function useIdpRoster(
  overrides: ConfigJson = {},
  options: TestRosterOptions = {},
): { t: TestRoster; idp: () => ReturnType<TestRoster['scim']> } {
  const t = useTestRoster(overrides, options);
  return { t, idp: () => t.scim(TOKENS.integration) };
}

/** A password that satisfies the default policy (Okta sends the app user's password on create). */
export const POLICY_PASSWORD = 'Okta-Sync-Passw0rd!';

/** A short unique suffix so tests sharing one database never collide. */
export function unique(): string {
  return randomUUID().slice(0, 8);
}

/**
 * `?filter=...` as the IdPs put it on the wire. Okta percent-encodes spaces (%20) and '@' (%40);
 * Entra sends spaces as '+' and quotes as %22.
 */
export function filterQuery(filter: string, style: 'okta' | 'entra', extra = ''): string {
  const encoded = style === 'okta' ? encodeURIComponent(filter) : encodeURIComponent(filter).replace(/%20/g, '+');
  return `filter=${encoded}${extra}`;
}

/** Entra's create body (tutorial, "Create User"). */
export function entraCreateBody(tag = unique()): Json {
  return {
    schemas: [
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    ],
    externalId: randomUUID(),
    userName: `Test_User_${tag}`,
    active: true,
    emails: [{ primary: true, type: 'work', value: `Test_User_${tag}@testuser.com` }],
    meta: { resourceType: 'User' },
    name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    roles: [],
  };
}

/** The member ids of a group resource (members absent means none). */
export function memberIds(group: Json): string[] {
  return ((group.members as Json[] | undefined) ?? []).map((m) => m.value as string).sort();
}
