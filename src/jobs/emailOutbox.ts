import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { NewEvent } from '../events/types.js';
import type { Logger } from '../logger.js';
import { renderTemplate, type Templates, type TemplateVars } from '../mail/templates.js';
import type { Mailer } from '../mail/transport.js';
import { isEmailAddress } from '../users/emailAddresses.js';
import { createDelivery } from './emailDelivery.js';
import { createEmailRepository } from './emailRepository.js';
import { createOutboxClaims } from './outboxClaims.js';
import { EMAIL_EVENT_TYPES, type OutboxEmail, type OutboxEmailInput } from './types.js';

/**
 * The email outbox (collection `emails`). An email is rendered and stored first, then a
 * `send-email` job delivers it (emailDelivery.ts). Each attempt first takes the email's claim (an
 * insert into `outbox_claims` under the email's id: only one caller can succeed) with a lease, so a
 * job that runs twice, or on two Roster instances, never sends again after a successful send.
 * Bodies hold single-use links: they are cleared (set to null) as soon as the email is sent or has
 * failed for good.
 */

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
  /** The template values of the current directory (its settings), read for each email. */
  defaults: () => TemplateVars;
  /** The current directory's sender. */
  from: () => string;
  maxAttempts: number;
  /** First retry delay; doubles per attempt. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a 'sending' claim lasts before another attempt may take the email over. */
  leaseMs: number;
  /** Schedules a `send-email` job for the email at the given time. */
  scheduleSend: (emailId: string, at: Date) => Promise<void>;
}

/** The email as stored: checked, rendered with the defaults under the input's values, pending now. */
function newOutboxEmail(input: OutboxEmailInput, options: OutboxOptions): OutboxEmail {
  if (typeof input.to !== 'string' || !isEmailAddress(input.to)) {
    throw new Error(`cannot send a ${input.kind} email to "${String(input.to)}": not an email address`);
  }
  const vars: TemplateVars = { ...options.defaults(), user_email: input.to, username: input.username, ...input.vars };
  const rendered = renderTemplate(options.templates, input.kind, vars);
  return {
    _id: randomUUID(),
    kind: input.kind,
    to: input.to,
    userId: input.userId,
    username: input.username,
    initiatedBy: input.initiatedBy,
    ...(input.details ? { details: input.details } : {}),
    from: options.from(),
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: new Date(),
    leaseId: null,
    leaseUntil: null,
    createdAt: options.now(),
    updatedAt: new Date(),
    eventRecorded: false,
  };
}

export function createOutbox(options: OutboxOptions) {
  const emails = createEmailRepository(options.db);

  async function insert(input: OutboxEmailInput): Promise<OutboxEmail> {
    const doc = newOutboxEmail(input, options);
    await emails.insert(doc);
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
    await emails.markRecorded(email._id);
  }

  const { process } = createDelivery({
    ...options,
    emails,
    claims: createOutboxClaims(options.db),
    recordOutcome,
  });

  /**
   * Repairs what a crash can leave behind: pending emails whose job was lost, 'sending' claims
   * whose owner died, and final states whose event was not recorded. Returns how many it touched.
   */
  async function sweep(graceMs: number): Promise<number> {
    const wall = Date.now();
    const cutoff = new Date(wall - graceMs);
    let touched = 0;
    const stuck = await emails.stuck(cutoff, new Date(wall));
    for (const email of stuck) {
      if (email.status === 'pending') {
        // Move nextAttemptAt so that the next sweep does not schedule it again.
        if (!(await emails.postpone(email, new Date(wall)))) continue;
      }
      await options.scheduleSend(email._id, new Date(wall));
      touched += 1;
    }
    const unrecorded = await emails.unrecorded(cutoff);
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

  return { insert, process, sweep };
}

export type Outbox = ReturnType<typeof createOutbox>;
