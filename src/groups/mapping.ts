/** Groups between SCIM and storage (beside users/mapping.ts). Pure. */
import { etagFor } from '../scim/etag.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';
import { normalize, type ScimResource } from '../scim/validate.js';

/** A group as stored (its members are documents of their own: membershipRepository.ts). */
export interface StoredGroup {
  _id: string;
  displayName: string;
  externalId?: string;
  norm: { displayName: string };
  meta: { created: Date; lastModified: Date; version: number };
}

/** One document per (group, member) pair, so a membership change touches one small document. */
export interface Membership {
  _id: string;
  groupId: string;
  memberId: string;
  type: 'User' | 'Group';
}

/** The SCIM form a client sees (before attributes/excludedAttributes); members as rendered by the service. */
export function toScimGroup(group: StoredGroup, baseUrl: string, members?: ScimResource[]): ScimResource {
  return {
    schemas: [SCHEMA_URNS.group],
    id: group._id,
    ...(group.externalId !== undefined ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...(members?.length ? { members } : {}),
    meta: {
      resourceType: 'Group',
      created: group.meta.created.toISOString(),
      lastModified: group.meta.lastModified.toISOString(),
      location: `${baseUrl}/Groups/${group._id}`,
      version: etagFor(group.meta.version),
    },
  };
}

/** The stored fields of a validated SCIM group (members live in memberships). */
export function groupContent(resource: ScimResource): Pick<StoredGroup, 'displayName' | 'externalId' | 'norm'> {
  return {
    displayName: String(resource.displayName),
    ...(resource.externalId !== undefined ? { externalId: String(resource.externalId) } : {}),
    norm: { displayName: normalize(String(resource.displayName)) },
  };
}
