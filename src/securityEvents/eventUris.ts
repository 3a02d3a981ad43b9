import { EVENT_TYPES, type EventType, type RosterEvent } from '../events/types.js';

/**
 * The event URIs of security event tokens (SETs): RFC 9967's provisioning events, and Roster's own
 * lifecycle events under `urn:roster:params:event:` followed by the event log's type name.
 */
export const SCIM_EVENT = 'urn:ietf:params:scim:event:prov';

export const PROVISIONING_URIS = [
  `${SCIM_EVENT}:create:notice`,
  `${SCIM_EVENT}:create:full`,
  `${SCIM_EVENT}:put:notice`,
  `${SCIM_EVENT}:put:full`,
  `${SCIM_EVENT}:patch:notice`,
  `${SCIM_EVENT}:patch:full`,
  `${SCIM_EVENT}:delete`,
  `${SCIM_EVENT}:activate`,
  `${SCIM_EVENT}:deactivate`,
] as const;

export const ROSTER_EVENT = 'urn:roster:params:event';

/** The event log's user types RFC 9967 names an event for (see publicationOf). */
const PROVISIONING_USER_TYPES: readonly EventType[] = [
  'user_create',
  'user_update',
  'user_delete',
  'user_activated',
  'user_suspended',
];

/** The other things that happen to a user, published under Roster's own URIs. */
const ROSTER_TYPES: readonly string[] = EVENT_TYPES.filter(
  (type) => type.startsWith('user_') && !PROVISIONING_USER_TYPES.includes(type),
);

export const ROSTER_URIS = ROSTER_TYPES.map((type) => `${ROSTER_EVENT}:${type}`);

/** Every URI a receiver may ask for (and ServiceProviderConfig advertises). */
export const EVENT_URIS: readonly string[] = [...PROVISIONING_URIS, ...ROSTER_URIS];

export type Level = 'notice' | 'full';

/** What a Roster event becomes: a SCIM provisioning operation, or a Roster URI. */
export type Publication =
  | { kind: 'prov'; operation: 'create' | 'put' | 'patch'; resourceType: 'User' | 'Group' }
  | { kind: 'plain'; uri: string; resourceType: 'User' | 'Group' };

/** The publication of an event log entry, or undefined when it is not published (imports). */
export function publicationOf(event: Pick<RosterEvent, 'type' | 'operation' | 'resource'>): Publication | undefined {
  const resourceType = event.resource?.type;
  if (resourceType !== 'User' && resourceType !== 'Group') return undefined;
  const update = event.operation === 'PUT' ? 'put' : 'patch';
  switch (event.type) {
    case 'user_create':
    case 'group_create':
      return { kind: 'prov', operation: 'create', resourceType };
    case 'user_update':
    case 'group_update':
      return { kind: 'prov', operation: update, resourceType };
    case 'user_delete':
    case 'group_delete':
      return { kind: 'plain', uri: `${SCIM_EVENT}:delete`, resourceType };
    case 'user_activated':
      return { kind: 'plain', uri: `${SCIM_EVENT}:activate`, resourceType };
    case 'user_suspended':
      return { kind: 'plain', uri: `${SCIM_EVENT}:deactivate`, resourceType };
    default:
      return ROSTER_TYPES.includes(event.type)
        ? { kind: 'plain', uri: `${ROSTER_EVENT}:${event.type}`, resourceType }
        : undefined;
  }
}

/**
 * The URI a receiver gets for a publication, or undefined when it did not ask for it. An empty list
 * means every event, provisioning events at the receiver's `level`; a listed `…:full` or
 * `…:notice` URI chooses the level of that operation.
 */
export function uriFor(publication: Publication, receiver: { events: string[]; level: Level }): string | undefined {
  const wanted = receiver.events;
  if (publication.kind === 'plain') {
    return wanted.length === 0 || wanted.includes(publication.uri) ? publication.uri : undefined;
  }
  const base = `${SCIM_EVENT}:${publication.operation}`;
  if (wanted.length === 0) return `${base}:${receiver.level}`;
  return [`${base}:full`, `${base}:notice`].find((uri) => wanted.includes(uri));
}
