/**
 * The kinds of principal id: a static token (`token:<name>`), an OAuth client (`oauth:<client_id>`),
 * an admin signed in to the console (`console:<admin token name>`), a trusted issuer's caller
 * (`issuer:<iss>#<sub or app id>`). Ids are typed, so two credentials of different kinds never share
 * one, whatever they are named; names starting with one of these prefixes are refused.
 */
export const PRINCIPAL_ID_KINDS = ['token', 'oauth', 'console', 'issuer'] as const;

/** True when a name could be read as a principal id (`<kind>:…`): refused as a credential's name. */
export const looksLikePrincipalId = (name: string) => PRINCIPAL_ID_KINDS.some((kind) => name.startsWith(`${kind}:`));

/** A principal id a SCIM client can have (what a security-event receiver's `client` names). */
export const isScimPrincipalId = (id: string) => /^(token|oauth|issuer):\S/.test(id);
