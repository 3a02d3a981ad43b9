/**
 * What the lifecycle reads from a user's state: which email an activation sends, who may sign in.
 * The state on a write (STAGED, ACTIVE, SUSPENDED) is the user's own rule: src/users/states.ts.
 */
import type { Lifecycle } from '../users/mapping.js';

/** Which email a transition to ACTIVE sends (README "Emails"). */
export function emailOnActivation(lifecycle: Lifecycle): 'activation' | 'welcome' {
  return lifecycle.passwordStatus === 'PENDING' && lifecycle.passwordAuthority === 'none' ? 'activation' : 'welcome';
}

/** Access needs state ACTIVE, passwordStatus ACTIVE and no lock. */
export function canSignIn(lifecycle: Lifecycle): boolean {
  return lifecycle.state === 'ACTIVE' && lifecycle.passwordStatus === 'ACTIVE' && !lifecycle.locked;
}
