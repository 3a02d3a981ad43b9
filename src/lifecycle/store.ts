import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { findPage, type IndexSpec } from '../db/mongo.js';
import type { Actor } from '../events/types.js';
import { createLinkToken, hashLinkToken } from './tokens.js';

export type LinkKind = 'activation' | 'reset';

/** A single-use link: only the SHA-256 of the token is stored. */
interface LinkTokenDoc {
  _id: string;
  userId: string;
  kind: LinkKind;
  createdAt: Date;
  expiresAt: Date;
}

/** A pending scheduled state change; deleted when it fires or is cancelled. */
export interface Schedule {
  _id: string;
  userId: string;
  state: 'ACTIVE' | 'SUSPENDED';
  at: Date;
  sendEmail: boolean;
  /** Where the activation/welcome email goes when it fires; removed with the schedule. */
  destination?: string;
  createdBy: Actor;
  createdAt: Date;
}

export const LIFECYCLE_INDEXES: IndexSpec[] = [
  { collection: 'link_tokens', key: { userId: 1, kind: 1 }, options: { name: 'user_kind' } },
  { collection: 'link_tokens', key: { expiresAt: 1 }, options: { name: 'expires' } },
  { collection: 'schedules', key: { userId: 1, state: 1 }, options: { name: 'user_state' } },
  { collection: 'schedules', key: { at: 1 }, options: { name: 'at' } },
];

export function createLinkTokens(db: Db) {
  const tokens = db.collection<LinkTokenDoc>('link_tokens');
  return {
    /** A new link for the user; earlier unused links of the same kind stop working. */
    async issue(userId: string, kind: LinkKind, ttlMs: number, now: Date): Promise<string> {
      const { token, hash } = createLinkToken();
      await tokens.deleteMany({ userId, kind });
      await tokens.insertOne({ _id: hash, userId, kind, createdAt: now, expiresAt: new Date(now.getTime() + ttlMs) });
      return token;
    },
    /** The user a valid, unused, unexpired token belongs to (without using it up). */
    async peek(token: string, kind: LinkKind, now: Date): Promise<string | undefined> {
      const doc = await tokens.findOne({ _id: hashLinkToken(token), kind });
      return doc && doc.expiresAt > now ? doc.userId : undefined;
    },
    /** Uses the token up: one atomic delete, so only one caller can succeed. */
    async consume(token: string, kind: LinkKind, now: Date): Promise<string | undefined> {
      const doc = await tokens.findOneAndDelete({ _id: hashLinkToken(token), kind, expiresAt: { $gt: now } });
      return doc?.userId;
    },
    async forgetUser(userId: string): Promise<void> {
      await tokens.deleteMany({ userId });
    },
  };
}

export function createSchedules(db: Db) {
  const schedules = db.collection<Schedule>('schedules');
  return {
    async create(input: Omit<Schedule, '_id' | 'createdAt'>, now: Date): Promise<Schedule> {
      const schedule: Schedule = { _id: randomUUID(), ...input, createdAt: now };
      await schedules.insertOne(schedule);
      return schedule;
    },
    get: (id: string) => schedules.findOne({ _id: id }),
    list: (userId?: string) => findPage(schedules, userId ? { userId } : {}, 1000, { sort: { at: 1, _id: 1 } }),
    pendingFor: (userId: string, state: Schedule['state']) => schedules.find({ userId, state }).toArray(),
    /** The schedule, for the one caller that takes it (one atomic delete: firing and cancelling race safely). */
    async take(id: string): Promise<Schedule | undefined> {
      return (await schedules.findOneAndDelete({ _id: id })) ?? undefined;
    },
    forUser: (userId: string) => schedules.find({ userId }).toArray(),
  };
}

export type LinkTokens = ReturnType<typeof createLinkTokens>;
export type Schedules = ReturnType<typeof createSchedules>;
export const scheduleJson = (s: Schedule) => ({
  id: s._id,
  userId: s.userId,
  state: s.state,
  at: s.at.toISOString(),
  sendEmail: s.sendEmail,
  createdBy: s.createdBy,
  createdAt: s.createdAt.toISOString(),
});
