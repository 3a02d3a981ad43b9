import { etagFor } from '../scim/etag.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';
import { normalize, type ScimResource } from '../scim/validate.js';
import { companyEmail } from './emailAddresses.js';

export type UserState = 'STAGED' | 'ACTIVE' | 'SUSPENDED';
export type PasswordStatus = 'PENDING' | 'ACTIVE' | 'EXPIRED';
export type UserSource = 'manual' | 'bulk' | 'integration';
export type PasswordAuthority = 'none' | 'activeDirectory' | 'scim';

export interface Lifecycle {
  state: UserState;
  passwordStatus: PasswordStatus;
  source: UserSource;
  passwordAuthority: PasswordAuthority;
  alternateEmail?: string;
  scheduledActivation?: Date;
  scheduledSuspension?: Date;
  activatedAt?: Date;
  lastLogin?: Date;
  locked: boolean;
}

/**
 * A user as stored: core attributes under their own names, extensions under plain keys
 * (docs/ARCHITECTURE.md "Storage").
 */
export interface StoredUser {
  _id: string;
  userName: string;
  externalId?: string;
  enterprise?: Record<string, unknown>;
  lifecycle: Lifecycle;
  /** Never returned: the password hash and login bookkeeping. */
  secret?: {
    passwordHash?: string;
    passwordSetAt?: Date;
    failedLogins?: number;
    /** When the failed sign-ins locked the user (a timed lock ends passwords.lockoutMinutes later). */
    lockedAt?: Date;
    lastReminderAt?: Date;
  };
  /** Normalized shadow fields for case-insensitive lookups and uniqueness. */
  norm: { userName: string; emails: string[]; displayName?: string; companyEmail?: string; alternateEmail?: string };
  meta: { created: Date; lastModified: Date; version: number };
  [coreAttribute: string]: unknown;
}

export interface GroupRef {
  value: string;
  display?: string;
  type: 'direct' | 'indirect';
}

/** Core attributes kept as given; `password`, `groups` and `active` have their own handling. */
const CORE_KEYS = [
  'userName',
  'name',
  'displayName',
  'nickName',
  'profileUrl',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'emails',
  'phoneNumbers',
  'ims',
  'photos',
  'addresses',
  'entitlements',
  'roles',
  'x509Certificates',
] as const;

const LIFECYCLE_DATES = ['scheduledActivation', 'scheduledSuspension', 'activatedAt', 'lastLogin'] as const;

/** The client-writable content of a user (SCIM form, already validated) as stored core + enterprise fields. */
export function storedContent(
  resource: ScimResource,
): Pick<StoredUser, 'userName' | 'externalId' | 'enterprise'> & Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CORE_KEYS) if (resource[key] !== undefined) out[key] = resource[key];
  if (resource.externalId !== undefined) out.externalId = resource.externalId;
  const enterprise = resource[SCHEMA_URNS.enterprise] as Record<string, unknown> | undefined;
  if (enterprise) {
    const { manager, ...rest } = enterprise;
    out.enterprise = manager ? { ...rest, manager: { value: (manager as { value?: string }).value } } : rest;
  }
  return out as Pick<StoredUser, 'userName' | 'externalId' | 'enterprise'> & Record<string, unknown>;
}

export function normalizedFields(
  user: Pick<StoredUser, 'userName' | 'lifecycle'> & Record<string, unknown>,
): StoredUser['norm'] {
  const emails = ((user.emails as { value?: string }[] | undefined) ?? [])
    .map((e) => e.value)
    .filter((v): v is string => typeof v === 'string')
    .map(normalize);
  const company = companyEmail(user);
  return {
    userName: normalize(user.userName),
    emails,
    ...(typeof user.displayName === 'string' ? { displayName: normalize(user.displayName) } : {}),
    ...(company ? { companyEmail: normalize(company) } : {}),
    ...(user.lifecycle.alternateEmail ? { alternateEmail: normalize(user.lifecycle.alternateEmail) } : {}),
  };
}

/** The addresses in the directory-wide uniqueness space: company email and alternate email. */
/** The address company emails go to, as the user's record spells it (see companyEmail). */
export function companyEmailOf(user: StoredUser): string | undefined {
  return companyEmail(user as unknown as Record<string, unknown>);
}

export function uniqueEmails(user: StoredUser): string[] {
  return [...new Set([user.norm.companyEmail, user.norm.alternateEmail].filter((e): e is string => Boolean(e)))];
}

/** The SCIM form a client sees (before attributes/excludedAttributes). */
export function toScimUser(user: StoredUser, baseUrl: string, groups: GroupRef[] | undefined): ScimResource {
  const out: ScimResource = { schemas: [SCHEMA_URNS.user], id: user._id };
  if (user.externalId !== undefined) out.externalId = user.externalId;
  for (const key of CORE_KEYS) if (user[key] !== undefined) out[key] = user[key];
  out.active = user.lifecycle.state === 'ACTIVE';
  if (groups?.length) {
    out.groups = groups.map((g) => ({
      value: g.value,
      $ref: `${baseUrl}/Groups/${g.value}`,
      display: g.display,
      type: g.type,
    }));
  }
  if (user.enterprise && Object.keys(user.enterprise).length) {
    const enterprise: Record<string, unknown> = { ...user.enterprise };
    const manager = enterprise.manager as { value?: string; displayName?: string } | undefined;
    if (manager?.value) enterprise.manager = { ...manager, $ref: `${baseUrl}/Users/${manager.value}` };
    out[SCHEMA_URNS.enterprise] = enterprise;
  }
  const lifecycle: Record<string, unknown> = { ...user.lifecycle };
  for (const key of LIFECYCLE_DATES) {
    const value = user.lifecycle[key];
    if (value instanceof Date) lifecycle[key] = value.toISOString();
  }
  out[SCHEMA_URNS.lifecycle] = lifecycle;
  out.schemas = [
    SCHEMA_URNS.user,
    ...(out[SCHEMA_URNS.enterprise] ? [SCHEMA_URNS.enterprise] : []),
    SCHEMA_URNS.lifecycle,
  ];
  out.meta = {
    resourceType: 'User',
    created: user.meta.created.toISOString(),
    lastModified: user.meta.lastModified.toISOString(),
    location: `${baseUrl}/Users/${user._id}`,
    version: etagFor(user.meta.version),
  };
  return out;
}
