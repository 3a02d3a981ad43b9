import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { AGENDA_COLLECTION } from '../../src/jobs/index.js';
import { STATE_CHANGE_JOB } from '../../src/lifecycle/service.js';
import { createLogger } from '../../src/logger.js';
import { QUICK_JOBS, startTestRoster, TOKENS, useMailRoster, type TestRoster } from '../helpers/roster.js';
import {
  createUser,
  eventsOf,
  expectNoMailTo,
  getUser,
  LIFECYCLE,
  lifecycleOf,
  mailsTo,
  onlyMailTo,
  patchUser,
  sleep,
  SETTLE_MS,
  unique,
  waitForEvents,
} from './lifecycleHelpers.js';

/**
 * Scheduled state changes (SCIM scheduledActivation / scheduledSuspension and the admin schedules
 * endpoints): Agenda jobs in MongoDB that move, cancel, fire once, and survive a restart.
 */

const { t, sink } = useMailRoster();

const inMs = (ms: number) => new Date(Date.now() + ms);
const HOUR = 3_600_000;
const address = (label: string) => `${unique(label)}@corp.example`;

interface ScheduleJson {
  id: string;
  userId: string;
  state: 'ACTIVE' | 'SUSPENDED';
  at: string;
  sendEmail: boolean;
}

async function schedulesOf(roster: TestRoster, userId: string): Promise<ScheduleJson[]> {
  const res = await roster.admin().get(`/schedules?userId=${userId}`);
  expect(res.status).toBe(200);
  return res.body.schedules as ScheduleJson[];
}

/** The Agenda jobs that carry out a schedule (the issue asks for jobs stored in MongoDB). */
async function agendaJobsOf(roster: TestRoster, scheduleId: string) {
  return roster.db
    .collection(AGENDA_COLLECTION)
    .find({ name: STATE_CHANGE_JOB, 'data.scheduleId': scheduleId })
    .toArray();
}

async function waitForState(roster: TestRoster, userId: string, state: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = lifecycleOf(await getUser(roster, userId)).state;
    if (current === state) return;
    if (Date.now() > deadline) throw new Error(`user ${userId} is still ${current}, expected ${state}`);
    await sleep(100);
  }
}

