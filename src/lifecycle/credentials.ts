import { SYSTEM, userResource, type Actor, type NewEvent } from '../events/types.js';
import { ConflictError } from '../errors.js';
import { normalize } from '../scim/validate.js';
import type { StoredUser } from '../users/mapping.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { canSignIn } from './rules.js';
import type { LifecycleContext } from './context.js';
import type { LinkKind } from './store.js';

/** A real scrypt hash of a random value: unknown users cost as much time as wrong passwords. */
let dummyHash: Promise<string> | undefined;

/** A sign-in attempt, successful or not, as the event log records it. */
function loginAttemptEvent(username: string, user: StoredUser | null, success: boolean, reason?: string): NewEvent {
  return {
    type: 'user_login_attempt',
    ...(user ? { resource: userResource(user) } : {}),
    initiatedBy: { type: 'user', name: username.slice(0, 256) },
    success,
    ...(reason ? { details: { reason } } : {}),
  };
}

/**
 * Passwords and sign-in: the credential check (counting attempts and locking), unlock, expiry, and
 * setting a password through an activation or reset link.
 */
export function createCredentials(deps: LifecycleContext) {
  const { config, users, records, linkTokens, recordEvent, now, loadUser } = deps;

  /** For the page: the user behind a valid link (undefined for used, expired or unknown links). */
  async function userForLink(token: string, kind: LinkKind): Promise<StoredUser | undefined> {
    const userId = await linkTokens.peek(token, kind, now());
    return userId ? ((await records.findById(userId)) ?? undefined) : undefined;
  }

  return {
    userForLink,
    async unlock(id: string, actor: Actor) {
      const user = await loadUser(id);
      const after = await users.modify(id, { actor, source: user.lifecycle.source }, (u) => {
        u.lifecycle.locked = false;
        const { lockedAt: _ended, ...secret } = u.secret ?? {};
        u.secret = { ...secret, failedLogins: 0 };
      });
      await recordEvent({ type: 'user_unlocked', resource: userResource(after), initiatedBy: actor });
      return after;
    },

    async expirePassword(id: string, actor: Actor) {
      const user = await loadUser(id);
      if (user.lifecycle.passwordStatus === 'PENDING') {
        throw new ConflictError('The user has no password yet', { code: 'no_password' });
      }
      const after = await users.modify(id, { actor, source: user.lifecycle.source }, (u) => {
        u.lifecycle.passwordStatus = 'EXPIRED';
      });
      await recordEvent({ type: 'user_password_expired', resource: userResource(after), initiatedBy: actor });
      return after;
    },

    /**
     * Sets the password through a link. Returns an error message for the form (policy) or
     * 'invalid' for a used, expired or unknown link; the link is used up only on success.
     */
    async setPasswordWithLink(
      token: string,
      kind: LinkKind,
      password: string,
    ): Promise<'ok' | 'invalid' | { error: string }> {
      const user = await userForLink(token, kind);
      if (!user) return 'invalid';
      if (kind === 'activation' && user.lifecycle.passwordStatus !== 'PENDING') return 'invalid';
      const emails = ((user.emails as { value: string }[] | undefined) ?? []).map((e) => e.value);
      const problem = checkPasswordPolicy(password, config.passwords, { username: user.userName, emails });
      if (problem) return { error: problem };
      const hash = await hashPassword(password);
      if ((await linkTokens.consume(token, kind, now())) !== user._id) return 'invalid';
      const actor: Actor = { type: 'user', name: user.userName };
      const after = await users.modify(user._id, { actor, source: user.lifecycle.source }, (u) => {
        u.secret = { ...u.secret, passwordHash: hash, passwordSetAt: now(), failedLogins: 0 };
        u.lifecycle.passwordStatus = 'ACTIVE';
        if (kind === 'reset') u.lifecycle.locked = false;
      });
      await recordEvent({
        type: 'user_password_set',
        resource: userResource(after),
        initiatedBy: actor,
        details: { via: kind },
      });
      return 'ok';
    },

    /** POST /auth/verify: true only for an ACTIVE user with an ACTIVE password who is not locked. */
    async verifyCredentials(username: string, password: string): Promise<StoredUser | undefined> {
      const user = await records.findByUserName(normalize(username));
      const attempt = (u: StoredUser | null, success: boolean, reason?: string) =>
        recordEvent(loginAttemptEvent(username, u, success, reason));
      if (!user?.secret?.passwordHash) {
        dummyHash ??= hashPassword(`dummy-${Math.random()}`);
        await verifyPassword(password, await dummyHash);
        await attempt(user, false, user ? 'no password' : 'unknown user');
        return undefined;
      }
      // The attempt is counted before the password is checked, so parallel guesses cannot outrun the
      // limit; the hash is checked either way, so a locked account answers as slowly as a wrong password.
      const max = config.passwords.maxFailedAttempts;
      const lockoutMs = config.passwords.lockoutMinutes * 60_000;
      const lockEnd = new Date(now().getTime() - lockoutMs);
      if (lockoutMs > 0 && user.lifecycle.locked && user.secret.lockedAt && user.secret.lockedAt <= lockEnd) {
        // A timed lock that has run out ends before this attempt is counted (one writer ends it).
        if (await records.unlockExpired(user._id, lockEnd, now())) {
          await recordEvent({
            type: 'user_unlocked',
            resource: userResource(user),
            initiatedBy: SYSTEM,
            details: { after: `${config.passwords.lockoutMinutes} minutes` },
          });
        }
        user.lifecycle.locked = false;
      }
      const attemptNumber = await records.takeLoginAttempt(user._id, max);
      const passwordMatches = await verifyPassword(password, user.secret.passwordHash);
      if (attemptNumber === undefined || !passwordMatches) {
        await attempt(user, false, attemptNumber === undefined ? 'locked' : 'wrong password');
        if ((attemptNumber === undefined || attemptNumber >= max) && (await records.lock(user._id, now()))) {
          await recordEvent({
            type: 'user_lockout',
            resource: userResource(user),
            initiatedBy: SYSTEM,
            details: { failedAttempts: attemptNumber ?? max },
          });
        }
        return undefined;
      }
      if (!canSignIn(user.lifecycle)) {
        await attempt(user, false, `state ${user.lifecycle.state}, password ${user.lifecycle.passwordStatus}`);
        return undefined;
      }
      await records.setFields(user._id, { 'lifecycle.lastLogin': now(), 'secret.failedLogins': 0 });
      await attempt(user, true);
      return user;
    },
  };
}
