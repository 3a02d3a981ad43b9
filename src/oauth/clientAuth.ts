import { ASYMMETRIC_ALGS } from '../config/index.js';
import { invalidClient, invalidRequest } from './errors.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What a client may sign its private_key_jwt assertion with (asymmetric only). */
export const ASSERTION_ALGS: string[] = [...ASYMMETRIC_ALGS];

/** How a client proved who it is at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2). */
export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string | undefined; assertion: string };

/** application/x-www-form-urlencoded decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function fromBasic(authorization: string): ClientCredentials {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw invalidClient('The Basic credentials are malformed', true);
  try {
    return {
      method: 'client_secret_basic',
      clientId: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw invalidClient('The Basic credentials are malformed', true);
  }
}

/**
 * The one client authentication a token request carries. Using more than one method is refused
 * (RFC 6749 §2.3), as is none; a Bearer or other Authorization scheme is not client authentication.
 */
export function readClientCredentials(authorization: string, params: Record<string, string>): ClientCredentials {
  const basic = /^Basic\s/i.test(authorization);
  if (authorization && !basic) throw invalidClient('Authenticate with HTTP Basic or in the form body', true);
  const methods = [basic, params.client_secret !== undefined, params.client_assertion !== undefined];
  if (methods.filter(Boolean).length > 1) throw invalidRequest('Use exactly one client authentication method');
  if (basic) {
    const credentials = fromBasic(authorization);
    if (params.client_id !== undefined && params.client_id !== credentials.clientId) {
      throw invalidRequest('client_id does not match the Basic credentials');
    }
    return credentials;
  }
  if (params.client_secret !== undefined) {
    if (!params.client_id) throw invalidRequest('client_id is required with client_secret');
    return { method: 'client_secret_post', clientId: params.client_id, secret: params.client_secret };
  }
  if (params.client_assertion !== undefined) {
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw invalidRequest(`client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    return { method: 'private_key_jwt', clientId: params.client_id, assertion: params.client_assertion };
  }
  throw invalidClient('Client authentication is required', true);
}
