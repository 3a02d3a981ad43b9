import type { Context } from 'koa';
import type { Config } from '../config/index.js';
import { readRawBody } from '../http/body.js';
import { createRouter, type Router } from '../http/router.js';
import { SIGNING_ALG } from '../keys/signingKeys.js';
import { ASSERTION_ALGS } from './clientAuth.js';
import { invalidRequest, OAuthError } from './errors.js';
import { SCOPES } from '../scopes.js';
import type { TokenService } from './tokenService.js';
import { rosterIssuer, tokenEndpoint } from './tokens.js';

const FORM_LIMIT = 64 * 1024;

/** The token request's form parameters; a repeated parameter is refused (RFC 6749 §3.2). */
async function readTokenForm(ctx: Context): Promise<Record<string, string>> {
  if (ctx.get('content-type').split(';')[0].trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw invalidRequest('Send the token request as application/x-www-form-urlencoded');
  }
  const raw = await readRawBody(ctx, FORM_LIMIT).catch(() => {
    throw invalidRequest(`The token request is larger than ${FORM_LIMIT} bytes`);
  });
  // Without a prototype: a field named __proto__ or constructor is just a field (and not "repeated").
  const params: Record<string, string> = Object.create(null);
  for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) {
    if (Object.hasOwn(params, key)) throw invalidRequest(`The parameter ${key.slice(0, 100)} is repeated`);
    params[key] = value;
  }
  return params;
}

/** RFC 8414 metadata: what a client needs to find the token endpoint and verify tokens. */
export function authorizationServerMetadata(config: Config) {
  return {
    issuer: rosterIssuer(config),
    token_endpoint: tokenEndpoint(config),
    jwks_uri: `${config.server.publicUrl}/.well-known/jwks.json`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    scopes_supported: [...SCOPES],
    service_documentation: `${config.server.publicUrl}/`,
    access_token_signing_alg_values_supported: [SIGNING_ALG],
  };
}

/** POST /oauth/token and its metadata; answers 404 while oauth.enabled is false. */
export function oauthRoutes(config: Config, tokens: TokenService): Router {
  // What is not an OAuthError (a body too large, a database going away) gets a SCIM error body.
  const router = createRouter({ errorShape: 'scim' });
  router.use(async (ctx, next) => {
    if (config.oauth.enabled) return next();
  });
  router.get('/.well-known/oauth-authorization-server', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = authorizationServerMetadata(config);
  });
  router.post('/oauth/token', async (ctx) => {
    ctx.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    try {
      const params = await readTokenForm(ctx);
      ctx.body = await tokens.grant(params, ctx.get('authorization'), ctx.ip);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      ctx.status = err.status;
      ctx.set(err.headers);
      ctx.body = { error: err.error, error_description: err.message };
    }
  });
  router.all('/oauth/token', (ctx) => {
    ctx.status = 405;
    ctx.set('Allow', 'POST');
    ctx.body = { error: 'invalid_request', error_description: 'Use POST' };
  });
  return router;
}
