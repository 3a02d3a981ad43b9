import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from 'mongodb';
import type { IndexSpec } from '../db/mongo.js';

export const CONSOLE_SESSIONS = 'console_sessions';

/**
 * A signed-in console: stored under the SHA-256 of its id (the cookie value), so a copy of the
 * database does not give anyone a session. The CSRF token is useless without the cookie.
 */
interface StoredSession {
  _id: string;
  adminName: string;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
}

export interface ConsoleSession {
  adminName: string;
  csrfToken: string;
  /** When the session ends if it stays in use (the absolute timeout). */
  endsAt: Date;
}

export const CONSOLE_SESSION_INDEXES: IndexSpec[] = [
  { collection: CONSOLE_SESSIONS, key: { createdAt: 1 }, options: { name: 'createdAt' } },
  { collection: CONSOLE_SESSIONS, key: { lastSeenAt: 1 }, options: { name: 'lastSeenAt' } },
];

export interface SessionTimeouts {
  idleMinutes(): number;
  absoluteHours(): number;
  now?: () => Date;
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;

const digest = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');
const randomToken = () => randomBytes(32).toString('base64url');
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Equal strings, compared in constant time (their digests are, whatever the lengths). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function createConsoleSessions(db: Db, timeouts: SessionTimeouts) {
  const sessions = db.collection<StoredSession>(CONSOLE_SESSIONS);
  const now = timeouts.now ?? (() => new Date());
  const idleMs = () => timeouts.idleMinutes() * 60_000;
  const absoluteMs = () => timeouts.absoluteHours() * 3_600_000;
  const view = (s: StoredSession): ConsoleSession => ({
    adminName: s.adminName,
    csrfToken: s.csrfToken,
    endsAt: new Date(s.createdAt.getTime() + absoluteMs()),
  });

  return {
    /** A new session for the admin token named `adminName`; `id` goes into the cookie, nowhere else. */
    async create(adminName: string): Promise<{ id: string; session: ConsoleSession }> {
      const at = now();
      // Ended sessions are removed here rather than by a job: sign-ins are rare and cheap.
      await sessions.deleteMany({
        $or: [
          { createdAt: { $lte: new Date(at.getTime() - absoluteMs()) } },
          { lastSeenAt: { $lte: new Date(at.getTime() - idleMs()) } },
        ],
      });
      const id = randomToken();
      const stored = { _id: digest(id), adminName, csrfToken: randomToken(), createdAt: at, lastSeenAt: at };
      await sessions.insertOne(stored);
      return { id, session: view(stored) };
    },

    /** The live session for a cookie value, its idle clock restarted; undefined when unknown or ended. */
    async use(id: string | undefined): Promise<ConsoleSession | undefined> {
      if (!id || !SESSION_ID.test(id)) return undefined;
      const at = now();
      const stored = await sessions.findOneAndUpdate(
        {
          _id: digest(id),
          createdAt: { $gt: new Date(at.getTime() - absoluteMs()) },
          lastSeenAt: { $gt: new Date(at.getTime() - idleMs()) },
        },
        { $set: { lastSeenAt: at } },
        { returnDocument: 'after' },
      );
      if (stored) return view(stored);
      await sessions.deleteOne({ _id: digest(id) }); // ended (or never was): gone for good
      return undefined;
    },

    /** Signs out: the cookie's session no longer exists anywhere. */
    async end(id: string | undefined): Promise<void> {
      if (id && SESSION_ID.test(id)) await sessions.deleteOne({ _id: digest(id) });
    },
  };
}
