import os from 'node:os';
import { Agenda, backoffStrategies, InMemoryNotificationChannel, type Job } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { Db } from 'mongodb';
import { DEFAULT_DIRECTORY } from '../directory.js';
import type { Logger } from '../logger.js';

/** Agenda's collection (in the application database). */
export const AGENDA_COLLECTION = 'agendaJobs';

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

export function tryParseInterval(value: string): number | undefined {
  try {
    return parseInterval(value);
  } catch {
    return undefined;
  }
}

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
  /**
   * Which directory the handler works in (src/directory.ts): `directory` (default), the one the
   * job's data names (jobs.schedule puts the current one there); `eachDirectory`, once in each
   * directory that is not deleted or suspended (recurring sweeps); `global`, none (work on no
   * directory's data).
   */
  scope?: 'directory' | 'eachDirectory' | 'global';
}

/** How job handlers enter directories, given by the composition (jobs know no directory feature). */
export interface JobDirectories {
  /**
   * Runs `fn` inside the directory; `suspended` (not run: the job is put back for later) or
   * `gone` (deleted: the job is dropped) when it may not run now.
   */
  enter(directory: string, fn: () => Promise<void>): Promise<'ran' | 'suspended' | 'gone'>;
  /** The directories a sweep visits: neither deleted nor suspended. */
  active(): Promise<string[]>;
}

/** A suspended directory's job waits this long before it is tried again. */
const SUSPENDED_RETRY_MS = 5 * 60_000;

/**
 * Agenda 6 on the application database, its errors and failed jobs logged. `prepared` settles once
 * Agenda has set up its collection (a failure there is logged; start() reports it again).
 */
export function createAgenda(options: { db: Db; log: Logger; processEvery: string; instanceName?: string }) {
  const { log } = options;
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: options.db, collection: AGENDA_COLLECTION }),
    // Jobs saved by this instance start here at once instead of at the next poll; other
    // instances still find them by polling.
    notificationChannel: new InMemoryNotificationChannel(),
    name: options.instanceName ?? `${os.hostname()}:${process.pid}`,
    processEvery: parseInterval(options.processEvery),
    defaultConcurrency: 5,
    maxConcurrency: 20,
  });
  agenda.on('error', (err: Error) => log.error({ err }, 'agenda error'));
  // A failure while preparing the collection (database gone, or closed by a quick shutdown).
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
  return { agenda, prepared };
}

/**
 * Defines job handlers on `agenda` and keeps track of the jobs running on this instance, so a
 * shutdown can wait for them (`waitForRunning`).
 */
export function createHandlers(agenda: Agenda, log: Logger, directories: JobDirectories) {
  // Running jobs by id; resolved on Agenda's 'complete' (after it saved the job's final state).
  const running = new Map<string, () => void>();
  const finished = new Map<string, Promise<void>>();
  agenda.on('complete', (job: { attrs?: { _id?: unknown } }) => {
    const id = String(job.attrs?._id ?? '');
    running.get(id)?.();
  });

  const track = (jobId: string) =>
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

  function defineHandler<D extends JobData>(name: string, handler: JobHandler<D>, opts: HandlerOptions = {}) {
    const retry = opts.retry === undefined ? { maxRetries: 5, delayMs: 30_000 } : opts.retry;
    agenda.define<D>(
      name,
      async (job: Job<D>) => {
        const jobId = String(job.attrs._id);
        track(jobId);
        const data = job.attrs.data ?? ({} as D);
        const run = () => handler(data, { jobId, name, attempt: (job.attrs.failCount ?? 0) + 1, job });
        const scope = opts.scope ?? 'directory';
        if (scope === 'global') return run();
        if (scope === 'eachDirectory') {
          for (const directory of await directories.active()) await directories.enter(directory, run);
          return;
        }
        // Jobs written before directories existed name none: they were the default directory's.
        const directory = typeof data.directory === 'string' ? data.directory : DEFAULT_DIRECTORY;
        const outcome = await directories.enter(directory, run);
        if (outcome === 'suspended') await agenda.schedule(new Date(Date.now() + SUSPENDED_RETRY_MS), name, data);
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

  /** Waits up to timeoutMs for the jobs running here; those still running keep their lock. */
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

  return { defineHandler, waitForRunning };
}
