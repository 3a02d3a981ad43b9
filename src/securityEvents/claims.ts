import type { JWTPayload } from 'jose';
import type { RosterEvent } from '../events/types.js';
import type { ScimResource } from '../scim/validate.js';
import { ROSTER_EVENT, SCIM_EVENT, type Level } from './eventUris.js';

/** The resource as a SCIM GET shows it right after the change (for `full` events and `version`). */
export type Snapshot = ScimResource;

export interface SetInput {
  event: Pick<RosterEvent, 'type' | 'resource' | 'txn' | 'changes' | 'success' | 'recipientEmail'>;
  /** The event URI chosen for this receiver (eventUris.uriFor). */
  uri: string;
  receiver: { audience: string; level: Level; attributes?: string[] };
  snapshot?: Snapshot;
  issuer: string;
  jti: string;
  issuedAt: Date;
}

/** Always part of `full` data: what identifies the resource. */
const ALWAYS = ['schemas', 'id', 'meta'];

/** The resource reduced to the receiver's attribute selection (top-level names or extension URNs). */
export function selectAttributes(resource: ScimResource, attributes: string[] | undefined): ScimResource {
  if (!attributes || attributes.length === 0) return resource;
  const keep = new Set([...ALWAYS, ...attributes].map((a) => a.toLowerCase()));
  return Object.fromEntries(Object.entries(resource).filter(([key]) => keep.has(key.toLowerCase())));
}

/**
 * What a receiver sees of a resource in any SET (provisioning `full` data, asyncresp responses): at
 * `notice`, nothing; at `full`, the resource reduced to the receiver's `attributes`. The one rule.
 */
export function resourceFor(
  resource: ScimResource,
  receiver: { attributes?: string[] },
  level: Level,
): ScimResource | undefined {
  return level === 'full' ? selectAttributes(resource, receiver.attributes) : undefined;
}

function versionOf(snapshot: Snapshot | undefined): string | undefined {
  const version = (snapshot?.meta as { version?: unknown } | undefined)?.version;
  return typeof version === 'string' ? version : undefined;
}

/** The attribute names a notice lists: every attribute of a new resource, the changed ones of an update. */
function changedAttributes(input: SetInput): string[] {
  if (input.uri.includes(':create:')) {
    return input.snapshot ? Object.keys(input.snapshot).filter((k) => k !== 'schemas' && k !== 'meta') : ['id'];
  }
  return [...new Set((input.event.changes ?? []).map((c) => c.field))];
}

/** The event payload for the URI (RFC 9967 section 2.4; Roster events carry their outcome). */
function payloadOf(input: SetInput): { uri: string; payload: Record<string, unknown> } {
  const { uri, snapshot, receiver, event } = input;
  const version = versionOf(snapshot);
  if (uri.startsWith(`${ROSTER_EVENT}:`)) {
    const withEmail = receiver.level === 'full' && event.recipientEmail;
    return { uri, payload: { success: event.success, ...(withEmail ? { recipientEmail: event.recipientEmail } : {}) } };
  }
  if (uri.endsWith(':full')) {
    // The resource is gone already (deleted right after): say what changed instead.
    if (!snapshot) return payloadOf({ ...input, uri: uri.replace(/:full$/, ':notice') });
    return { uri, payload: { data: resourceFor(snapshot, receiver, 'full'), ...(version ? { version } : {}) } };
  }
  if (uri.endsWith(':notice')) {
    return { uri, payload: { attributes: changedAttributes(input), ...(version ? { version } : {}) } };
  }
  return { uri, payload: {} }; // delete, activate, deactivate: no payload attributes
}

/** The claims of one SET (RFC 8417 and RFC 9967): the subject in `sub_id`, never `sub`. */
export function setClaims(input: SetInput): JWTPayload {
  const resource = input.event.resource!;
  const externalId = input.snapshot?.externalId;
  const { uri, payload } = payloadOf(input);
  return {
    iss: input.issuer,
    aud: input.receiver.audience,
    iat: Math.floor(input.issuedAt.getTime() / 1000),
    jti: input.jti,
    ...(input.event.txn ? { txn: input.event.txn } : {}),
    sub_id: {
      format: 'scim',
      uri: `/${resource.type === 'User' ? 'Users' : 'Groups'}/${resource.id}`,
      id: resource.id,
      ...(typeof externalId === 'string' ? { externalId } : {}),
    },
    events: { [uri]: payload },
  };
}

/** Whether a URI is a provisioning event whose `full` form carries the resource. */
export const needsSnapshot = (uri: string) => uri.startsWith(`${SCIM_EVENT}:`) && /:(full|notice)$/.test(uri);
