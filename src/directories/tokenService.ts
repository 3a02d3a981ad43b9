/**
 * A directory's static tokens (tokenRepository.ts): made (shown once), listed, revoked, and the
 * principal a presented one stands for. Each change is recorded in the directory's event log.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { requireDirectory } from '../directory.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { Env } from '../events/env.js';
import { looksLikePrincipalId, PRINCIPAL_ID_NAME_RULE, type Actor, type TokenSource } from '../principals.js';
import type { StoredToken, TokenRepository } from './tokenRepository.js';

const KINDS = ['scim', 'admin', 'verify'] as const;
const SOURCES: TokenSource[] = ['manual', 'bulk', 'integration'];

export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** What a stored token stands for, as the token check needs it (src/http/auth.ts `Principal`). */
export interface StoredTokenPrincipal {
  kind: StoredToken['kind'];
  id: string;
  name: string;
  source: TokenSource;
  directory: string;
}

/**
 * How long an instance trusts a token it found (a revocation through another instance is seen
 * within this; through this one at once). Tokens not found are not remembered, so made-up ones
 * take no memory.
 */
const FOUND_FOR_MS = 5000;
const MAX_REMEMBERED = 10_000;

export function createTokenService(deps: { tokens: TokenRepository; env: Pick<Env, 'now' | 'recordEvent'> }) {
  const { tokens, env } = deps;
  // By directory and hash: a token is looked up only in the directory of the request.
  const found = new Map<string, { at: number; principal: StoredTokenPrincipal }>();
  const event = (type: 'scim_token_created' | 'scim_token_revoked', token: StoredToken, actor: Actor) =>
    env.recordEvent({
      type,
      resource: { type: 'Token', id: token._id, username: token.name },
      initiatedBy: actor,
      details: { kind: token.kind },
    });

  return {
    async create(input: Record<string, unknown>, actor: Actor) {
      const { name, kind = 'scim', source = 'manual' } = input;
      if (kind !== 'scim' && input.source !== undefined)
        throw new InvalidError('source is for SCIM tokens only', { code: 'invalid_source' });
      if (typeof name !== 'string' || !/^\S.{0,99}$/.test(name) || name.trim() !== name)
        throw new InvalidError('name must be 1-100 characters without surrounding spaces', { code: 'invalid_name' });
      if (looksLikePrincipalId(name))
        throw new InvalidError(`name ${PRINCIPAL_ID_NAME_RULE}`, { code: 'invalid_name' });
      if (!KINDS.includes(kind as never))
        throw new InvalidError('kind must be "scim", "admin" or "verify"', { code: 'invalid_kind' });
      if (!SOURCES.includes(source as TokenSource))
        throw new InvalidError('source must be manual, bulk or integration', { code: 'invalid_source' });
      if (await tokens.activeByName(name, kind as StoredToken['kind']))
        throw new ConflictError('A token of this name and kind exists; revoke it first', { code: 'name_taken' });
      const token = `rst_${randomBytes(32).toString('base64url')}`;
      const stored: StoredToken = {
        _id: randomUUID(),
        name,
        kind: kind as StoredToken['kind'],
        source: kind === 'scim' ? (source as TokenSource) : 'manual',
        hash: tokenHash(token),
        createdAt: env.now(),
        createdBy: actor,
      };
      await tokens.insert(stored);
      await event('scim_token_created', stored, actor);
      const { hash: _hash, _id: id, ...shown } = stored;
      return { id, ...shown, token };
    },

    list: () => tokens.list(),

    async revoke(id: string, actor: Actor) {
      const revoked = await tokens.revoke(id, env.now());
      if (!revoked) throw new NotFoundError('No such token', { code: 'not_found' });
      for (const [key, entry] of found) if (entry.principal.id === `token:${revoked._id}`) found.delete(key);
      await event('scim_token_revoked', revoked, actor);
      return revoked;
    },

    /** The principal of a presented token, looked up in the current directory only. */
    async principal(token: string): Promise<StoredTokenPrincipal | undefined> {
      const directory = requireDirectory('a stored token');
      const hash = tokenHash(token);
      const key = `${directory}|${hash}`;
      const hit = found.get(key);
      if (hit && Date.now() - hit.at < FOUND_FOR_MS) return hit.principal;
      const stored = await tokens.byHash(hash);
      if (!stored) {
        found.delete(key);
        return undefined;
      }
      const principal = {
        kind: stored.kind,
        id: `token:${stored._id}`,
        name: stored.name,
        source: stored.source,
        directory,
      };
      found.set(key, { at: Date.now(), principal });
      if (found.size > MAX_REMEMBERED) found.delete(found.keys().next().value!);
      return principal;
    },
  };
}

export type DirectoryTokens = ReturnType<typeof createTokenService>;
