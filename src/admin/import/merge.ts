/**
 * An update from a CSV line: the CSV-given attributes replace those of the user and the others are
 * kept (a PUT of the current SCIM form with the CSV values laid over it). Empty cells leave
 * attributes as they are; a CSV cannot clear an attribute. Pure.
 */
import type { ScimResource } from '../../scim/validate.js';
import { companyEmail } from '../../users/emailAddresses.js';
import { ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA } from '../csvColumns.js';

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The current SCIM form of a user with the CSV row's attributes laid over it (see the file comment). */
export function mergeForUpdate(existing: ScimResource, csv: ScimResource): ScimResource {
  const out = structuredClone(existing);
  delete out.id;
  delete out.meta;
  delete out.groups;
  for (const key of ['userName', 'displayName', 'title', 'userType', 'password']) {
    if (csv[key] !== undefined) out[key] = csv[key];
  }
  if (isObj(csv.name)) out.name = { ...(isObj(out.name) ? out.name : {}), ...csv.name };

  const csvEmail = Array.isArray(csv.emails) ? (csv.emails[0] as Record<string, unknown>) : undefined;
  if (csvEmail) {
    const emails = (Array.isArray(out.emails) ? out.emails : []) as Record<string, unknown>[];
    const company = companyEmail(out);
    const index = emails.findIndex((e) => e.value === company);
    if (index >= 0) emails[index] = { ...emails[index], value: csvEmail.value };
    else emails.unshift(csvEmail);
    out.emails = emails;
  }
  for (const phone of (Array.isArray(csv.phoneNumbers) ? csv.phoneNumbers : []) as Record<string, unknown>[]) {
    const phones = (Array.isArray(out.phoneNumbers) ? out.phoneNumbers : []) as Record<string, unknown>[];
    const index = phones.findIndex((p) => p.type === phone.type);
    if (index >= 0) phones[index] = { ...phones[index], value: phone.value };
    else phones.push(phone);
    out.phoneNumbers = phones;
  }
  const csvAddress = Array.isArray(csv.addresses) ? (csv.addresses[0] as Record<string, unknown>) : undefined;
  if (csvAddress) {
    const addresses = (Array.isArray(out.addresses) ? out.addresses : []) as Record<string, unknown>[];
    const index = addresses.findIndex((a) => a.type === 'work');
    // An address exported as its parts joined by ", " comes back unchanged: keep its structure.
    if (index < 0) addresses.push(csvAddress);
    else if (addressText(addresses[index]) !== csvAddress.formatted) {
      const { primary } = addresses[index];
      addresses[index] = { ...csvAddress, ...(primary !== undefined ? { primary } : {}) };
    }
    out.addresses = addresses;
  }
  for (const schema of [ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA]) {
    if (!isObj(csv[schema])) continue;
    out[schema] = { ...(isObj(out[schema]) ? out[schema] : {}), ...csv[schema] };
    const schemas = (Array.isArray(out.schemas) ? out.schemas : []) as string[];
    if (!schemas.includes(schema)) out.schemas = [...schemas, schema];
  }
  // An explicit state decides; the `active` read back must not pull the other way.
  if (isObj(csv[LIFECYCLE_SCHEMA]) && (csv[LIFECYCLE_SCHEMA] as Record<string, unknown>).state) delete out.active;
  return out;
}

function addressText(address: Record<string, unknown>): string {
  if (typeof address.formatted === 'string' && address.formatted) return address.formatted;
  return ['streetAddress', 'locality', 'region', 'postalCode', 'country']
    .map((k) => (typeof address[k] === 'string' ? (address[k] as string).trim() : ''))
    .filter((p) => p !== '')
    .join(', ');
}
