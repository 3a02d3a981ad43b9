import type { Agenda } from 'agenda';
import type { Db } from 'mongodb';
import { ensureIndexes } from '../db/mongo.js';
import type { Env } from '../events/env.js';
import type { Logger } from '../logger.js';
import type { Templates } from '../mail/templates.js';
import type { Mailer } from '../mail/transport.js';
import {
  createAgenda,
  createHandlers,
  tryParseInterval,
  type HandlerOptions,
  type JobData,
  type JobDirectories,
  type JobHandler,
} from './agenda.js';
import { currentDirectory } from '../directory.js';
import { createOutbox } from './emailOutbox.js';
import { EMAIL_INDEXES } from './emailRepository.js';
import type { OutboxEmailInput, SendOutcome } from './types.js';

export {
  AGENDA_COLLECTION,
  parseInterval,
  type HandlerOptions,
  type JobContext,
  type JobData,
  type JobDirectories,
  type JobHandler,
} from './agenda.js';

export { EMAIL_INDEXES } from './emailRepository.js';
export {
  EMAIL_EVENT_TYPES,
  EMAILS_COLLECTION,
  retryDelayMs,
  type EmailKind,
  type EmailStatus,
  type OutboxEmail,
  type OutboxEmailInput,
  type SendOutcome,
} from './types.js';

export const SEND_EMAIL_JOB = 'send-email';
export const OUTBOX_SWEEP_JOB = 'email-outbox-sweep';

export interface JobsOptions {
  db: Db;
  /** Clock, event recorder, configuration, logger (src/events/env.ts). */
  env: Env;
  mailer: Mailer;
  templates: Templates;
  /** How handlers enter the directory a job belongs to (src/directory.ts). */
  directories: JobDirectories;
  /** Email retry backoff: first delay (default 30 s), doubling per attempt, capped (default 1 h). */
  emailRetryBaseMs?: number;
  emailRetryMaxMs?: number;
  /** How long a 'sending' claim holds (default 5 min); must exceed a slow SMTP transaction. */
  emailLeaseMs?: number;
  /** Outbox repair: how often it runs (default '1 minute') and how overdue an email must be (default 60 s). */
  sweepEvery?: string;
  sweepGraceMs?: number;
  /** Name of this instance in Agenda's lastModifiedBy (default host:pid). */
  instanceName?: string;
}

export interface Jobs {
  /** The Agenda instance, for anything not wrapped here. */
  agenda: Agenda;
  /** Creates indexes, starts processing and registers the recurring outbox sweep. */
  start(): Promise<void>;
  /**
   * Stops taking new jobs, unlocks jobs fetched but not started (other instances take them), and
   * waits up to timeoutMs (default config.server.shutdownGraceMs) for running jobs to finish.
   * Jobs still running after that keep their lock until it expires, then run again elsewhere;
   * handlers must therefore be idempotent (the email job is).
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Renders and stores the email, then schedules its delivery now. Returns the outbox id. */
  enqueueEmail(email: OutboxEmailInput): Promise<string>;
  /** One delivery attempt for an outbox email (what the send-email job runs). */
  sendEmailNow(emailId: string): Promise<SendOutcome>;
  /** Runs the outbox repair once (what the sweep job runs). */
  sweepOutbox(): Promise<number>;
  /** Defines the handler of jobs called `name`. Define before start() where possible. */
  defineHandler<D extends JobData>(name: string, handler: JobHandler<D>, options?: HandlerOptions): void;
  /**
   * Schedules a one-time job at `at` (a past date runs at once), for the current directory (its
   * data names it). Returns the job id.
   */
  schedule<D extends JobData>(name: string, at: Date, data: D): Promise<string>;
  /**
   * A recurring job: `interval` is a cron expression ('0 9 * * *') or a human interval
   * ('1 day'). There is one such job per name across all instances (created or updated).
   */
  every<D extends JobData>(name: string, interval: string, data?: D, options?: { timezone?: string }): Promise<string>;
  /**
   * Deletes the jobs that match: by id, by name, and/or by data fields (`{ data: { scheduleId } }`
   * matches jobs whose data.scheduleId equals it), of the current directory only. Returns how many
   * were deleted.
   */
  cancel(match: { id?: string; name?: string; data?: JobData }): Promise<number>;
}

/** The email outbox as configured, scheduling its sends through `scheduleSend`. */
function outboxFor(options: JobsOptions, log: Logger, scheduleSend: (emailId: string, at: Date) => Promise<void>) {
  const { config, recordEvent, now } = options.env;
  return createOutbox({
    db: options.db,
    mailer: options.mailer,
    templates: options.templates,
    logger: log,
    recordEvent,
    now,
    defaults: () => ({
      org_name: config.mail.orgName,
      portal_url: config.mail.portalUrl,
      link_expiry_days: config.activation.linkTtlDays,
      reset_link_expiry_hours: config.activation.resetLinkTtlHours,
    }),
    from: () => config.mail.from,
    maxAttempts: config.mail.maxAttempts,
    retryBaseMs: options.emailRetryBaseMs ?? 30_000,
    retryMaxMs: options.emailRetryMaxMs ?? 60 * 60_000,
    leaseMs: options.emailLeaseMs ?? 5 * 60_000,
    scheduleSend,
  });
}

