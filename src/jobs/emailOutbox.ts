import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';
import type { Actor, EventType, NewEvent } from '../events/types.js';
import type { Logger } from '../logger.js';
import { renderTemplate, type TemplateName, type Templates, type TemplateVars } from '../mail/templates.js';
import type { Mailer } from '../mail/transport.js';
import { createOutboxClaims } from './outboxClaims.js';
import { isEmailAddress } from '../users/emailAddresses.js';

/**
 * The email outbox (collection `emails`). An email is rendered and stored first, then a
 * `send-email` job delivers it. Each attempt first takes the email's claim (an insert into
 * `outbox_claims` under the email's id: only one caller can succeed) with a lease, so a job that runs twice, or on two
 * Roster instances, never sends again after a successful send. Bodies hold single-use links: they are cleared (set to null) as soon as the
 * email is sent or has failed for good.
 */

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

export const EMAIL_INDEXES: IndexSpec[] = [
  { collection: EMAILS_COLLECTION, key: { status: 1, nextAttemptAt: 1 }, options: { name: 'status_nextAttemptAt' } },
  { collection: EMAILS_COLLECTION, key: { userId: 1, createdAt: -1 }, options: { name: 'userId_createdAt' } },
  { collection: EMAILS_COLLECTION, key: { eventRecorded: 1, status: 1 }, options: { name: 'eventRecorded_status' } },
];

export type SendOutcome = 'sent' | 'retry' | 'failed' | 'skipped';

export interface OutboxOptions {
  db: Db;
  mailer: Mailer;
  templates: Templates;
  logger: Logger;
  recordEvent: (e: NewEvent) => Promise<void>;
  /**
   * Clock for the recorded timestamps createdAt, sentAt and failedAt. nextAttemptAt, leaseUntil and
   * updatedAt use the wall clock, because Agenda and other Roster instances coordinate on it.
   */
  now: () => Date;
  defaults: TemplateVars;
  maxAttempts: number;
  /** First retry delay; doubles per attempt. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a 'sending' claim lasts before another attempt may take the email over. */
  leaseMs: number;
  /** Schedules a `send-email` job for the email at the given time. */
  scheduleSend: (emailId: string, at: Date) => Promise<void>;
}

export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

