import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Outbound } from '../net/outbound.js';

const FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 512 * 1024;

export interface JwksCacheOptions {
  /** A JWKS is re-read once it is this old. */
  maxAgeSeconds: () => number;
  /** At most one read per URI per cooldown, however many unknown kids arrive (or fetches fail). */
  cooldownSeconds: () => number;
  /** Sends the GET: only to allowed destinations (README "Outbound requests"). */
  outbound: Outbound;
  now?: () => Date;
}

interface Entry {
  getKey?: JWTVerifyGetKey;
  fetchedAt: number;
  attemptedAt: number;
  inflight?: Promise<void>;
}

/** GET a JWKS over HTTP(S): to an allowed destination, bounded in time and size, no redirects. */
async function fetchJwks(outbound: Outbound, uri: string): Promise<JSONWebKeySet> {
  const res = await outbound.request(uri, {
    method: 'GET',
    headers: { accept: 'application/json' },
    timeoutMs: FETCH_TIMEOUT_MS,
    maxResponseBytes: MAX_JWKS_BYTES,
  });
  if (res.status < 200 || res.status > 299) throw new Error(`JWKS ${uri} answered ${res.status}`);
  if (res.truncated) throw new Error(`JWKS ${uri} is larger than ${MAX_JWKS_BYTES} bytes`);
  const jwks = JSON.parse(res.body.toString('utf8')) as JSONWebKeySet;
  if (!Array.isArray(jwks?.keys)) throw new Error(`JWKS ${uri} has no "keys" list`);
  return jwks;
}

/**
 * Trusted issuers' key sets, fetched on first use and cached. A token whose kid is not in the cached
 * set re-reads it once (the issuer may have rotated), unless a read happened within the cooldown:
 * a stream of made-up kids costs the issuer at most one request per cooldown.
 */
export function createJwksCache(options: JwksCacheOptions) {
  const now = () => (options.now ?? (() => new Date()))().getTime();
  const entries = new Map<string, Entry>();

  function load(uri: string, entry: Entry): Promise<void> {
    entry.inflight ??= (async () => {
      entry.attemptedAt = now();
      try {
        const jwks = await fetchJwks(options.outbound, uri);
        entry.getKey = createLocalJWKSet(jwks);
        entry.fetchedAt = now();
      } finally {
        entry.inflight = undefined;
      }
    })();
    return entry.inflight;
  }

  const coolingDown = (entry: Entry) => now() - entry.attemptedAt < options.cooldownSeconds() * 1000;

  return {
    keySource(uri: string): JWTVerifyGetKey {
      return async (header, token) => {
        let entry = entries.get(uri);
        if (!entry) entries.set(uri, (entry = { fetchedAt: 0, attemptedAt: -Infinity }));
        const stale = now() - entry.fetchedAt >= options.maxAgeSeconds() * 1000;
        if ((!entry.getKey || stale) && !coolingDown(entry)) {
          // An issuer briefly unreachable: keep verifying with the keys read before, if any.
          await load(uri, entry).catch((err: unknown) => {
            if (!entry.getKey) throw err;
          });
        } else if (entry.inflight) await entry.inflight.catch(() => undefined);
        if (!entry.getKey) throw new Error(`JWKS ${uri} could not be read`);
        try {
          return await entry.getKey(header, token);
        } catch (err) {
          if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
          // A read under way (another request's) may bring the key; else read once unless cooling down.
          if (entry.inflight) await entry.inflight.catch(() => undefined);
          else if (coolingDown(entry)) throw err;
          else await load(uri, entry);
          return entry.getKey(header, token);
        }
      };
    },
  };
}

export type JwksCache = ReturnType<typeof createJwksCache>;
