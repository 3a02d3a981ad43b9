import { InvalidError } from '../errors.js';
import { isScimPrincipalId } from '../principals.js';
import { EVENT_URIS, SCIM_EVENT, type Level } from './eventUris.js';

export type Delivery = 'push' | 'poll';

/** What an admin sets on a receiver (POST, or PATCH for the fields given). */
export interface ReceiverSettings {
  name: string;
  delivery: Delivery;
  /** push: where SETs are POSTed. */
  endpoint?: string;
  /** push: the Authorization header value Roster sends (e.g. "Bearer …"); never shown again. */
  authorization?: string;
  audience: string;
  /** Event URIs; empty means every event. */
  events: string[];
  /** Level of provisioning events when `events` is empty; also whether Roster events carry the recipient. */
  level: Level;
  /** `full` data: only these top-level attributes (or extension URNs); empty means all. */
  attributes: string[];
  enabled: boolean;
  /**
   * The SCIM client (its principal id: `token:<name>`, `oauth:<client_id>`, `issuer:<iss>#<sub>`) whose asynchronous requests
   * (`Prefer: respond-async`) this receiver answers with RFC 9967 asyncresp events.
   */
  client?: string;
}

const FIELDS = [
  'name',
  'delivery',
  'endpoint',
  'authorization',
  'audience',
  'events',
  'level',
  'attributes',
  'enabled',
  'client',
];
const ATTRIBUTE_NAME = /^(?:[A-Za-z][\w$-]*|urn:[\w.:-]+)$/;

function invalid(message: string): InvalidError {
  return new InvalidError(message, { code: 'invalid_receiver' });
}

function text(body: Record<string, unknown>, key: string, max: number): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${key} must be a non-empty string`);
  if (value.length > max) throw invalid(`${key} is longer than ${max} characters`);
  return value.trim();
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`endpoint is not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('endpoint must be an http:// or https:// URL');
  if (url.username || url.password) throw invalid('endpoint must not carry credentials; use authorization');
  return url.href;
}

const originOf = (url: string) => new URL(url).origin;

function stringList(body: Record<string, unknown>, key: string, max: number): string[] | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw invalid(`${key} must be a list of strings`);
  if (value.length > max) throw invalid(`${key} lists more than ${max} entries`);
  return [...new Set(value as string[])];
}

function checkEvents(events: string[]): void {
  const unknown = events.filter((uri) => !EVENT_URIS.includes(uri));
  if (unknown.length) {
    throw invalid(`unknown event URI ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${EVENT_URIS.join(', ')}`);
  }
  for (const op of ['create', 'put', 'patch']) {
    if (events.includes(`${SCIM_EVENT}:${op}:full`) && events.includes(`${SCIM_EVENT}:${op}:notice`)) {
      throw invalid(`events lists both ${SCIM_EVENT}:${op}:full and :notice; choose one`);
    }
  }
}

/**
 * Validates a receiver body: `existing` undefined for a new receiver (POST), else the receiver a
 * PATCH changes (only the fields given; `authorization: null` removes the header).
 */
export function receiverSettings(body: Record<string, unknown>, existing?: ReceiverSettings): ReceiverSettings {
  const extra = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (extra.length)
    throw invalid(`unknown field ${extra.map((k) => `"${k}"`).join(', ')}; known: ${FIELDS.join(', ')}`);
  if (existing && body.delivery !== undefined && body.delivery !== existing.delivery) {
    throw invalid('delivery cannot change; delete the receiver and register a new one');
  }
  const delivery = body.delivery ?? existing?.delivery;
  if (delivery !== 'push' && delivery !== 'poll') throw invalid('delivery must be "push" or "poll"');
  const level = body.level ?? existing?.level ?? 'notice';
  if (level !== 'notice' && level !== 'full') throw invalid('level must be "notice" or "full"');
  if (body.enabled !== undefined && typeof body.enabled !== 'boolean') throw invalid('enabled must be true or false');

  const name = text(body, 'name', 100) ?? existing?.name;
  if (!name) throw invalid('name is required');
  const audience = text(body, 'audience', 500) ?? existing?.audience;
  if (!audience) throw invalid('audience is required (the "aud" of every SET this receiver gets)');

  const endpointText = text(body, 'endpoint', 2000);
  const endpoint = endpointText === undefined ? existing?.endpoint : httpUrl(endpointText);
  // The stored Authorization belongs to the origin it was given for: an endpoint moved to another
  // origin (scheme, host or port) drops it, unless this request gives one.
  const sameOrigin =
    !existing?.endpoint || (endpoint !== undefined && originOf(endpoint) === originOf(existing.endpoint));
  let authorization = sameOrigin ? existing?.authorization : undefined;
  if (body.authorization === null) authorization = undefined;
  else if (body.authorization !== undefined) {
    authorization = text(body, 'authorization', 4096);
    if (authorization && /[\r\n\0]/.test(authorization)) throw invalid('authorization must be one line');
  }
  if (delivery === 'push' && !endpoint) throw invalid('endpoint is required for push delivery');
  if (delivery === 'poll' && (endpoint || authorization)) {
    throw invalid('endpoint and authorization apply to push delivery only');
  }

  const events = stringList(body, 'events', EVENT_URIS.length) ?? existing?.events ?? [];
  checkEvents(events);
  const attributes = stringList(body, 'attributes', 200) ?? existing?.attributes ?? [];
  let client = existing?.client;
  if (body.client === null) client = undefined;
  else if (body.client !== undefined) {
    client = text(body, 'client', 1000);
    if (client && !isScimPrincipalId(client)) {
      throw invalid(
        'client must be a SCIM client\'s principal id: "token:<static token name>", "oauth:<client_id>" or "issuer:<iss>#<sub>"',
      );
    }
  }
  const badName = attributes.find((a) => !ATTRIBUTE_NAME.test(a));
  if (badName !== undefined) throw invalid(`attributes: "${badName}" is not an attribute name`);

  return {
    name,
    delivery,
    ...(endpoint ? { endpoint } : {}),
    ...(authorization ? { authorization } : {}),
    audience,
    events,
    level,
    attributes,
    enabled: (body.enabled as boolean | undefined) ?? existing?.enabled ?? true,
    ...(client ? { client } : {}),
  };
}
