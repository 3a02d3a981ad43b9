import os from 'node:os';
import { Agenda, backoffStrategies, InMemoryNotificationChannel, type Job } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { Db } from 'mongodb';
import type { Config } from '../config/index.js';
import { ensureIndexes } from '../db/mongo.js';
import type { NewEvent } from '../events/types.js';
import type { Logger } from '../logger.js';
import type { Templates } from '../mail/templates.js';
import type { Mailer } from '../mail/transport.js';
import { createOutbox, EMAIL_INDEXES, type OutboxEmailInput, type SendOutcome } from './emailOutbox.js';

export {
  EMAIL_EVENT_TYPES,
  EMAIL_INDEXES,
  EMAILS_COLLECTION,
  retryDelayMs,
  type EmailKind,
  type EmailStatus,
  type OutboxEmail,
  type OutboxEmailInput,
  type SendOutcome,
} from './emailOutbox.js';

/**
 * Parses config.jobs.processEvery ("5 seconds", "200 milliseconds", "200ms", "1.5 minutes") to
 * milliseconds. Agenda's own parser (human-interval) reads "200 milliseconds" as 200 s and "200ms"
 * as nothing (then 5 s), so Roster hands Agenda a number.
 */
export function parseInterval(value: string): number {
  const m = /^(\d+(?:\.\d+)?) ?(ms|milliseconds?|seconds?|minutes?)$/.exec(value.trim());
  if (!m) throw new Error(`cannot read the interval "${value}" (like "5 seconds" or "200 milliseconds")`);
  const unit = m[2].startsWith('min') ? 60_000 : m[2].startsWith('s') ? 1000 : 1;
  const ms = Math.round(Number(m[1]) * unit);
  if (ms < 1) throw new Error(`the interval "${value}" is too short`);
  return ms;
}

function tryParseInterval(value: string): number | undefined {
  try {
    return parseInterval(value);
  } catch {
    return undefined;
  }
}

/** Agenda's collection (in the application database). */
export const AGENDA_COLLECTION = 'agendaJobs';
export const SEND_EMAIL_JOB = 'send-email';
export const OUTBOX_SWEEP_JOB = 'email-outbox-sweep';

/** JSON-like job data; Agenda stores it in the job document's `data` field. */
export type JobData = Record<string, unknown>;

export interface JobContext<D> {
  /** Agenda's job id (ObjectId hex). */
  jobId: string;
  name: string;
  /** 1 on the first run, 2 on the first automatic retry, … */
  attempt: number;
  job: Job<D>;
}

/** A job handler; throwing makes Agenda retry it (see HandlerOptions.retry). */
export type JobHandler<D extends JobData> = (data: D, ctx: JobContext<D>) => Promise<void>;

export interface HandlerOptions {
  /** Jobs of this name run at most this many at a time per instance (default 5). */
  concurrency?: number;
  /** A running job's lock expires after this long, and another instance may run it again (default 10 min). */
  lockLifetimeMs?: number;
  /**
   * Automatic retries when the handler throws: exponential backoff from delayMs, doubling, at most
   * maxRetries times (default { maxRetries: 5, delayMs: 30_000 }); false turns retries off.
   */
  retry?: { maxRetries: number; delayMs: number; maxDelayMs?: number } | false;
  /** Delete a one-time job once it succeeded (default true). Recurring jobs are never deleted. */
  removeOnComplete?: boolean;
}

export interface JobsOptions {
  db: Db;
  config: Config;
  logger: Logger;
  mailer: Mailer;
  templates: Templates;
  recordEvent: (e: NewEvent) => Promise<void>;
  now?: () => Date;
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
  /** Schedules a one-time job at `at` (a past date runs at once). Returns the job id. */
  schedule<D extends JobData>(name: string, at: Date, data: D): Promise<string>;
  /**
   * A recurring job: `interval` is a cron expression ('0 9 * * *') or a human interval
   * ('1 day'). There is one such job per name across all instances (created or updated).
   */
  every<D extends JobData>(name: string, interval: string, data?: D, options?: { timezone?: string }): Promise<string>;
  /**
   * Deletes the jobs that match: by id, by name, and/or by data fields (`{ data: { scheduleId } }`
   * matches jobs whose data.scheduleId equals it). Returns how many were deleted.
   */
  cancel(match: { id?: string; name?: string; data?: JobData }): Promise<number>;
}

