import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/transport.js';
import type { EmailRepository } from './emailRepository.js';
import type { createOutboxClaims } from './outboxClaims.js';
import { retryDelayMs, type OutboxEmail, type SendOutcome } from './types.js';

export interface DeliveryDeps {
  emails: EmailRepository;
  claims: ReturnType<typeof createOutboxClaims>;
  mailer: Mailer;
  logger: Logger;
  /** Clock for sentAt and failedAt; leases and retry times use the wall clock (shared with Agenda). */
  now: () => Date;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  leaseMs: number;
  scheduleSend: (emailId: string, at: Date) => Promise<void>;
  /** Records the email's sent or failed event, then marks it recorded. */
  recordOutcome: (email: OutboxEmail, success: boolean, details: Record<string, unknown>) => Promise<void>;
}

const isDue = (email: OutboxEmail, wall: Date) =>
  (email.status === 'pending' && email.nextAttemptAt.getTime() <= wall.getTime()) ||
  (email.status === 'sending' && (!email.leaseUntil || email.leaseUntil.getTime() < wall.getTime()));

/** Takes the email's claim and marks it sending; undefined when it is not due or is claimed elsewhere. */
async function claim(deps: DeliveryDeps, emailId: string): Promise<OutboxEmail | undefined> {
  const { emails, claims } = deps;
  const wall = new Date();
  const before = await emails.get(emailId);
  // Already sent, failed, being sent elsewhere, or not due yet.
  if (!before || !isDue(before, wall)) return undefined;

  const leaseId = randomUUID();
  const leaseUntil = new Date(wall.getTime() + deps.leaseMs);
  if (!(await claims.takeClaim(emailId, leaseId, leaseUntil))) return undefined;

  // Holding the claim, read again: another attempt may have finished between the two reads.
  const current = await emails.get(emailId);
  if (!current || !isDue(current, new Date())) {
    if (current && (current.status === 'sent' || current.status === 'failed'))
      await claims.closeClaim(emailId, leaseId);
    else await claims.releaseClaim(emailId, leaseId);
    return undefined;
  }
  const attempts = current.attempts + 1;
  await emails.markSending(emailId, { attempts, leaseId, leaseUntil });
  return { ...current, status: 'sending', attempts, leaseId, leaseUntil };
}

/**
 * One delivery attempt of an outbox email: claim it (only one attempt anywhere holds the claim),
 * send it, then mark it sent, failed for good, or pending again with a later attempt scheduled.
 */
export function createDelivery(deps: DeliveryDeps) {
  const { emails, claims, logger: log } = deps;

  async function fail(email: OutboxEmail, error: string, extra: Record<string, unknown> = {}): Promise<SendOutcome> {
    await emails.markFailed(email._id, email.leaseId, { failedAt: deps.now(), lastError: error });
    await claims.closeClaim(email._id, email.leaseId as string);
    log.warn(
      { emailId: email._id, kind: email.kind, userId: email.userId, attempts: email.attempts, error },
      'email failed',
    );
    await deps.recordOutcome(email, false, { error, ...extra });
    return 'failed';
  }

  /** A send that failed: failed for good when permanent or out of attempts, else pending again later. */
  async function afterSendError(email: OutboxEmail, err: unknown): Promise<SendOutcome> {
    const e = err as Error & { responseCode?: number; permanent?: boolean };
    const error = e.message;
    const extra = { ...(e.responseCode ? { responseCode: e.responseCode } : {}) };
    if (e.permanent || email.attempts >= deps.maxAttempts) {
      return fail(email, error, e.permanent ? { ...extra, permanent: true } : extra);
    }
    const delay = retryDelayMs(email.attempts, deps.retryBaseMs, deps.retryMaxMs);
    const nextAttemptAt = new Date(Date.now() + delay);
    await emails.markRetry(email._id, email.leaseId, { nextAttemptAt, lastError: error });
    await claims.releaseClaim(email._id, email.leaseId as string);
    log.warn(
      { emailId: email._id, kind: email.kind, attempts: email.attempts, retryInMs: delay, error },
      'email send failed, will retry',
    );
    await deps.scheduleSend(email._id, nextAttemptAt);
    return 'retry';
  }

  async function markSent(email: OutboxEmail, messageId: string): Promise<SendOutcome> {
    await emails.markSent(email._id, { sentAt: deps.now(), messageId });
    await claims.closeClaim(email._id, email.leaseId as string);
    log.info({ emailId: email._id, kind: email.kind, userId: email.userId, messageId }, 'email sent');
    await deps.recordOutcome(email, true, { messageId });
    return 'sent';
  }

  /** One delivery attempt for one email; safe to call any number of times, from any instance. */
  async function process(emailId: string): Promise<SendOutcome> {
    const email = await claim(deps, emailId);
    if (!email) return 'skipped';
    if (email.attempts > deps.maxAttempts) {
      return fail(
        email,
        `gave up after ${email.attempts - 1} attempts; last error: ${email.lastError ?? 'interrupted'}`,
      );
    }
    if (email.subject === null || email.text === null || email.html === null) {
      return fail(email, 'the stored email has no body');
    }
    let messageId: string;
    try {
      ({ messageId } = await deps.mailer.send({
        to: email.to,
        ...(email.from ? { from: email.from } : {}),
        subject: email.subject,
        text: email.text,
        html: email.html,
      }));
    } catch (err) {
      return afterSendError(email, err);
    }
    return markSent(email, messageId);
  }

  return { process };
}
