import { expect } from 'vitest';
import type { ReceivedMail, SmtpSink } from '../helpers/smtpSink.js';
import { TOKENS, type TestRoster } from '../helpers/roster.js';

/** Shared set-up for the lifecycle suite: real users over SCIM, real emails from the SMTP sink. */

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const PASSWORD = 'Correct-Horse-9-Battery';
/** How long "nothing more arrives" is watched: several jobs.processEvery cycles of 200 ms. */
export const SETTLE_MS = 700;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let seq = 0;
/** A name no other test in the run uses (files share one database server). */
export function unique(prefix = 'user'): string {
  seq += 1;
  return `${prefix}${seq}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface UserInput {
  userName?: string;
  givenName?: string;
  familyName?: string;
  /** Company emails; default one primary work email `<userName>@corp.example`. */
  emails?: { value: string; type?: string; primary?: boolean }[];
  password?: string;
  active?: boolean;
  /** The lifecycle extension object. */
  lifecycle?: Record<string, unknown>;
}

export function userBody(input: UserInput = {}) {
  const userName = input.userName ?? unique();
  return {
    schemas: input.lifecycle ? [USER, LIFECYCLE] : [USER],
    userName,
    name: { givenName: input.givenName ?? 'Ann', familyName: input.familyName ?? 'Lee' },
    emails: input.emails ?? [{ value: `${userName}@corp.example`, type: 'work', primary: true }],
    ...(input.password !== undefined ? { password: input.password } : {}),
    ...(input.active !== undefined ? { active: input.active } : {}),
    ...(input.lifecycle ? { [LIFECYCLE]: input.lifecycle } : {}),
  };
}

export interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  emails: { value: string }[];
  [LIFECYCLE]: {
    state: string;
    passwordStatus: string;
    source: string;
    passwordAuthority: string;
    alternateEmail?: string;
    scheduledActivation?: string;
    scheduledSuspension?: string;
    activatedAt?: string;
    lastLogin?: string;
    locked: boolean;
  };
  [key: string]: unknown;
}

/** POST /Users with the given SCIM token (default: the manual one); expects 201. */
export async function createUser(t: TestRoster, input: UserInput = {}, token: string = TOKENS.scim) {
  const res = await t.scim(token).post('/Users', userBody(input));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as ScimUser;
}

export async function getUser(t: TestRoster, id: string): Promise<ScimUser> {
  const res = await t.scim().get(`/Users/${id}`);
  expect(res.status).toBe(200);
  return res.body as ScimUser;
}

export const lifecycleOf = (user: ScimUser) => user[LIFECYCLE];

export async function patchUser(t: TestRoster, id: string, operations: unknown[], token: string = TOKENS.scim) {
  return t.scim(token).patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: operations });
}

export interface EventJson {
  id: string;
  timestamp: string;
  type: string;
  resource?: { type: string; id: string; username?: string };
  initiatedBy: { type: string; name: string };
  changes?: { field: string; from: unknown; to: unknown }[];
  recipientEmail?: string;
  success: boolean;
  details?: Record<string, unknown>;
}

/** The user's events, oldest first (the API answers newest first). */
export async function eventsOf(t: TestRoster, userId: string, type?: string): Promise<EventJson[]> {
  const query = new URLSearchParams({ userId, limit: '200', ...(type ? { type } : {}) });
  const res = await t.admin().get(`/events?${query}`);
  expect(res.status).toBe(200);
  return (res.body.events as EventJson[]).slice().reverse();
}

/** Waits until the user has `count` events of `type` (event recording can trail the email). */
export async function waitForEvents(t: TestRoster, userId: string, type: string, count = 1, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await eventsOf(t, userId, type);
    if (events.length >= count || Date.now() > deadline) return events;
    await sleep(100);
  }
}

export const mailsTo = (sink: SmtpSink, address: string) =>
  sink.messages.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));

/** Waits for the `count`-th email to `address`. */
export async function waitForMailTo(sink: SmtpSink, address: string, count = 1, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (mailsTo(sink, address).length < count) {
    if (Date.now() > deadline) {
      throw new Error(
        `expected ${count} email(s) to ${address}, got ${mailsTo(sink, address).length}; all recipients: ${JSON.stringify(
          sink.messages.map((m) => m.to),
        )}`,
      );
    }
    await sleep(50);
  }
  return mailsTo(sink, address)[count - 1];
}

/**
 * The email to `address`, asserting it is the only one: after it arrives, several job cycles pass
 * and no second copy (a retried or doubly-run job) may show up.
 */
export async function onlyMailTo(sink: SmtpSink, address: string): Promise<ReceivedMail> {
  const mail = await waitForMailTo(sink, address);
  await sleep(SETTLE_MS);
  expect(mailsTo(sink, address), `emails to ${address}`).toHaveLength(1);
  return mail;
}

/** Asserts that no email reaches any of the addresses within a few job cycles. */
export async function expectNoMailTo(sink: SmtpSink, ...addresses: string[]) {
  await sleep(SETTLE_MS);
  for (const address of addresses) expect(mailsTo(sink, address), `emails to ${address}`).toHaveLength(0);
}

/** The token of the /activate or /reset-password link in the email's text. */
export function linkToken(mail: ReceivedMail, path: 'activate' | 'reset-password' = 'activate'): string {
  const match = new RegExp(`http://[^\\s/]+/${path}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text);
  if (!match) throw new Error(`no /${path} link in the email "${mail.subject}": ${mail.text}`);
  return match[1];
}

export async function activateWithLink(t: TestRoster, token: string, password = PASSWORD) {
  return t.request.post('/activate').type('form').send({ token, password, confirm: password });
}

export async function verify(t: TestRoster, username: string, password: string) {
  return t.request.post('/auth/verify').set('Authorization', `Bearer ${TOKENS.verify}`).send({ username, password });
}

/** A clock the test moves: real time plus an offset. */
export function movableClock() {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advanceDays(days: number) {
      offsetMs += days * 86_400_000;
    },
    reset() {
      offsetMs = 0;
    },
  };
}
