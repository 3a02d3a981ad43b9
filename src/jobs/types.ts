import type { Actor, EventType } from '../events/types.js';
import type { TemplateName, TemplateVars } from '../mail/templates.js';

/** The email outbox's documents and rules (the outbox itself: emailOutbox.ts, one attempt: emailDelivery.ts). */

export const EMAILS_COLLECTION = 'emails';
export type EmailKind = TemplateName;
export type EmailStatus = 'pending' | 'sending' | 'sent' | 'failed';

export const EMAIL_EVENT_TYPES: Record<EmailKind, EventType> = {
  activation: 'user_activation_email',
  welcome: 'user_welcome_email',
  'password-reset': 'user_password_reset_email',
  reminder: 'user_reminder_email',
};

/** What the lifecycle code hands to enqueueEmail(). */
export interface OutboxEmailInput {
  kind: EmailKind;
  /** Recipient address (also fills #{user_email}). */
  to: string;
  userId: string;
  username: string;
  /**
   * Token values. #{user_email} (= to), #{org_name}, #{portal_url}, #{link_expiry_days} and
   * #{reset_link_expiry_hours} default from `to` and the configuration; values given here win.
   */
  vars: TemplateVars;
  /** Who caused the email; copied into the sent/failed event. */
  initiatedBy: Actor;
  /** Extra fields for the event's details (e.g. { destination: 'alternate' }); no secrets. */
  details?: Record<string, unknown>;
}

/** The stored outbox document. */
export interface OutboxEmail {
  _id: string;
  kind: EmailKind;
  to: string;
  userId: string;
  username: string;
  initiatedBy: Actor;
  details?: Record<string, unknown>;
  /** The sender, from the directory's settings at enqueue time (absent on emails older than directories). */
  from?: string;
  /** Rendered at enqueue time; null once sent or failed. */
  subject: string | null;
  text: string | null;
  html: string | null;
  status: EmailStatus;
  /** Delivery attempts started so far (incremented when an attempt claims the email). */
  attempts: number;
  /** Earliest time of the next attempt (wall clock). */
  nextAttemptAt: Date;
  /** Owner and expiry of the current 'sending' claim (mirrors outbox_claims); a stale claim may be taken over. */
  leaseId: string | null;
  leaseUntil: Date | null;
  createdAt: Date;
  /** Wall clock of the last write (the sweep's repair cut-off). */
  updatedAt: Date;
  sentAt?: Date;
  failedAt?: Date;
  messageId?: string;
  lastError?: string;
  /** false between the final status write and the sent/failed event; the sweep repairs a crash there. */
  eventRecorded: boolean;
}

export type SendOutcome = 'sent' | 'retry' | 'failed' | 'skipped';

/** The delay before retry `attempt` + 1: baseMs, doubling per attempt, at most maxMs. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}
