/** The SCIM schema and message URNs the tests write, and small message builders. */

export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  lifecycle: 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
} as const;

/** The same URNs by the names the tests give them. */
export const USER = URN.user;
export const GROUP = URN.group;
export const ENTERPRISE = URN.enterprise;
export const LIFECYCLE = URN.lifecycle;
export const PATCH_OP = URN.patchOp;

/** A password the default policy accepts. */
export const PASSWORD = 'Correct-Horse-9-Battery';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A PatchOp message with the operations in the order given. */
export function patchOp(...Operations: Json[]): Json {
  return { schemas: [URN.patchOp], Operations };
}
