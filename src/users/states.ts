/**
 * A user's lifecycle state on a write: a new user's (from the client's input and the configured
 * default for the token's source), and the next one after a replace or patch. Pure; the user
 * documents apply it (documents.ts), the lifecycle reacts to the result (src/lifecycle).
 */
import type { Config } from '../config/index.js';
import { InvalidError } from '../errors.js';
import type { Lifecycle, PasswordAuthority, UserSource, UserState } from './mapping.js';

/** What a client asked of the lifecycle in one write (SCIM form values, already validated). */
export interface LifecycleInput {
  /** Core `active`, when the client sent it. */
  active?: boolean;
  /** The extension object, when the client sent it (undefined: the client does not know the extension). */
  extension?: {
    state?: UserState;
    alternateEmail?: string;
    scheduledActivation?: string;
    scheduledSuspension?: string;
    passwordAuthority?: PasswordAuthority;
  };
}

/**
 * A new user's lifecycle. An explicit extension `state` wins; otherwise the configured default for
 * the token's source. `active:false` on create with an ACTIVE default makes the user SUSPENDED
 * (Entra creates disabled accounts that way; no email goes out, and a later `active:true` activates).
 */
export function initialLifecycle(input: LifecycleInput, source: UserSource, config: Config): Lifecycle {
  const ext = input.extension ?? {};
  let state: UserState = ext.state ?? config.users.defaultState[source];
  if (!ext.state && state === 'ACTIVE' && input.active === false) state = 'SUSPENDED';
  return {
    state,
    passwordStatus: 'PENDING',
    source,
    passwordAuthority: ext.passwordAuthority ?? config.users.defaultPasswordAuthority,
    ...(ext.alternateEmail ? { alternateEmail: ext.alternateEmail } : {}),
    ...(ext.scheduledActivation ? { scheduledActivation: new Date(ext.scheduledActivation) } : {}),
    ...(ext.scheduledSuspension ? { scheduledSuspension: new Date(ext.scheduledSuspension) } : {}),
    locked: false,
  };
}

/**
 * The state after a write: explicit `state` first, else core `active` (README "States and sources").
 * Never back to STAGED.
 */
export function nextState(current: UserState, input: LifecycleInput): UserState {
  // A state equal to the current one is no request (PATCH and PUT carry the extension back as read),
  // so `active` decides; a different state is an explicit transition and wins.
  const explicit = input.extension?.state;
  if (explicit && explicit !== current) {
    if (explicit === 'STAGED' && current !== 'STAGED') {
      throw new InvalidError('A user cannot return to STAGED', { scimType: 'mutability' });
    }
    return explicit;
  }
  if (input.active === false && current === 'ACTIVE') return 'SUSPENDED';
  if (input.active === true && current === 'SUSPENDED') return 'ACTIVE';
  return current; // active:true leaves a STAGED user STAGED; active:false leaves STAGED or SUSPENDED as is
}

/**
 * The lifecycle after a replace or patch. When the client did not send the extension at all (an IdP
 * that does not know it), its readWrite attributes are kept; when it did, omitted ones are cleared.
 */
export function updatedLifecycle(current: Lifecycle, input: LifecycleInput): Lifecycle {
  const state = nextState(current.state, input);
  const next: Lifecycle = { ...current, state };
  const ext = input.extension;
  if (ext) {
    next.passwordAuthority = ext.passwordAuthority ?? current.passwordAuthority;
    setOrClear(next, 'alternateEmail', ext.alternateEmail);
    setOrClear(next, 'scheduledActivation', ext.scheduledActivation ? new Date(ext.scheduledActivation) : undefined);
    setOrClear(next, 'scheduledSuspension', ext.scheduledSuspension ? new Date(ext.scheduledSuspension) : undefined);
  }
  return next;
}

function setOrClear<K extends keyof Lifecycle>(target: Lifecycle, key: K, value: Lifecycle[K] | undefined) {
  if (value === undefined) delete target[key];
  else target[key] = value;
}
