/**
 * The kinds of principal id: a static token (`token:<name>`), an OAuth client (`oauth:<client_id>`),
 * an admin signed in to the console (`console:<admin token name>`), a trusted issuer's caller
 * (`issuer:<iss>#<sub or app id>`). Ids are typed, so two credentials of different kinds never share
 * one, whatever they are named; names starting with one of these prefixes are refused.
 */
export const PRINCIPAL_ID_KINDS = ['token', 'oauth', 'console', 'issuer'] as const;

/** True when a name could be read as a principal id (`<kind>:…`): refused as a credential's name. */
export const looksLikePrincipalId = (name: string) => PRINCIPAL_ID_KINDS.some((kind) => name.startsWith(`${kind}:`));

/** How a refusal of such a name reads (OAuth client registration, static tokens in config). */
const PREFIXES = PRINCIPAL_ID_KINDS.map((kind) => `${kind}:`);
export const PRINCIPAL_ID_NAME_RULE = `must not start with ${PREFIXES.slice(0, -1).join(', ')} or ${PREFIXES.at(-1)}`;

/** The id kinds a SCIM client can have: what a security-event receiver's `client` names. */
export const SCIM_PRINCIPAL_ID = /^(token|oauth|issuer):\S/;
export const isScimPrincipalId = (id: string) => SCIM_PRINCIPAL_ID.test(id);

/** Where a credential's users come from: picks a new user's default state (config `users.defaultState`). */
export type TokenSource = 'manual' | 'bulk' | 'integration';

/** What a valid JWT bearer token grants: the caller's id, name and source (as a static token has) and scopes. */
export interface Grant {
  /** `oauth:<client_id>` or `issuer:<iss>#<sub or app id>` (a principal id, above). */
  id: string;
  name: string;
  source: TokenSource;
  scopes: string[];
  /** The directory the credential belongs to (src/directory.ts): it is refused in any other. */
  directory?: string;
}

/**
 * Who acted, as the event log records it (`initiatedBy`): a SCIM or admin credential, an OAuth client
 * at the token endpoint, the system (jobs), or the end user. `name` is for people to read; `id`
 * identifies a credential (a principal id, above).
 */
export interface Actor {
  type: 'admin' | 'scim' | 'client' | 'system' | 'user';
  name: string;
  id?: string;
}
