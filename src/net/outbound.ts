import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { checkDestination, destinationPolicy, type DestinationPolicy } from './destinations.js';

/**
 * Roster's own outbound HTTP requests (security event pushes, trusted issuers' JWKS), sent only to
 * destinations the policy allows (src/net/destinations.ts), checked on the address connected to:
 * the host name is resolved once, every address it resolves to is checked, and the socket connects
 * to those addresses (the `lookup` of node:http), so a name that resolves to a public address when
 * registered and to 127.0.0.1 later (DNS rebinding) is refused at the connection. Redirects are never
 * followed; the whole request is bounded in time and the answer in size.
 */

/** Resolves a host name to every address (dns.lookup by default; tests pass a resolver they control). */
export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Roster refused to send to a destination: nothing was sent. `code` is what the outbox records. */
export class DestinationRefusedError extends Error {
  override name = 'DestinationRefusedError';
  readonly code = 'destination_refused';
}

export interface OutboundSettings {
  /** `outbound.allowedDestinations`. */
  allowedDestinations: readonly string[];
  /** `production`: plain http only to allowed destinations. */
  production: boolean;
}

export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** For the whole request: connecting, sending and reading the answer. */
  timeoutMs: number;
  /** Read at most this much of the answer; `truncated` says when there was more. */
  maxResponseBytes: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

/** A pooled connection unused this long is closed. */
const IDLE_MS = 30_000;

/** Registration-time lookups give up after this (the connection checks again anyway). */
const CHECK_LOOKUP_MS = 3000;

function httpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DestinationRefusedError(`${text} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DestinationRefusedError(`${url.protocol} is not http or https`);
  return url;
}

/** The reason the addresses are refused, or undefined when every one is allowed. */
function refusal(addresses: string[], policy: DestinationPolicy, plainHttp: boolean): string | undefined {
  for (const address of addresses) {
    const verdict = checkDestination(address, policy, plainHttp);
    if (!verdict.allowed) return verdict.reason;
  }
  return addresses.length ? undefined : 'the host name resolves to no address';
}

/** node:http's `lookup`: resolves, refuses the connection unless every address is allowed. */
const checkedLookup =
  (resolve: Resolve, policy: DestinationPolicy, plainHttp: boolean): LookupFunction =>
  (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const addresses = found.filter((a) => !family || a.family === family);
        const reason = refusal(
          addresses.map((a) => a.address),
          policy,
          plainHttp,
        );
        if (reason) return callback(new DestinationRefusedError(`${hostname}: ${reason}`), '', 0);
        if (options.all) return (callback as (e: null, all: typeof addresses) => void)(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

/**
 * Sends the request and reads at most `maxResponseBytes` of the answer, all within `timeoutMs`.
 * The destination was checked by the caller (a literal address) or is checked by `lookup`.
 */
function send(
  target: URL,
  init: OutboundRequest,
  connection: { agent: http.Agent; lookup: LookupFunction },
): Promise<OutboundResponse> {
  const plainHttp = target.protocol === 'http:';
  const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
  return new Promise<OutboundResponse>((resolveResponse, reject) => {
    const request = (plainHttp ? http : https).request(target, {
      method: init.method,
      headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      agent: connection.agent,
      lookup: connection.lookup,
    });
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${init.timeoutMs} ms`);
      err.name = 'TimeoutError';
      request.destroy(err);
    }, init.timeoutMs);
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const done = () => {
        clearTimeout(timer);
        resolveResponse({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
          truncated,
        });
      };
      response.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = init.maxResponseBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          truncated = true;
          // The rest is not read: the connection is not reused.
          response.destroy();
          done();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () => {
        if (!truncated) done();
      });
      response.on('error', (err) => {
        clearTimeout(timer);
        if (!truncated) reject(err);
      });
    });
    request.end(body);
  });
}

export function createOutbound(deps: { settings: () => OutboundSettings; resolve?: Resolve }) {
  const resolve = deps.resolve ?? systemResolve;
  // The policy and the keep-alive connection pools are made again when the settings change (a
  // reload): a pooled connection was checked under the settings it was opened with, so it is never
  // handed to a request made under other settings. The old pools serve the requests under way; their
  // idle connections close after IDLE_MS.
  let current: { key: string; policy: DestinationPolicy; http: http.Agent; https: https.Agent } | undefined;
  function state() {
    const settings = deps.settings();
    const key = JSON.stringify([settings.allowedDestinations, settings.production]);
    if (current?.key !== key) {
      current = {
        key,
        policy: destinationPolicy(settings.allowedDestinations, settings.production),
        http: new http.Agent({ keepAlive: true, timeout: IDLE_MS }),
        https: new https.Agent({ keepAlive: true, timeout: IDLE_MS }),
      };
    }
    return current;
  }

  return {
    /**
     * Checks a URL as a registration does: a literal address, or every address its host resolves to
     * now. Returns the reason it is refused, or undefined. A name that does not resolve (yet) passes:
     * every connection is checked again.
     */
    async check(url: string): Promise<string | undefined> {
      let target: URL;
      try {
        target = httpUrl(url);
      } catch (err) {
        return (err as Error).message;
      }
      const { policy } = state();
      const plainHttp = target.protocol === 'http:';
      const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) return refusal([host], policy, plainHttp);
      let timer: NodeJS.Timeout | undefined;
      const found = await Promise.race([
        resolve(host).catch(() => undefined),
        new Promise<undefined>((done) => {
          timer = setTimeout(() => done(undefined), CHECK_LOOKUP_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!found) return undefined;
      const reason = refusal(
        found.map((a) => a.address),
        policy,
        plainHttp,
      );
      return reason && `${host}: ${reason}`;
    },

    /** Sends one request if the destination is allowed; throws DestinationRefusedError when it is not. */
    async request(url: string, init: OutboundRequest): Promise<OutboundResponse> {
      const target = httpUrl(url);
      const { policy, ...agents } = state();
      const plainHttp = target.protocol === 'http:';
      const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
      // node:net connects to a literal address without calling `lookup`: it is checked here.
      if (isIP(host)) {
        const reason = refusal([host], policy, plainHttp);
        if (reason) throw new DestinationRefusedError(reason);
      }
      const agent = plainHttp ? agents.http : agents.https;
      return send(target, init, { agent, lookup: checkedLookup(resolve, policy, plainHttp) });
    },
  };
}

export type Outbound = ReturnType<typeof createOutbound>;