export function createOutbox(options: OutboxOptions) {
  const emails: Collection<OutboxEmail> = options.db.collection<OutboxEmail>(EMAILS_COLLECTION);
  const { takeClaim, releaseClaim, closeClaim } = createOutboxClaims(options.db);
  const log = options.logger;

  async function insert(input: OutboxEmailInput): Promise<OutboxEmail> {
    if (typeof input.to !== 'string' || !isEmailAddress(input.to)) {
      throw new Error(`cannot send a ${input.kind} email to "${String(input.to)}": not an email address`);
    }
    const vars: TemplateVars = { ...options.defaults, user_email: input.to, username: input.username, ...input.vars };
    const rendered = renderTemplate(options.templates, input.kind, vars);
    const at = options.now();
    const doc: OutboxEmail = {
      _id: randomUUID(),
      kind: input.kind,
      to: input.to,
      userId: input.userId,
      username: input.username,
      initiatedBy: input.initiatedBy,
      ...(input.details ? { details: input.details } : {}),
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: new Date(),
      leaseId: null,
      leaseUntil: null,
      createdAt: at,
      updatedAt: new Date(),
      eventRecorded: false,
    };
    await emails.insertOne(doc);
    return doc;
  }

  async function recordOutcome(email: OutboxEmail, success: boolean, details: Record<string, unknown>) {
    await options.recordEvent({
      type: EMAIL_EVENT_TYPES[email.kind],
      resource: { type: 'User', id: email.userId, username: email.username },
      initiatedBy: email.initiatedBy,
      recipientEmail: email.to,
      success,
      details: { ...email.details, emailId: email._id, attempts: email.attempts, ...details },
    });
    await emails.updateOne({ _id: email._id }, { $set: { eventRecorded: true } });
  }

  const cleared = { subject: null, text: null, html: null, leaseId: null, leaseUntil: null };

  async function fail(email: OutboxEmail, error: string, extra: Record<string, unknown> = {}): Promise<SendOutcome> {
    const at = options.now();
    await emails.updateOne(
      { _id: email._id, leaseId: email.leaseId },
      {
        $set: {
          status: 'failed',
          failedAt: at,
          updatedAt: new Date(),
          lastError: error,
          eventRecorded: false,
          ...cleared,
        },
      },
    );
    await closeClaim(email._id, email.leaseId as string);
    log.warn(
      { emailId: email._id, kind: email.kind, userId: email.userId, attempts: email.attempts, error },
      'email failed',
    );
    await recordOutcome(email, false, { error, ...extra });
    return 'failed';
  }

  const isDue = (email: OutboxEmail, wall: Date) =>
    (email.status === 'pending' && email.nextAttemptAt.getTime() <= wall.getTime()) ||
    (email.status === 'sending' && (!email.leaseUntil || email.leaseUntil.getTime() < wall.getTime()));

  /** One delivery attempt for one email; safe to call any number of times, from any instance. */
  async function process(emailId: string): Promise<SendOutcome> {
    const wall = new Date();
    const before = await emails.findOne({ _id: emailId });
    // Already sent, failed, being sent elsewhere, or not due yet.
    if (!before || !isDue(before, wall)) return 'skipped';

    const leaseId = randomUUID();
    const leaseUntil = new Date(wall.getTime() + options.leaseMs);
    if (!(await takeClaim(emailId, leaseId, leaseUntil))) return 'skipped';

    // Holding the claim, read again: another attempt may have finished between the two reads.
    const current = await emails.findOne({ _id: emailId });
    if (!current || !isDue(current, new Date())) {
      if (current && (current.status === 'sent' || current.status === 'failed')) await closeClaim(emailId, leaseId);
      else await releaseClaim(emailId, leaseId);
      return 'skipped';
    }
    const attempts = current.attempts + 1;
    await emails.updateOne(
      { _id: emailId },
      { $set: { status: 'sending', attempts, leaseId, leaseUntil, updatedAt: new Date() } },
    );
    const email: OutboxEmail = { ...current, status: 'sending', attempts, leaseId, leaseUntil };

    if (attempts > options.maxAttempts) {
      return fail(email, `gave up after ${attempts - 1} attempts; last error: ${email.lastError ?? 'interrupted'}`);
    }
    if (email.subject === null || email.text === null || email.html === null) {
      return fail(email, 'the stored email has no body');
    }

    let messageId: string;
    try {
      ({ messageId } = await options.mailer.send({
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
      }));
    } catch (err) {
      const e = err as Error & { responseCode?: number; permanent?: boolean };
      const error = e.message;
      const extra = { ...(e.responseCode ? { responseCode: e.responseCode } : {}) };
      if (e.permanent || attempts >= options.maxAttempts) {
        return fail(email, error, e.permanent ? { ...extra, permanent: true } : extra);
      }
      const delay = retryDelayMs(attempts, options.retryBaseMs, options.retryMaxMs);
      const nextAttemptAt = new Date(Date.now() + delay);
      await emails.updateOne(
        { _id: emailId, leaseId },
        {
          $set: {
            status: 'pending',
            nextAttemptAt,
            lastError: error,
            leaseId: null,
            leaseUntil: null,
            updatedAt: new Date(),
          },
        },
      );
      await releaseClaim(emailId, leaseId);
      log.warn({ emailId, kind: email.kind, attempts, retryInMs: delay, error }, 'email send failed, will retry');
      await options.scheduleSend(emailId, nextAttemptAt);
      return 'retry';
    }

    const at = options.now();
    await emails.updateOne(
      { _id: emailId },
      { $set: { status: 'sent', sentAt: at, updatedAt: new Date(), messageId, eventRecorded: false, ...cleared } },
    );
    await closeClaim(emailId, leaseId);
    log.info({ emailId, kind: email.kind, userId: email.userId, messageId }, 'email sent');
    await recordOutcome(email, true, { messageId });
    return 'sent';
  }

  /**
   * Repairs what a crash can leave behind: pending emails whose job was lost, 'sending' claims
   * whose owner died, and final states whose event was not recorded. Returns how many it touched.
   */
  async function sweep(graceMs: number): Promise<number> {
    const wall = Date.now();
    const cutoff = new Date(wall - graceMs);
    let touched = 0;
    const stuck = await emails
      .find(
        {
          $or: [
            { status: 'pending', nextAttemptAt: { $lte: cutoff } },
            { status: 'sending', leaseUntil: { $lt: new Date(wall) } },
          ],
        },
        { projection: { _id: 1, status: 1, nextAttemptAt: 1, leaseUntil: 1 } },
      )
      .limit(500)
      .toArray();
    for (const email of stuck) {
      if (email.status === 'pending') {
        // Move nextAttemptAt so that the next sweep does not schedule it again.
        const res = await emails.updateOne(
          { _id: email._id, status: 'pending', nextAttemptAt: email.nextAttemptAt },
          { $set: { nextAttemptAt: new Date(wall) } },
        );
        if (res.modifiedCount !== 1) continue;
      }
      await options.scheduleSend(email._id, new Date(wall));
      touched += 1;
    }
    const unrecorded = await emails
      .find({ eventRecorded: false, status: { $in: ['sent', 'failed'] }, updatedAt: { $lte: cutoff } })
      .limit(500)
      .toArray();
    for (const email of unrecorded) {
      const success = email.status === 'sent';
      await recordOutcome(
        email,
        success,
        success ? { messageId: email.messageId } : { error: email.lastError ?? 'unknown error' },
      );
      touched += 1;
    }
    return touched;
  }

  return { collection: emails, insert, process, sweep };
}

export type Outbox = ReturnType<typeof createOutbox>;