describe.concurrent('scheduledActivation through SCIM', () => {
  it('a future date creates a schedule and its Agenda job; changing it moves it; null cancels it', async () => {
    const first = inMs(HOUR);
    const user = await createUser(t, { lifecycle: { scheduledActivation: first.toISOString() } });
    expect(lifecycleOf(user)).toMatchObject({ state: 'STAGED', scheduledActivation: first.toISOString() });
    const [schedule] = await schedulesOf(t, user.id);
    expect(schedule).toMatchObject({ userId: user.id, state: 'ACTIVE', at: first.toISOString(), sendEmail: true });
    const jobs = await agendaJobsOf(t, schedule.id);
    expect(jobs).toHaveLength(1);
    expect(new Date(jobs[0].nextRunAt).toISOString()).toBe(first.toISOString());
    const [created] = await eventsOf(t, user.id, 'user_activation_schedule_create');
    expect(created).toMatchObject({ initiatedBy: { type: 'scim', name: 'okta' } });

    const second = inMs(2 * HOUR);
    let res = await patchUser(t, user.id, [
      { op: 'replace', path: `${LIFECYCLE}:scheduledActivation`, value: second.toISOString() },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const moved = await schedulesOf(t, user.id);
    expect(moved).toHaveLength(1);
    expect(moved[0].at).toBe(second.toISOString());
    expect(await agendaJobsOf(t, schedule.id)).toHaveLength(0);
    const movedJobs = await agendaJobsOf(t, moved[0].id);
    expect(movedJobs).toHaveLength(1);
    expect(new Date(movedJobs[0].nextRunAt).toISOString()).toBe(second.toISOString());

    res = await patchUser(t, user.id, [{ op: 'replace', path: `${LIFECYCLE}:scheduledActivation`, value: null }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(lifecycleOf(res.body).scheduledActivation).toBeUndefined();
    expect(await schedulesOf(t, user.id)).toEqual([]);
    expect(await agendaJobsOf(t, moved[0].id)).toHaveLength(0);
    expect(lifecycleOf(await getUser(t, user.id)).state).toBe('STAGED');

    const types = (await eventsOf(t, user.id)).map((e) => e.type).filter((type) => type.includes('schedule'));
    expect(types).toEqual([
      'user_activation_schedule_create',
      'user_activation_schedule_delete',
      'user_activation_schedule_create',
      'user_activation_schedule_delete',
    ]);
  });

  it('removing the attribute (PATCH remove) cancels too', async () => {
    const user = await createUser(t, { lifecycle: { scheduledActivation: inMs(HOUR).toISOString() } });
    const res = await patchUser(t, user.id, [{ op: 'remove', path: `${LIFECYCLE}:scheduledActivation` }]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await schedulesOf(t, user.id)).toEqual([]);
  });

  it('a schedule due in about a second fires: ACTIVE, one activation email, events by the system', async () => {
    const email = address('fires');
    const user = await createUser(t, {
      emails: [{ value: email, type: 'work' }],
      lifecycle: { scheduledActivation: inMs(1000).toISOString() },
    });
    expect(lifecycleOf(user).state).toBe('STAGED');
    const mail = await onlyMailTo(sink, email);
    expect(mail.subject).toContain('Activate');
    const after = lifecycleOf(await getUser(t, user.id));
    expect(after.state).toBe('ACTIVE');
    expect(after.scheduledActivation).toBeUndefined();
    expect(await schedulesOf(t, user.id)).toEqual([]);
    const fired = await waitForEvents(t, user.id, 'user_activation_schedule_fired', 1, 3000);
    expect(fired).toMatchObject([{ initiatedBy: { type: 'system' }, details: { state: 'ACTIVE' } }]);
    expect(await eventsOf(t, user.id, 'user_activation_schedule_delete')).toEqual([]);
    const activated = await eventsOf(t, user.id, 'user_activated');
    expect(activated).toHaveLength(1);
    expect(activated[0]).toMatchObject({
      initiatedBy: { type: 'system' },
      changes: [{ field: 'state', from: 'STAGED', to: 'ACTIVE' }],
    });
    const [sent] = await waitForEvents(t, user.id, 'user_activation_email');
    expect(sent).toMatchObject({ recipientEmail: email, success: true });
  });

  it('scheduledSuspension fires: the user becomes SUSPENDED, with no email', async () => {
    const email = address('leaver');
    const user = await createUser(
      t,
      { emails: [{ value: email, type: 'work' }], lifecycle: { scheduledSuspension: inMs(1000).toISOString() } },
      TOKENS.integration,
    );
    expect(await schedulesOf(t, user.id)).toMatchObject([{ state: 'SUSPENDED' }]);
    await onlyMailTo(sink, email); // the activation email of the create
    await waitForState(t, user.id, 'SUSPENDED');
    const [suspended] = await eventsOf(t, user.id, 'user_suspended');
    expect(suspended).toMatchObject({
      initiatedBy: { type: 'system' },
      changes: [{ field: 'state', from: 'ACTIVE', to: 'SUSPENDED' }],
    });
    const fired = await waitForEvents(t, user.id, 'user_activation_schedule_fired', 1, 3000);
    expect(fired).toMatchObject([{ initiatedBy: { type: 'system' }, details: { state: 'SUSPENDED' } }]);
    expect(lifecycleOf(await getUser(t, user.id)).scheduledSuspension).toBeUndefined();
    await sleep(SETTLE_MS);
    expect(mailsTo(sink, email)).toHaveLength(1);
  });

  it('a schedule cancelled before it is due never fires', async () => {
    const email = address('cancelled');
    const at = inMs(5000);
    const user = await createUser(t, {
      emails: [{ value: email, type: 'work' }],
      lifecycle: { scheduledActivation: at.toISOString() },
    });
    await patchUser(t, user.id, [{ op: 'replace', path: `${LIFECYCLE}:scheduledActivation`, value: null }]);
    expect(Date.now(), 'the cancel came too late for this test to mean anything').toBeLessThan(at.getTime());
    await sleep(at.getTime() - Date.now());
    await expectNoMailTo(sink, email);
    expect(lifecycleOf(await getUser(t, user.id)).state).toBe('STAGED');
  });
});

describe.concurrent('admin schedules endpoints', () => {
  it('POST /users/{id}/schedules answers 201; the SCIM attribute shows it; DELETE cancels with 204', async () => {
    const user = await createUser(t);
    const at = inMs(HOUR).toISOString();
    const res = await t.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE', at });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), userId: user.id, state: 'ACTIVE', at, sendEmail: true });
    expect(lifecycleOf(await getUser(t, user.id)).scheduledActivation).toBe(at);
    expect((await schedulesOf(t, user.id)).map((s) => s.id)).toEqual([res.body.id]);
    expect(await agendaJobsOf(t, res.body.id)).toHaveLength(1);
    const [created] = await eventsOf(t, user.id, 'user_activation_schedule_create');
    expect(created.initiatedBy).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });

    const del = await t.admin().delete(`/schedules/${res.body.id}`);
    expect(del.status).toBe(204);
    expect(await schedulesOf(t, user.id)).toEqual([]);
    expect(await agendaJobsOf(t, res.body.id)).toHaveLength(0);
    expect(lifecycleOf(await getUser(t, user.id)).scheduledActivation).toBeUndefined();
    const [deleted] = await eventsOf(t, user.id, 'user_activation_schedule_delete');
    expect(deleted.initiatedBy).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });
    expect((await t.admin().delete(`/schedules/${res.body.id}`)).status).toBe(404);
  });

  it('a new schedule of the same kind replaces the pending one', async () => {
    const user = await createUser(t);
    const a = await t.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE', at: inMs(HOUR).toISOString() });
    const later = inMs(3 * HOUR).toISOString();
    const b = await t.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE', at: later });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect((await schedulesOf(t, user.id)).map((s) => s.id)).toEqual([b.body.id]);
    expect(lifecycleOf(await getUser(t, user.id)).scheduledActivation).toBe(later);
  });

  it('rejects a bad state or date (400), an unknown user (404), and activating an ACTIVE user (409)', async () => {
    const user = await createUser(t);
    const at = inMs(HOUR).toISOString();
    expect((await t.admin().post(`/users/${user.id}/schedules`, { state: 'STAGED', at })).status).toBe(400);
    expect((await t.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE', at: 'soon' })).status).toBe(400);
    expect((await t.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE' })).status).toBe(400);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await t.admin().post(`/users/${missing}/schedules`, { state: 'ACTIVE', at })).status).toBe(404);
    const active = await createUser(t, {}, TOKENS.integration);
    expect((await t.admin().post(`/users/${active.id}/schedules`, { state: 'ACTIVE', at })).status).toBe(409);
    expect(await schedulesOf(t, user.id)).toEqual([]);
  });

  it('a schedule with sendEmail:false fires without an email', async () => {
    const email = address('quiet');
    const user = await createUser(t, { emails: [{ value: email, type: 'work' }] });
    const res = await t.admin().post(`/users/${user.id}/schedules`, {
      state: 'ACTIVE',
      at: inMs(800).toISOString(),
      sendEmail: false,
    });
    expect(res.status).toBe(201);
    await waitForState(t, user.id, 'ACTIVE');
    await expectNoMailTo(sink, email);
  });

  it('a schedule with a destination sends its email there when it fires', async () => {
    const email = address('dest');
    const alternate = `${unique('dest')}@home.example`;
    const user = await createUser(t, {
      emails: [{ value: email, type: 'work' }],
      lifecycle: { alternateEmail: alternate },
    });
    const res = await t.admin().post(`/users/${user.id}/schedules`, {
      state: 'ACTIVE',
      at: inMs(800).toISOString(),
      destination: 'company',
    });
    expect(res.status).toBe(201);
    await onlyMailTo(sink, email);
    expect(mailsTo(sink, alternate)).toHaveLength(0);
  });
});

describe.concurrent('restarts and several instances', () => {
  const logger = createLogger('silent');

  it('a schedule survives a restart: created by one instance, fired by the next one', async () => {
    const first = await startTestRoster({ mail: { smtpUrl: sink.url }, jobs: QUICK_JOBS }, { start: true });
    let second: Roster | undefined;
    try {
      const email = address('restart');
      const user = await createUser(first, {
        emails: [{ value: email, type: 'work' }],
        lifecycle: { scheduledActivation: inMs(4000).toISOString() },
      });
      // The first instance goes away before the schedule is due.
      await first.roster.stop();
      expect(await schedulesOf(first, user.id), 'the schedule fired before the restart').toHaveLength(1);

      second = await createRoster({ config: first.config, db: first.db, logger });
      await second.start();
      await onlyMailTo(sink, email);
      await waitForState(first, user.id, 'ACTIVE');
      expect(await eventsOf(first, user.id, 'user_activated')).toHaveLength(1);
      expect(await waitForEvents(first, user.id, 'user_activation_schedule_fired', 1, 3000)).toHaveLength(1);
    } finally {
      await second?.stop();
      await first.close();
    }
  });

  it('two instances on one database: each due schedule changes the state once and sends one email', async () => {
    const shared = await startTestRoster({ mail: { smtpUrl: sink.url }, jobs: QUICK_JOBS }, { start: true });
    const other = await createRoster({ config: shared.config, db: shared.db, logger });
    await other.start();
    try {
      const at = inMs(1500).toISOString();
      const users = [];
      for (let i = 0; i < 4; i++) {
        const email = address('twice');
        users.push({ email, user: await createUser(shared, { emails: [{ value: email, type: 'work' }] }) });
      }
      // Due at the same moment, scheduled through both instances.
      const otherHttp = supertest(other.app.callback());
      for (const [i, { user }] of users.entries()) {
        const path = `/admin/v1/users/${user.id}/schedules`;
        const res =
          i % 2
            ? await otherHttp.post(path).set('Authorization', `Bearer ${TOKENS.admin}`).send({ state: 'ACTIVE', at })
            : await shared.admin().post(`/users/${user.id}/schedules`, { state: 'ACTIVE', at });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      await Promise.all(users.map(({ email }) => onlyMailTo(sink, email)));
      await sleep(SETTLE_MS);
      for (const { user, email } of users) {
        expect(mailsTo(sink, email)).toHaveLength(1);
        expect(await eventsOf(shared, user.id, 'user_activated')).toHaveLength(1);
        expect(await eventsOf(shared, user.id, 'user_activation_email')).toHaveLength(1);
        expect(await eventsOf(shared, user.id, 'user_activation_schedule_fired')).toHaveLength(1);
        expect(lifecycleOf(await getUser(shared, user.id)).state).toBe('ACTIVE');
      }
    } finally {
      await other.stop();
      await shared.close();
    }
  });
});