/** Agenda 6 on the application database, the email outbox, and the generic job mechanisms. */
export function createJobs(options: JobsOptions): Jobs {
  const { db, config, logger } = options;
  const now = options.now ?? (() => new Date());
  const log = logger.child({ component: 'jobs' });

  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: db, collection: AGENDA_COLLECTION }),
    // Jobs saved by this instance start here at once instead of at the next poll; other
    // instances still find them by polling.
    notificationChannel: new InMemoryNotificationChannel(),
    name: options.instanceName ?? `${os.hostname()}:${process.pid}`,
    processEvery: parseInterval(config.jobs.processEvery),
    defaultConcurrency: 5,
    maxConcurrency: 20,
  });
  agenda.on('error', (err: Error) => log.error({ err }, 'agenda error'));
  // Agenda prepares its collection as soon as it is built; a failure there (database gone, or
  // closed by a quick shutdown) is logged, and start() reports it again.
  const prepared = Promise.resolve(agenda.ready).catch((err: Error) =>
    log.warn({ err: err.message }, 'agenda setup failed'),
  );
  agenda.on('fail', (err: Error | string, job: { attrs?: { name?: string; _id?: unknown }; jobName?: string }) => {
    const message = typeof err === 'string' ? err : err.message;
    log.warn(
      { job: job.attrs?.name ?? job.jobName, jobId: String(job.attrs?._id ?? ''), error: message },
      'job failed',
    );
  });

  // Running jobs by id; resolved on Agenda's 'complete' (after it saved the job's final state).
  const running = new Map<string, () => void>();
  const finished = new Map<string, Promise<void>>();
  agenda.on('complete', (job: { attrs?: { _id?: unknown } }) => {
    const id = String(job.attrs?._id ?? '');
    running.get(id)?.();
  });
  let started = false;
  let stopping = false;

  const scheduleSend = async (emailId: string, at: Date) => {
    await agenda.schedule(at, SEND_EMAIL_JOB, { emailId });
  };

  const outbox = createOutbox({
    db,
    mailer: options.mailer,
    templates: options.templates,
    logger: log,
    recordEvent: options.recordEvent,
    now,
    defaults: {
      org_name: config.mail.orgName,
      portal_url: config.mail.portalUrl,
      link_expiry_days: config.activation.linkTtlDays,
      reset_link_expiry_hours: config.activation.resetLinkTtlHours,
    },
    maxAttempts: config.mail.maxAttempts,
    retryBaseMs: options.emailRetryBaseMs ?? 30_000,
    retryMaxMs: options.emailRetryMaxMs ?? 60 * 60_000,
    leaseMs: options.emailLeaseMs ?? 5 * 60_000,
    scheduleSend,
  });

  function defineHandler<D extends JobData>(name: string, handler: JobHandler<D>, opts: HandlerOptions = {}) {
    const retry = opts.retry === undefined ? { maxRetries: 5, delayMs: 30_000 } : opts.retry;
    agenda.define<D>(
      name,
      async (job: Job<D>) => {
        const jobId = String(job.attrs._id);
        finished.set(
          jobId,
          new Promise<void>((resolve) =>
            running.set(jobId, () => {
              running.delete(jobId);
              finished.delete(jobId);
              resolve();
            }),
          ),
        );
        await handler(job.attrs.data ?? ({} as D), { jobId, name, attempt: (job.attrs.failCount ?? 0) + 1, job });
      },
      {
        concurrency: opts.concurrency ?? 5,
        lockLifetime: opts.lockLifetimeMs ?? 10 * 60_000,
        removeOnComplete: opts.removeOnComplete ?? true,
        ...(retry
          ? {
              backoff: backoffStrategies.exponential({
                delay: retry.delayMs,
                maxRetries: retry.maxRetries,
                maxDelay: retry.maxDelayMs ?? 60 * 60_000,
              }),
            }
          : {}),
      },
    );
  }

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
    { retry: false, concurrency: 1 },
  );

  async function waitForRunning(timeoutMs: number) {
    const pending = [...finished.values()];
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([Promise.all(pending).then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      log.warn(
        { running: finished.size },
        'jobs still running at shutdown; they run again elsewhere when their lock expires',
      );
    }
  }

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
        await agenda.now(SEND_EMAIL_JOB, { emailId: doc._id });
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
      const job = await agenda.schedule(at, name, data);
      return String(job.attrs._id);
    },

    async every(name, interval, data, everyOptions = {}) {
      const human = /^\d/.test(interval) && !interval.includes(' * ') ? tryParseInterval(interval) : undefined;
      const job = await agenda.every(human ?? interval, name, data ?? {}, {
        ...(everyOptions.timezone ? { timezone: everyOptions.timezone } : {}),
        skipImmediate: true,
      });
      return String(job.attrs._id);
    },

    async cancel(match) {
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
    },
  };
}
