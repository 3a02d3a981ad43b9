import { SYSTEM, userResource, type Actor } from '../events/types.js';
import { ConflictError, InvalidError } from '../errors.js';
import { EMAIL_EVENT_TYPES, type EmailKind } from '../jobs/index.js';
import { isEmailAddress } from '../users/emailAddresses.js';
import { companyEmailOf, type StoredUser } from '../users/mapping.js';
import { emailOnActivation } from './rules.js';
import type { LifecycleBase } from './context.js';
import type { LinkKind } from './store.js';

const DAY_MS = 86_400_000;

export interface EmailOptions {
  /** "company", "alternate" or an email address; used for this email only, never stored. */
  destination?: string;
}

export function checkDestination(destination: unknown): string | undefined {
  if (destination === undefined || destination === null || destination === '') return undefined;
  if (
    typeof destination === 'string' &&
    (destination === 'company' || destination === 'alternate' || isEmailAddress(destination))
  ) {
    return destination;
  }
  throw new InvalidError('destination must be "company", "alternate" or an email address', {
    code: 'invalid_destination',
  });
}

/** The address for an email: the caller's choice, else the kind's default order. */
function recipient(user: StoredUser, destination: string | undefined, defaults: ('alternate' | 'company')[]) {
  const pick = (d: string) =>
    d === 'company' ? companyEmailOf(user) : d === 'alternate' ? user.lifecycle.alternateEmail : d;
  if (destination) return { to: pick(destination), destination };
  for (const d of defaults) {
    const to = pick(d);
    if (to) return { to, destination: d };
  }
  return { to: undefined, destination: defaults[0] };
}

function vars(user: StoredUser) {
  const name = (user.name as { givenName?: string; familyName?: string } | undefined) ?? {};
  return {
    user_company_email: companyEmailOf(user) ?? '',
    first_name: name.givenName ?? '',
    last_name: name.familyName ?? '',
    username: user.userName,
  };
}

/** Link emails on an admin's request go to ACTIVE users whose password Roster manages. */
function checkLinkEligible(user: StoredUser, what: string) {
  if (user.lifecycle.state !== 'ACTIVE') {
    throw new ConflictError(`The user is ${user.lifecycle.state}; ${what} go to ACTIVE users only`, {
      code: 'not_eligible',
    });
  }
  if (user.lifecycle.passwordAuthority !== 'none') {
    throw new ConflictError(`Passwords of this user are managed by ${user.lifecycle.passwordAuthority}`, {
      code: 'external_password',
    });
  }
}

/**
 * The lifecycle's emails (README "Emails"): who gets which email at which address, the links in
 * them, the admin's resend and reset requests, and the daily no-login reminders. Sent through the
 * outbox (jobs.enqueueEmail).
 */
export function createLifecycleEmails(deps: LifecycleBase) {
  const { config, records, jobs, linkTokens, now, loadUser } = deps;
  // Read on each use: the configuration can be reloaded (SIGHUP).
  const activationTtlMs = () => config.activation.linkTtlDays * DAY_MS;
  const resetTtlMs = () => config.activation.resetLinkTtlHours * 3_600_000;

  async function noAddress(user: StoredUser, kind: EmailKind, actor: Actor) {
    await deps.recordEvent({
      type: EMAIL_EVENT_TYPES[kind],
      resource: userResource(user),
      initiatedBy: actor,
      success: false,
      details: { error: 'the user has no email address for this email' },
    });
  }

  async function sendLinkEmail(
    user: StoredUser,
    kind: 'activation' | 'password-reset',
    destination: string | undefined,
    actor: Actor,
  ) {
    const linkKind: LinkKind = kind === 'activation' ? 'activation' : 'reset';
    const target = recipient(
      user,
      destination,
      kind === 'activation' ? ['alternate', 'company'] : ['company', 'alternate'],
    );
    if (!target.to) return noAddress(user, kind, actor).then(() => undefined);
    const token = await linkTokens.issue(
      user._id,
      linkKind,
      linkKind === 'activation' ? activationTtlMs() : resetTtlMs(),
      now(),
    );
    const path = linkKind === 'activation' ? 'activate' : 'reset-password';
    await jobs.enqueueEmail({
      kind,
      to: target.to,
      userId: user._id,
      username: user.userName,
      vars: { ...vars(user), activation_link: `${config.server.publicUrl}/${path}?token=${token}` },
      initiatedBy: actor,
      details: { destination: target.destination },
    });
    return { kind, recipient: target.to };
  }

  async function sendWelcome(user: StoredUser, destination: string | undefined, actor: Actor) {
    const target = recipient(user, destination, ['company', 'alternate']);
    if (!target.to) return noAddress(user, 'welcome', actor).then(() => undefined);
    await jobs.enqueueEmail({
      kind: 'welcome',
      to: target.to,
      userId: user._id,
      username: user.userName,
      vars: vars(user),
      initiatedBy: actor,
      details: { destination: target.destination },
    });
    return { kind: 'welcome' as const, recipient: target.to };
  }

  /** The email of a transition to ACTIVE: activation link while no password exists, else welcome. */
  function emailForActivation(user: StoredUser, destination: string | undefined, actor: Actor) {
    return emailOnActivation(user.lifecycle) === 'activation'
      ? sendLinkEmail(user, 'activation', destination, actor)
      : sendWelcome(user, destination, actor);
  }

  /** An admin's request for a link email: ACTIVE users whose password Roster manages, with an address. */
  async function sendLinkOnRequest(
    id: string,
    what: 'activation emails' | 'password reset emails',
    options: EmailOptions,
    actor: Actor,
  ) {
    const destination = checkDestination(options.destination);
    const user = await loadUser(id);
    checkLinkEligible(user, what);
    const kind =
      what === 'activation emails' && user.lifecycle.passwordStatus === 'PENDING' ? 'activation' : 'password-reset';
    const sent = await sendLinkEmail(user, kind, destination, actor);
    if (!sent) throw new ConflictError('The user has no email address to send to', { code: 'no_address' });
    return sent;
  }

  async function sendReminders(): Promise<number> {
    const days = config.reminders.noLoginDays;
    if (days <= 0) return 0;
    const cutoff = new Date(now().getTime() - days * DAY_MS);
    const candidates = await records.reminderCandidates(cutoff);
    let sent = 0;
    for (const user of candidates) {
      await records.setFields(user._id, { 'secret.lastReminderAt': now() });
      const pending = user.lifecycle.passwordStatus === 'PENDING' && user.lifecycle.passwordAuthority === 'none';
      const target = recipient(user, undefined, pending ? ['alternate', 'company'] : ['company', 'alternate']);
      // No address, no email: and no new link either (issuing one would void the user's current link).
      if (!target.to) continue;
      const link = pending
        ? `${config.server.publicUrl}/activate?token=${await linkTokens.issue(user._id, 'activation', activationTtlMs(), now())}`
        : '';
      await jobs.enqueueEmail({
        kind: 'reminder',
        to: target.to,
        userId: user._id,
        username: user.userName,
        vars: { ...vars(user), activation_link: link },
        initiatedBy: SYSTEM,
        details: { noLoginDays: days, activated: !pending },
      });
      sent++;
    }
    return sent;
  }

  return { emailForActivation, sendLinkOnRequest, sendReminders };
}
