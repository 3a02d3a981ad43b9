/** The audit/event log (docs/ARCHITECTURE.md "Events"): one append-only document per thing that happened. */
import type { Actor } from '../principals.js';

/** Every event type (the admin API's `?type=` is checked against it). */
export const EVENT_TYPES = [
  'user_create',
  'user_update',
  'user_delete',
  'user_activated',
  'user_suspended',
  'user_activation_email',
  'user_welcome_email',
  'user_password_reset_email',
  'user_reminder_email',
  'user_password_set',
  'user_password_expired',
  'user_activation_schedule_create',
  'user_activation_schedule_delete',
  'user_activation_schedule_fired',
  'user_login_attempt',
  'user_lockout',
  'user_unlocked',
  'group_create',
  'group_update',
  'group_delete',
  'import_start',
  'import_end',
  'oauth_client_created',
  'oauth_client_secret_rotated',
  'oauth_client_revoked',
  'oauth_token_issued',
  'oauth_client_auth_failed',
  'directory_created',
  'directory_updated',
  'directory_settings_changed',
  'directory_deleted',
  'directory_restored',
  'scim_token_created',
  'scim_token_revoked',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Who acted: defined beside the principal ids (src/principals.ts), where src/http can name it too. */
export type { Actor };

export interface EventChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface RosterEvent {
  _id: string;
  timestamp: Date;
  type: EventType;
  resource?: {
    type: 'User' | 'Group' | 'Import' | 'OAuthClient' | 'Directory' | 'Token';
    id: string;
    username?: string;
  };
  initiatedBy: Actor;
  changes?: EventChange[];
  recipientEmail?: string;
  success: boolean;
  /** Free-form details: error message of a failed send, import counts, schedule time. */
  details?: Record<string, unknown>;
  /** The transaction (one per request) the event belongs to; shared by every event of a request. */
  txn?: string;
  /** The HTTP method (or /Bulk operation method) that caused it, when it came from a request. */
  operation?: string;
  /** true until the event's security event tokens are written (src/securityEvents). */
  setsPending?: boolean;
}

export type NewEvent = Omit<RosterEvent, '_id' | 'timestamp' | 'success' | 'txn' | 'operation' | 'setsPending'> & {
  success?: boolean;
  timestamp?: Date;
};

export const SYSTEM: Actor = { type: 'system', name: 'roster' };

/** The `resource` of an event about a user. */
export const userResource = (user: { _id: string; userName: string }): NonNullable<RosterEvent['resource']> => ({
  type: 'User',
  id: user._id,
  username: user.userName,
});
