/**
 * Scopes of OAuth access tokens. `scim:read` reads the SCIM API (GET, and POST .search, which is a
 * read), `scim:write` changes it (POST, PUT, PATCH, DELETE, Bulk); neither implies the other.
 * `admin` opens the admin API. POST /auth/verify takes only verify tokens: no scope opens it.
 */
export const SCOPES = ['scim:read', 'scim:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a client may ask for when its registration names no scopes. */
export const DEFAULT_CLIENT_SCOPES: Scope[] = ['scim:read', 'scim:write'];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/** A `scope` parameter or claim (space-separated, RFC 6749 §3.3) as a list without repeats. */
export function parseScope(value: string): string[] {
  return [...new Set(value.split(' ').filter((s) => s !== ''))];
}

/** The scope a SCIM request needs: reads (GET, HEAD, POST .search) need scim:read, the rest scim:write. */
export function scimScopeFor(method: string, path: string): Scope {
  const upper = method.toUpperCase();
  if (upper === 'GET' || upper === 'HEAD') return 'scim:read';
  if (upper === 'POST' && /\/\.search$/.test(path)) return 'scim:read';
  return 'scim:write';
}
