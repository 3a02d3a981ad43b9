/**
 * Validated SCIM input -> the stored user document, with the rules every write applies (lifecycle
 * state, email addresses, password policy and hash), and what changed between two documents (the
 * update events, and "does this write change anything").
 */
import { newId } from '../db/ids.js';
import type { Config } from '../config/index.js';
import { InvalidError } from '../errors.js';
import type { EventChange } from '../events/types.js';
import { SCHEMA_URNS } from '../scim/schemaRegistry.js';
import type { ScimResource } from '../scim/validate.js';
import type { PasswordRules, WriteContext } from './contracts.js';
import { isEmailAddress } from './emailAddresses.js';
import { normalizedFields, storedContent, toScimUser, type StoredUser } from './mapping.js';
import { initialLifecycle, updatedLifecycle, type LifecycleInput } from './states.js';

export interface UserDocumentDeps {
  config: Config;
  passwords: PasswordRules;
  baseUrl: () => string;
  now: () => Date;
}

export function createUserDocuments(deps: UserDocumentDeps) {
  const { config, baseUrl, now } = deps;

  function lifecycleInput(resource: ScimResource): LifecycleInput {
    return {
      active: typeof resource.active === 'boolean' ? resource.active : undefined,
      extension: resource[SCHEMA_URNS.lifecycle] as LifecycleInput['extension'],
    };
  }

  function checkEmails(resource: ScimResource, alternate?: string) {
    for (const email of (resource.emails as { value?: unknown }[] | undefined) ?? []) {
      if (typeof email?.value === 'string' && !isEmailAddress(email.value))
        throw new InvalidError(`"${email.value}" is not an email address (one plain address)`, {
          scimType: 'invalidValue',
        });
    }
    if (alternate !== undefined && !isEmailAddress(alternate)) {
      throw new InvalidError(`alternateEmail "${alternate}" is not an email address`, { scimType: 'invalidValue' });
    }
  }

  async function passwordFields(resource: ScimResource, current: StoredUser['secret'], ctx: WriteContext) {
    const password = resource.password;
    if (password === undefined) return undefined;
    if (typeof password !== 'string')
      throw new InvalidError('"password" must be a string', { scimType: 'invalidValue' });
    // The same password again is no change (checked first: it passed the policy when it was set).
    if (ctx.skipUnchanged && (await deps.passwords.verify(password, current?.passwordHash))) return undefined;
    const emails = ((resource.emails as { value: string }[] | undefined) ?? []).map((e) => e.value);
    const problem = deps.passwords.check(password, { userName: String(resource.userName), emails });
    if (problem) throw new InvalidError(`password: ${problem}`, { scimType: 'invalidValue' });
    // A dry run is not worth a hash (scrypt is slow on purpose): any value that differs from the stored hash.
    const passwordHash = ctx.dryRun ? `dry-run:${newId()}` : await deps.passwords.hash(password);
    return { ...current, passwordHash, passwordSetAt: now(), failedLogins: 0 };
  }

  /** Validated SCIM input -> the next stored document (shared by create, replace and patch). */
  async function buildDocument(
    resource: ScimResource,
    before: StoredUser | undefined,
    ctx: WriteContext,
  ): Promise<StoredUser> {
    const at = now();
    const input = lifecycleInput(resource);
    const lifecycle = before ? updatedLifecycle(before.lifecycle, input) : initialLifecycle(input, ctx.source, config);
    checkEmails(resource, lifecycle.alternateEmail);
    const secret = await passwordFields(resource, before?.secret, ctx);
    if (secret) lifecycle.passwordStatus = 'ACTIVE';
    const content = storedContent(resource);
    return withBookkeeping(
      {
        _id: before?._id ?? newId(),
        ...content,
        lifecycle,
        ...((secret ?? before?.secret) ? { secret: secret ?? before?.secret } : {}),
      },
      before,
      at,
    );
  }

  /** `beforeScim`: `before`'s SCIM form when the caller already has it (one conversion less). */
  function changesBetween(before: StoredUser, after: StoredUser, beforeScim?: ScimResource): EventChange[] {
    const a = withoutRefs(beforeScim ?? toScimUser(before, baseUrl(), undefined));
    const b = withoutRefs(toScimUser(after, baseUrl(), undefined));
    const changes: EventChange[] = [];
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (key === 'meta' || key === 'schemas') continue;
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) changes.push({ field: key, from: a[key], to: b[key] });
    }
    if (before.secret?.passwordHash !== after.secret?.passwordHash)
      changes.push({ field: 'password', from: '[hidden]', to: '[hidden]' });
    return changes;
  }

  return { buildDocument, changesBetween };
}

/**
 * The bookkeeping of every user write, in one place: a user that becomes ACTIVE gets `activatedAt`,
 * the normalised shadow fields are computed again, and the version is the next one (1 for a new
 * user, `before`'s + 1 otherwise) with `lastModified` = `at`.
 */
export function withBookkeeping(
  next: Pick<StoredUser, '_id' | 'userName' | 'lifecycle'> & Record<string, unknown>,
  before: StoredUser | undefined,
  at: Date,
): StoredUser {
  if (next.lifecycle.state === 'ACTIVE' && before?.lifecycle.state !== 'ACTIVE') next.lifecycle.activatedAt = at;
  return {
    ...(next as StoredUser),
    norm: normalizedFields(next),
    meta: before
      ? { created: before.meta.created, lastModified: at, version: before.meta.version + 1 }
      : { created: at, lastModified: at, version: 1 },
  };
}

/** Event values are stored documents: keys such as "$ref" cannot be stored, and are derived anyway. */
function withoutRefs(value: ScimResource): ScimResource {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === '$ref' ? undefined : v))) as ScimResource;
}
