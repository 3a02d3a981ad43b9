import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, type Config, type Json } from '../../src/config/index.js';
import type { NewEvent } from '../../src/events/types.js';
import {
  AGENDA_COLLECTION,
  createJobs,
  EMAILS_COLLECTION,
  SEND_EMAIL_JOB,
  type Jobs,
  type JobsOptions,
  type OutboxEmail,
  type OutboxEmailInput,
  parseInterval,
  retryDelayMs,
} from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import { loadTemplates } from '../../src/mail/templates.js';
import { DEFAULT_DIRECTORY, inDirectory } from '../../src/directory.js';
import { createMailer, type Mailer } from '../../src/mail/transport.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';

const templates = loadTemplates(path.join(PROJECT_ROOT, 'config/templates'));
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let client: MongoClient;
let sink: SmtpSink;
let db: Db;
let events: NewEvent[];
const toStop: { stop(): Promise<void> }[] = [];
const mailers: Mailer[] = [];

function config(overrides: Json = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      mail: { smtpUrl: sink.url, maxAttempts: 3, orgName: 'Example Corp', portalUrl: 'https://portal.example.com' },
      jobs: { processEvery: '200 milliseconds' },
      log: { level: 'silent' },
      ...overrides,
    },
  });
}

function makeJobs(options: Partial<JobsOptions> & { configOverrides?: Json } = {}): Jobs {
  const cfg = config(options.configOverrides);
  const mailer = createMailer({ smtpUrl: cfg.mail.smtpUrl, from: cfg.mail.from });
  mailers.push(mailer);
  const recordEvent = async (e: NewEvent) => {
    events.push(e);
  };
  const jobs = createJobs({
    db,
    env: { config: cfg, logger, recordEvent, now: () => new Date() },
    mailer,
    templates,
    // One directory, always active: these tests are about the outbox, not directories.
    directories: {
      enter: async (id, fn) => (await inDirectory(id, fn), 'ran'),
      active: async () => [DEFAULT_DIRECTORY],
    },
    emailRetryBaseMs: 300,
    sweepGraceMs: 0,
    ...options,
  });
  toStop.push({ stop: () => jobs.stop({ timeoutMs: 5000 }) });
  return jobs;
}

function activation(overrides: Partial<OutboxEmailInput> = {}): OutboxEmailInput {
  return {
    kind: 'activation',
    to: 'ann.private@example.org',
    userId: randomUUID(),
    username: 'ann',
    vars: {
      first_name: 'Ann',
      last_name: 'Lee',
      user_company_email: 'ann@corp.example',
      activation_link: 'http://roster.test/activate?token=TOKEN123',
    },
    initiatedBy: { type: 'admin', name: 'admin' },
    ...overrides,
  };
}

const emails = () => db.collection<OutboxEmail>(EMAILS_COLLECTION);

async function waitUntil<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  sink = await startSmtpSink();
});

beforeEach(() => {
  db = client.db(`t_jobs_${randomUUID().replace(/-/g, '').slice(0, 12)}`);
  events = [];
  sink.clear();
  sink.failNext(0);
});

afterEach(async () => {
  for (const s of toStop.splice(0)) await s.stop();
  for (const m of mailers.splice(0)) await m.close();
  await db.dropDatabase().catch(() => undefined);
});

afterAll(async () => {
  await sink.close();
  await client.close();
});