/** A recurring job, one per name across all instances; a human interval is read by parseInterval. */
async function scheduleEvery(
  agenda: Agenda,
  name: string,
  interval: string,
  data: JobData,
  options: { timezone?: string },
): Promise<string> {
  const human = /^\d/.test(interval) && !interval.includes(' * ') ? tryParseInterval(interval) : undefined;
  const job = await agenda.every(human ?? interval, name, data, {
    ...(options.timezone ? { timezone: options.timezone } : {}),
    skipImmediate: true,
  });
  return String(job.attrs._id);
}

async function cancelJobs(agenda: Agenda, match: { id?: string; name?: string; data?: JobData }): Promise<number> {
  // Agenda deletes every job for an empty filter; never let that happen by accident.
  if (!match.id && !match.name && !(match.data && Object.keys(match.data).length > 0)) {
    throw new Error('cancel() needs an id, a name or data to match');
  }
  await agenda.ready;
  return agenda.cancel({
    ...(match.id ? { id: match.id } : {}),
    ...(match.name ? { name: match.name } : {}),
    ...(match.data ? { data: match.data } : {}),
  });
}

/** Agenda 6 on the application database, the email outbox, and the generic job mechanisms. */
export function createJobs(options: JobsOptions): Jobs {
  const { db } = options;
  const { config } = options.env;
  const log = options.env.logger.child({ component: 'jobs' });
  const { agenda, prepared } = createAgenda({
    db,
    log,
    processEvery: config.jobs.processEvery,
    instanceName: options.instanceName,
  });
  const { defineHandler, waitForRunning } = createHandlers(agenda, log, options.directories);
  // A job's data names the directory it was scheduled in; its handler runs there (agenda.ts).
  const withDirectory = <D extends JobData>(data: D): D => {
    const directory = currentDirectory();
    return directory === undefined ? data : { ...data, directory };
  };
  let started = false;
  let stopping = false;

  const outbox = outboxFor(options, log, async (emailId, at) => {
    await agenda.schedule(at, SEND_EMAIL_JOB, withDirectory({ emailId }));
  });

  // The email job manages its own retries through the outbox document, so Agenda does not retry it.
  defineHandler<{ emailId: string }>(
    SEND_EMAIL_JOB,
    async ({ emailId }) => {
      if (typeof emailId !== 'string') throw new Error('send-email job without emailId');
      await outbox.process(emailId);
    },
    { retry: false, concurrency: 5 },
  );
  const sweepGraceMs = options.sweepGraceMs ?? 60_000;
  defineHandler(
    OUTBOX_SWEEP_JOB,
    async () => {
      const touched = await outbox.sweep(sweepGraceMs);
      if (touched > 0) log.info({ touched }, 'email outbox repaired');
    },
    { retry: false, concurrency: 1, scope: 'eachDirectory' },
  );

  return {
    agenda,

    async start() {
      if (started) return;
      started = true;
      stopping = false;
      await ensureIndexes(db, EMAIL_INDEXES);
      await agenda.start();
      await agenda.every(
        tryParseInterval(options.sweepEvery ?? '1 minute') ?? '1 minute',
        OUTBOX_SWEEP_JOB,
        undefined,
        { skipImmediate: true },
      );
      log.info({ processEvery: config.jobs.processEvery }, 'jobs started');
    },

    async stop(stopOptions = {}) {
      await prepared; // never close the database under Agenda's own set-up
      if (!started || stopping) return;
      stopping = true;
      await agenda.stop(false);
      await waitForRunning(stopOptions.timeoutMs ?? config.server.shutdownGraceMs);
      started = false;
      log.info('jobs stopped');
    },

    async enqueueEmail(email) {
      const doc = await outbox.insert(email);
      try {
        await agenda.now(SEND_EMAIL_JOB, withDirectory({ emailId: doc._id }));
      } catch (err) {
        // The email is stored; the outbox sweep schedules it later.
        log.warn({ err, emailId: doc._id }, 'could not schedule the email job; the outbox sweep will');
      }
      return doc._id;
    },

    sendEmailNow: (emailId) => outbox.process(emailId),
    sweepOutbox: () => outbox.sweep(sweepGraceMs),
    defineHandler,

    async schedule(name, at, data) {
      const job = await agenda.schedule(at, name, withDirectory(data));
      return String(job.attrs._id);
    },

    every: (name, interval, data, everyOptions = {}) => scheduleEvery(agenda, name, interval, data ?? {}, everyOptions),
    cancel: (match) => cancelJobs(agenda, match.data ? { ...match, data: withDirectory(match.data) } : match),
  };
}
