import type { JWTPayload } from 'jose';
import type { Config } from '../config/index.js';
import { OAuthError } from './errors.js';
import { parseScope, type Scope } from '../scopes.js';

/** The JOSE `typ` of Roster's access tokens (RFC 9068 §2.1). */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Roster is both the issuer and the audience (the one resource server) of the tokens it issues. */
export const rosterIssuer = (config: Pick<Config, 'server'>) => config.server.publicUrl;
export const tokenEndpoint = (config: Pick<Config, 'server'>) => `${config.server.publicUrl}/oauth/token`;

export interface AccessTokenInput {
  issuer: string;
  /** The directory the client belongs to: the token is good there only (its issuer is that directory's too). */
  directory: string;
  clientId: string;
  scopes: readonly string[];
  now: Date;
  ttlSeconds: number;
  jti: string;
}

/** The claims of an access token (RFC 9068 §2.2); the client acts for itself, so sub is the client. */
export function accessTokenClaims(input: AccessTokenInput): JWTPayload {
  const iat = Math.floor(input.now.getTime() / 1000);
  return {
    iss: input.issuer,
    aud: input.issuer,
    sub: input.clientId,
    client_id: input.clientId,
    directory: input.directory,
    scope: input.scopes.join(' '),
    iat,
    nbf: iat,
    exp: iat + input.ttlSeconds,
    jti: input.jti,
  };
}

/**
 * The scopes a token gets: those requested, each of which the client must be allowed (else
 * invalid_scope, RFC 6749 §5.2), or all the client's scopes when it asked for none (§3.3).
 */
export function grantedScopes(requested: string | undefined, allowed: readonly Scope[]): string[] {
  if (requested === undefined || requested.trim() === '') return [...allowed];
  const scopes = parseScope(requested);
  const refused = scopes.filter((s) => !(allowed as readonly string[]).includes(s));
  if (refused.length)
    throw new OAuthError(400, 'invalid_scope', `Scope not allowed for this client: ${refused.join(' ')}`);
  return scopes;
}
