/** How filters on users find their stored fields, and how PATCH value filters read a user's elements. */
import { createResolver } from '../db/fieldResolver.js';
import type { FieldResolver } from '../db/filterQuery.js';
import { InvalidError } from '../errors.js';
import type { AttributeResolver } from '../scim/filterCheck.js';
import { SCHEMA_URNS, type SchemaDocument } from '../scim/schemaRegistry.js';

export function userResolver(schemas: SchemaDocument[]): FieldResolver {
  return createResolver(schemas, {
    extensionKeys: { [SCHEMA_URNS.enterprise]: 'enterprise', [SCHEMA_URNS.lifecycle]: 'lifecycle' },
    normalized: { username: 'norm.userName', 'emails.value': 'norm.emails', emails: 'norm.emails' },
    joins: { 'groups.value': 'groups.value', groups: 'groups.value' },
    computed: {
      active: (op, value) => {
        const wanted = value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
        if (op === 'pr') return {};
        if (op !== 'eq' && op !== 'ne')
          throw new InvalidError('"active" supports eq, ne and pr', { scimType: 'invalidFilter' });
        const active = op === 'eq' ? wanted : !wanted;
        return active ? { 'lifecycle.state': 'ACTIVE' } : { 'lifecycle.state': { $ne: 'ACTIVE' } };
      },
    },
  });
}

/** Resolves attribute names inside a value filter applied to one element (PATCH paths like emails[type eq "work"]). */
export const elementResolver: AttributeResolver = ({ attribute }) => ({
  type: attribute.toLowerCase() === 'primary' ? 'boolean' : 'string',
  caseExact: false,
  multiValued: false,
});