describe('email outbox jobs', () => {
  it('delivers an enqueued email over SMTP, clears its bodies and records an event', async () => {
    const jobs = makeJobs();
    await jobs.start();
    const input = activation();
    const id = await jobs.enqueueEmail(input);

    const [mail] = await sink.waitFor(1);
    expect(mail.to).toEqual(['ann.private@example.org']);
    expect(mail.subject).toBe('Activate your Example Corp account');
    expect(mail.text).toContain('http://roster.test/activate?token=TOKEN123');
    expect(mail.text).toContain('This email was sent to ann.private@example.org.');
    expect(mail.text).toContain('Your company email address is ann@corp.example.');
    expect(mail.text).toContain('expires in 14 days');
    expect(mail.html).toContain('href="http://roster.test/activate?token=TOKEN123"');

    const doc = await waitUntil(() => emails().findOne({ _id: id, status: 'sent', eventRecorded: true }));
    expect(doc).toMatchObject({ kind: 'activation', to: input.to, userId: input.userId, attempts: 1 });
    expect(doc.subject).toBeNull();
    expect(doc.text).toBeNull();
    expect(doc.html).toBeNull();
    expect(doc.messageId).toMatch(/@/);
    expect(doc.sentAt).toBeInstanceOf(Date);

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'user_activation_email',
      recipientEmail: 'ann.private@example.org',
      success: true,
      resource: { type: 'User', id: input.userId, username: 'ann' },
      initiatedBy: { type: 'admin', name: 'admin' },
      details: { emailId: id, messageId: doc.messageId },
    });
    expect(JSON.stringify(events[0])).not.toContain('TOKEN123');
  });

  it('retries a temporary SMTP failure with backoff, then sends', async () => {
    const jobs = makeJobs();
    await jobs.start();
    sink.failNext(2);
    const started = Date.now();
    const id = await jobs.enqueueEmail(activation({ kind: 'welcome', vars: { first_name: 'Bo' } }));

    const [mail] = await sink.waitFor(1);
    // Backoff 300 ms then 600 ms between the three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    expect(mail.subject).toBe('Welcome to Example Corp');
    const doc = await waitUntil(() => emails().findOne({ _id: id, status: 'sent', eventRecorded: true }));
    expect(doc.attempts).toBe(3);
    expect(doc.lastError).toMatch(/451/);
    expect(events.map((e) => [e.type, e.success])).toEqual([['user_welcome_email', true]]);
  });

  it('marks the email failed after mail.maxAttempts and records a failed event', async () => {
    const jobs = makeJobs();
    await jobs.start();
    sink.failNext(3);
    const id = await jobs.enqueueEmail(activation({ kind: 'password-reset' }));

    const doc = await waitUntil(() => emails().findOne({ _id: id, status: 'failed', eventRecorded: true }));
    expect(doc.attempts).toBe(3);
    expect(doc.subject).toBeNull();
    expect(doc.html).toBeNull();
    expect(doc.failedAt).toBeInstanceOf(Date);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'user_password_reset_email',
      success: false,
      recipientEmail: 'ann.private@example.org',
    });
    expect(String(events[0].details?.error)).toMatch(/451/);
    await sleep(700);
    expect(sink.messages).toHaveLength(0);
    expect(
      await db.collection(AGENDA_COLLECTION).countDocuments({ name: SEND_EMAIL_JOB, nextRunAt: { $ne: null } }),
    ).toBe(0);
  });

  it('sends once when the handler runs twice for the same email', async () => {
    const jobs = makeJobs();
    // Not started: enqueue stores the email and its job; we run the handler by hand.
    const id = await jobs.enqueueEmail(activation());
    const outcomes = await Promise.all([jobs.sendEmailNow(id), jobs.sendEmailNow(id)]);
    expect(outcomes.sort()).toEqual(['sent', 'skipped']);
    expect(await jobs.sendEmailNow(id)).toBe('skipped');

    // Now let Agenda run the stored job too (a retried job after a successful send).
    await jobs.start();
    await waitUntil(
      async () => (await db.collection(AGENDA_COLLECTION).countDocuments({ name: SEND_EMAIL_JOB })) === 0,
    );
    await sleep(300);
    expect(sink.messages).toHaveLength(1);
    expect(events).toHaveLength(1);
  });

  it('sends once under many concurrent attempts for the same emails', async () => {
    const jobs = makeJobs();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await jobs.enqueueEmail(activation({ to: `c${i}@example.org` })));
    const outcomes = await Promise.all(ids.flatMap((id) => Array.from({ length: 4 }, () => jobs.sendEmailNow(id))));
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(8);
    expect(sink.messages).toHaveLength(8);
    expect(events).toHaveLength(8);
  });

  it('sends each email once with two Agenda instances on one database', async () => {
    const a = makeJobs({ instanceName: 'a' });
    const b = makeJobs({ instanceName: 'b' });
    await a.start();
    await b.start();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const jobs = i % 2 === 0 ? a : b;
      ids.push(await jobs.enqueueEmail(activation({ to: `user${i}@example.org`, username: `user${i}` })));
    }
    // And a duplicate job for every email, as a retried or re-delivered job would be.
    for (const id of ids) await b.agenda.now(SEND_EMAIL_JOB, { emailId: id });

    await sink.waitFor(10);
    await waitUntil(async () => (await emails().countDocuments({ status: 'sent', eventRecorded: true })) === 10);
    await sleep(800);
    const recipients = sink.messages.flatMap((m) => m.to).sort();
    expect(recipients).toEqual(Array.from({ length: 10 }, (_, i) => `user${i}@example.org`).sort());
    expect(events).toHaveLength(10);
  });

  it('takes over an email whose sending claim went stale', async () => {
    const jobs = makeJobs();
    const id = await jobs.enqueueEmail(activation());
    await emails().updateOne(
      { _id: id },
      { $set: { status: 'sending', attempts: 1, leaseId: 'dead-instance', leaseUntil: new Date(Date.now() - 1000) } },
    );
    expect(await jobs.sendEmailNow(id)).toBe('sent');
    expect((await emails().findOne({ _id: id }))?.attempts).toBe(2);
    expect(sink.messages).toHaveLength(1);
  });

  it('does not take over a fresh sending claim', async () => {
    const jobs = makeJobs();
    const id = await jobs.enqueueEmail(activation());
    await emails().updateOne(
      { _id: id },
      { $set: { status: 'sending', attempts: 1, leaseId: 'live', leaseUntil: new Date(Date.now() + 60_000) } },
    );
    expect(await jobs.sendEmailNow(id)).toBe('skipped');
    expect(sink.messages).toHaveLength(0);
  });

  it('the outbox sweep delivers an email whose job was lost', async () => {
    const jobs = makeJobs();
    const id = await jobs.enqueueEmail(activation());
    expect(await jobs.cancel({ name: SEND_EMAIL_JOB })).toBe(1);
    await jobs.start();
    await sleep(400);
    expect(sink.messages).toHaveLength(0);
    expect(await jobs.sweepOutbox()).toBe(1);
    await sink.waitFor(1);
    await waitUntil(() => emails().findOne({ _id: id, status: 'sent' }));
  });

  it('fails at once on a permanent (5xx) rejection', async () => {
    // The sink answers only 451 (temporary); a permanent 5xx rejection comes from a mailer that throws one.
    const failing: Mailer = {
      send: async () => {
        throw Object.assign(new Error('550 mailbox unavailable'), { responseCode: 550, permanent: true });
      },
      close: async () => undefined,
    };
    const j2 = makeJobs({ mailer: failing });
    const id = await j2.enqueueEmail(activation());
    expect(await j2.sendEmailNow(id)).toBe('failed');
    const doc = await emails().findOne({ _id: id });
    expect(doc).toMatchObject({ status: 'failed', attempts: 1 });
    expect(events[0]).toMatchObject({ success: false, details: { permanent: true, responseCode: 550 } });
  });
});

