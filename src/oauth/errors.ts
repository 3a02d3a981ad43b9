/** An error answer of the token endpoint (RFC 6749 §5.2): `{error, error_description}`. */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly status: number,
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unauthorized_client'
      | 'unsupported_grant_type'
      | 'invalid_scope'
      | 'temporarily_unavailable',
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const invalidRequest = (message: string) => new OAuthError(400, 'invalid_request', message);

/** 401; a client that tried HTTP Basic gets the Basic challenge back (RFC 6749 §5.2). */
export const invalidClient = (message: string, basic: boolean) =>
  new OAuthError(401, 'invalid_client', message, basic ? { 'WWW-Authenticate': 'Basic realm="roster"' } : {});
