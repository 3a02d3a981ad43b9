import { describe, expect, it } from 'vitest';
import { readClientCredentials } from '../../src/oauth/clientAuth.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { scimScopeFor } from '../../src/scopes.js';
import { grantedScopes } from '../../src/oauth/tokens.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function oauthErrorOf(run: () => unknown): OAuthError {
  try {
    run();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('no OAuthError thrown');
}

describe('reading client credentials (RFC 6749 §2.3)', () => {
  it('form-decodes the Basic id and secret (a secret may contain ":", "+" and "%")', () => {
    const credentials = readClientCredentials(basic('my%20client', 'a%3Ab%2Bc+d'), {});
    expect(credentials).toEqual({ method: 'client_secret_basic', clientId: 'my client', secret: 'a:b+c d' });
  });

  it('refuses malformed Basic credentials with invalid_client and the Basic challenge', () => {
    for (const header of ['Basic !!!', basic('', 'x'), `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
      const error = oauthErrorOf(() => readClientCredentials(header, {}));
      expect(error).toMatchObject({ status: 401, error: 'invalid_client' });
      expect(error.headers['WWW-Authenticate']).toBe('Basic realm="roster"');
    }
    expect(oauthErrorOf(() => readClientCredentials(basic('%zz', 'x'), {})).error).toBe('invalid_client');
  });

  it('refuses two methods at once, a client_id that contradicts Basic, and a Bearer header', () => {
    expect(oauthErrorOf(() => readClientCredentials(basic('a', 'b'), { client_secret: 'b' })).error).toBe(
      'invalid_request',
    );
    expect(oauthErrorOf(() => readClientCredentials(basic('a', 'b'), { client_id: 'c' })).error).toBe(
      'invalid_request',
    );
    expect(oauthErrorOf(() => readClientCredentials('Bearer abc', {})).error).toBe('invalid_client');
    expect(oauthErrorOf(() => readClientCredentials('', { client_secret: 'x' })).error).toBe('invalid_request');
  });
});

describe('scopes', () => {
  it('reads need scim:read (POST .search included), everything else scim:write', () => {
    expect(scimScopeFor('GET', '/scim/v2/Users')).toBe('scim:read');
    expect(scimScopeFor('POST', '/scim/v2/Users/.search')).toBe('scim:read');
    expect(scimScopeFor('POST', '/scim/v2/.search')).toBe('scim:read');
    expect(scimScopeFor('POST', '/scim/v2/Users')).toBe('scim:write');
    expect(scimScopeFor('POST', '/scim/v2/Bulk')).toBe('scim:write');
    expect(scimScopeFor('DELETE', '/scim/v2/Groups/x')).toBe('scim:write');
  });

  it('grants what was asked if allowed, all allowed scopes when none was asked, else invalid_scope', () => {
    expect(grantedScopes('scim:read  scim:read', ['scim:read', 'scim:write'])).toEqual(['scim:read']);
    expect(grantedScopes(undefined, ['scim:read', 'admin'])).toEqual(['scim:read', 'admin']);
    expect(grantedScopes(' ', ['scim:write'])).toEqual(['scim:write']);
    expect(oauthErrorOf(() => grantedScopes('admin', ['scim:read'])).error).toBe('invalid_scope');
  });
});