describe('intervals and backoff', () => {
  it('parses config.jobs.processEvery itself (human-interval misreads milliseconds)', () => {
    expect(parseInterval('5 seconds')).toBe(5000);
    expect(parseInterval('200 milliseconds')).toBe(200);
    expect(parseInterval('200ms')).toBe(200);
    expect(parseInterval('1.5 minutes')).toBe(90_000);
    expect(() => parseInterval('often')).toThrow(/cannot read the interval/);
  });

  it('doubles the email retry delay up to the cap', () => {
    expect([1, 2, 3, 4, 10].map((a) => retryDelayMs(a, 30_000, 3_600_000))).toEqual([
      30_000, 60_000, 120_000, 240_000, 3_600_000,
    ]);
  });

  it('refuses to queue an email without a usable address', async () => {
    const jobs = makeJobs();
    await expect(jobs.enqueueEmail(activation({ to: 'not-an-address' }))).rejects.toThrow(/not an email address/);
  });
});

describe('generic jobs', () => {
  it('runs a scheduled job with its data and cancels jobs by a data field', async () => {
    const jobs = makeJobs();
    const seen: { data: unknown; attempt: number }[] = [];
    jobs.defineHandler<{ scheduleId: string; userId: string }>('user-state-change', async (data, ctx) => {
      seen.push({ data, attempt: ctx.attempt });
    });
    await jobs.start();
    const keepId = await jobs.schedule('user-state-change', new Date(Date.now() + 300), {
      scheduleId: 's1',
      userId: 'u1',
    });
    await jobs.schedule('user-state-change', new Date(Date.now() + 800), { scheduleId: 's2', userId: 'u1' });
    expect(keepId).toMatch(/^[0-9a-f]{24}$/);
    expect(await jobs.cancel({ data: { scheduleId: 's2' } })).toBe(1);
    await waitUntil(async () => seen.length === 1);
    await sleep(1000);
    expect(seen).toEqual([{ data: { scheduleId: 's1', userId: 'u1' }, attempt: 1 }]);
    // One-time jobs are removed once they succeeded.
    expect(await db.collection(AGENDA_COLLECTION).countDocuments({ name: 'user-state-change' })).toBe(0);
    await expect(jobs.cancel({})).rejects.toThrow(/needs an id/);
  });

  it('retries a failing handler with backoff', async () => {
    const jobs = makeJobs();
    const attempts: number[] = [];
    jobs.defineHandler(
      'flaky',
      async (_data, ctx) => {
        attempts.push(ctx.attempt);
        if (attempts.length < 3) throw new Error('transient');
      },
      { retry: { maxRetries: 3, delayMs: 100 } },
    );
    await jobs.start();
    await jobs.schedule('flaky', new Date(), {});
    await waitUntil(async () => attempts.length === 3);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('registers a recurring job once per name', async () => {
    const a = makeJobs();
    const b = makeJobs();
    a.defineHandler('no-login-reminders', async () => undefined);
    b.defineHandler('no-login-reminders', async () => undefined);
    const idA = await a.every('no-login-reminders', '0 9 * * *', {}, { timezone: 'UTC' });
    const idB = await b.every('no-login-reminders', '0 9 * * *', {}, { timezone: 'UTC' });
    expect(idA).toBe(idB);
    const job = await db.collection(AGENDA_COLLECTION).findOne({ name: 'no-login-reminders' });
    expect(job?.nextRunAt).toBeInstanceOf(Date);
    expect((job?.nextRunAt as Date).getUTCHours()).toBe(9);
  });

  it('stop() waits for a running job to finish', async () => {
    const jobs = makeJobs();
    let finished = false;
    let startedRunning = false;
    jobs.defineHandler('slow', async () => {
      startedRunning = true;
      await sleep(700);
      finished = true;
    });
    await jobs.start();
    await jobs.schedule('slow', new Date(), {});
    await waitUntil(async () => startedRunning);
    await jobs.stop({ timeoutMs: 5000 });
    expect(finished).toBe(true);
  });
});
