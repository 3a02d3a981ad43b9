import { beforeAll, describe, expect, it } from 'vitest';
import { QUICK_JOBS, startTestRoster, TOKENS, useMailRoster, type TestRoster } from '../helpers/roster.js';
import { ENTERPRISE, GROUP, LIFECYCLE, PASSWORD, USER, type Json } from '../helpers/scim.js';
import type { ImportReport } from '../../src/admin/imports.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Report = ImportReport;

function importCsv(t: TestRoster, text: string, query = '', type = 'text/csv') {
  return t.request
    .post(`/admin/v1/imports${query}`)
    .set('Authorization', `Bearer ${TOKENS.admin}`)
    .set('Content-Type', type)
    .send(text);
}

async function userByName(t: TestRoster, userName: string) {
  const res = await t.scim().get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
  expect(res.status).toBe(200);
  return res.body.Resources[0] as Json | undefined;
}

async function createGroup(t: TestRoster, displayName: string): Promise<string> {
  const res = await t.scim().post('/Groups', { schemas: [GROUP], displayName });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function eventsOf(t: TestRoster, type: string) {
  return (await t.roster.events.query({ type, limit: 1000 })).events;
}

const { t, sink } = useMailRoster();
let engineering: string;
let existingId: string;

beforeAll(async () => {
  engineering = await createGroup(t, 'Engineering');
  await createGroup(t, 'Sales');
  const existing = await t.scim().post('/Users', {
    schemas: [USER, ENTERPRISE, LIFECYCLE],
    userName: 'kept@example.com',
    nickName: 'Kee',
    externalId: 'hr-77',
    name: { givenName: 'Kim', familyName: 'Old', honorificPrefix: 'Dr.' },
    emails: [
      { value: 'kept@example.com', type: 'work', primary: true },
      { value: 'kim@home.example', type: 'home' },
    ],
    phoneNumbers: [{ value: '+1 555 0100', type: 'home' }],
    title: 'Engineer',
    [ENTERPRISE]: { department: 'R&D', costCenter: 'CC-1' },
    [LIFECYCLE]: { state: 'ACTIVE' },
  });
  expect(existing.status).toBe(201);
  existingId = existing.body.id;
  await sink.waitFor(1); // its activation email, so later checks start from an empty sink
  sink.clear();
});

describe('POST /admin/v1/imports', () => {
  let report: Report;
  const header =
    'Username,FirstName,LastName,Email,alternateEmail,jobTitle,department,manager,state,Password,Group1,Group2';
  const lines = [
    header,
    /* 2 */ 'boss@example.com,Bea,Boss,boss@example.com,,CEO,Exec,,ACTIVE,,Engineering,',
    /* 3 */ 'ann@example.com,Ann,Lee,ann@example.com,ann@home.example,Dev,R&D,boss@example.com,,,Engineering,sales',
    /* 4 */ 'bad-email,Bad,Email,not-an-email,,,,,,,,',
    /* 5 */ 'nogroup@example.com,No,Group,nogroup@example.com,,,,,,,Engineering,Marketing',
    /* 6 */ 'orphan@example.com,Or,Phan,orphan@example.com,,,,ghost@example.com,,,,',
    /* 7 */ 'ann@example.com,Ann,Again,ann2@example.com,,,,,,,,',
    /* 8 */ 'short@example.com,Too,Short',
    /* 9 */ 'weird@example.com,We,Ird,weird@example.com,,,,,RETIRED,,,',
    /* 10 */ `weak@example.com,We,Ak,weak@example.com,,,,,ACTIVE,abc,,`,
    /* 11 */ 'taken@example.com,Ta,Ken,kept@example.com,,,,,,,,',
    /* 12 */ 'early@example.com,Ear,Ly,early@example.com,,,,late@example.com,,,,',
    /* 13 */ '',
    /* 14 */ `"multi@example.com","Mul","Ti",multi@example.com,,"Line one`,
    /* 15 */ `line two",,,,${PASSWORD},,`,
    /* 16 */ 'late@example.com,La,Te,late@example.com,,,,boss@example.com,SUSPENDED,,,',
    /* 17 */ 'kept@example.com,Kim,New,,,Staff Engineer,,boss@example.com,,,Sales,',
  ];

  beforeAll(async () => {
    sink.clear();
    const res = await importCsv(t, `${lines.join('\r\n')}\r\n`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    report = res.body;
  });

  it('reports counts and each failed line with its number and reason', () => {
    expect(report).toMatchObject({ dryRun: false, total: 14, created: 5, updated: 1, failed: 8, truncated: false });
    expect(report.aborted).toBeUndefined();
    const byLine = Object.fromEntries(report.errors.map((e) => [e.line, e.reason]));
    expect(Object.keys(byLine).map(Number)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(byLine[4]).toMatch(/Email "not-an-email" is not a valid email address/);
    expect(byLine[5]).toBe('Group "Marketing" does not exist');
    expect(byLine[6]).toBe('manager "ghost@example.com" does not exist');
    expect(byLine[7]).toBe('Username "ann@example.com" is also on line 3');
    expect(byLine[8]).toBe('The line has 3 fields; the header has 12');
    expect(byLine[9]).toMatch(/state "RETIRED" must be one of STAGED, ACTIVE, SUSPENDED/);
    expect(byLine[10]).toMatch(/^password: /);
    expect(byLine[11]).toMatch(/kept@example.com is already in use/);
  });

  it('writes nothing for a failed line', async () => {
    for (const name of [
      'bad-email',
      'nogroup@example.com',
      'orphan@example.com',
      'weak@example.com',
      'taken@example.com',
    ]) {
      expect(await userByName(t, name), name).toBeUndefined();
    }
    const ann = await userByName(t, 'ann@example.com');
    expect(ann?.name.familyName).toBe('Lee');
  });

  it('creates users with the bulk default state, the CSV state, groups and the manager', async () => {
    const boss = await userByName(t, 'boss@example.com');
    const ann = await userByName(t, 'ann@example.com');
    const late = await userByName(t, 'late@example.com');
    const early = await userByName(t, 'early@example.com');
    const multi = await userByName(t, 'multi@example.com');
    expect(boss?.[LIFECYCLE]).toMatchObject({ state: 'ACTIVE', source: 'bulk', passwordStatus: 'PENDING' });
    expect(ann?.[LIFECYCLE]).toMatchObject({ state: 'STAGED', source: 'bulk', alternateEmail: 'ann@home.example' });
    expect(late?.[LIFECYCLE].state).toBe('SUSPENDED');
    expect(ann).toMatchObject({
      title: 'Dev',
      emails: [{ value: 'ann@example.com', type: 'work', primary: true }],
      [ENTERPRISE]: { department: 'R&D', manager: { value: boss!.id } },
    });
    expect(ann!.groups.map((g: { display: string }) => g.display)).toEqual(['Engineering', 'Sales']);
    // A manager further down the file is resolved once the file is read.
    expect(early?.[ENTERPRISE].manager.value).toBe(late!.id);
    // A quoted value may span lines; the password is hashed, never shown.
    expect(multi?.title).toBe('Line one\r\nline two');
    expect(multi?.[LIFECYCLE].passwordStatus).toBe('ACTIVE');
    expect(multi?.password).toBeUndefined();
    const stored = await t.db.collection('users').findOne({ userName: 'multi@example.com' });
    expect(stored?.secret.passwordHash).toMatch(/^scrypt/);
  });

  it('updates an existing user: CSV values replace, other attributes stay, groups are added', async () => {
    const kept = await userByName(t, 'kept@example.com');
    const boss = await userByName(t, 'boss@example.com');
    expect(kept?.id).toBe(existingId);
    expect(kept).toMatchObject({
      nickName: 'Kee',
      externalId: 'hr-77',
      title: 'Staff Engineer',
      name: { givenName: 'Kim', familyName: 'New', honorificPrefix: 'Dr.' },
      emails: [
        { value: 'kept@example.com', type: 'work', primary: true },
        { value: 'kim@home.example', type: 'home' },
      ],
      phoneNumbers: [{ value: '+1 555 0100', type: 'home' }],
      [ENTERPRISE]: { department: 'R&D', costCenter: 'CC-1', manager: { value: boss!.id } },
    });
    expect(kept?.[LIFECYCLE]).toMatchObject({ state: 'ACTIVE', source: 'manual' });
    expect(kept!.groups.map((g: { display: string }) => g.display)).toEqual(['Sales']);
  });

  it('records import_start and import_end with the counts, and the writes as the admin', async () => {
    const [start] = await eventsOf(t, 'import_start');
    const [end] = await eventsOf(t, 'import_end');
    expect(start).toMatchObject({
      resource: { type: 'Import', id: report.importId },
      initiatedBy: { type: 'admin', name: 'admin', id: 'token:admin' },
    });
    expect(end).toMatchObject({
      resource: { type: 'Import', id: report.importId },
      initiatedBy: { type: 'admin', name: 'admin', id: 'token:admin' },
      success: false,
      details: { total: 14, created: 5, updated: 1, failed: 8 },
    });
    const creates = await eventsOf(t, 'user_create');
    const boss = creates.find((e) => e.resource?.username === 'boss@example.com');
    expect(boss?.initiatedBy).toEqual({ type: 'admin', name: 'admin', id: 'token:admin' });
    const groupUpdates = await eventsOf(t, 'group_update');
    expect(groupUpdates.some((e) => e.resource?.id === engineering && e.details?.importId === report.importId)).toBe(
      true,
    );
  });

  it('sends no email, even for users imported as ACTIVE', async () => {
    await sleep(1000);
    expect(sink.messages.map((m) => `${m.to.join()}: ${m.subject}`)).toEqual([]);
    for (const type of ['user_activation_email', 'user_welcome_email']) {
      expect((await eventsOf(t, type)).filter((e) => e.initiatedBy.type === 'admin')).toEqual([]);
    }
  });

  it('changes nothing when the same file is imported again', async () => {
    const before = await t.db
      .collection('users')
      .find({}, { projection: { 'meta.version': 1 } })
      .toArray();
    const res = await importCsv(t, `${lines.join('\r\n')}\r\n`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 0, updated: 0, unchanged: 6, failed: 8 });
    const after = await t.db
      .collection('users')
      .find({}, { projection: { 'meta.version': 1 } })
      .toArray();
    expect(after).toEqual(before);
  });
});

describe('refused imports', () => {
  it('refuses an unknown column with 400 and the reasons, writing nothing', async () => {
    const count = await t.db.collection('users').countDocuments();
    const events = (await eventsOf(t, 'import_start')).length;
    const res = await importCsv(
      t,
      'Username,Email,Shoe Size,Email\nnew@example.com,new@example.com,44,x@example.com\n',
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_header');
    expect(res.body.error.message).toMatch(/Unknown column "Shoe Size" \(column 3\)/);
    expect(res.body.errors).toEqual([
      { line: 1, reason: expect.stringMatching(/^Unknown column "Shoe Size"/) },
      { line: 1, reason: 'Duplicate column "Email" (columns 2 and 4)' },
    ]);
    expect(await t.db.collection('users').countDocuments()).toBe(count);
    expect((await eventsOf(t, 'import_start')).length).toBe(events);
  });

  it('answers 415 for another media type, 400 for an empty file or a bad dryRun', async () => {
    const json = await importCsv(t, '{"a":1}', '', 'application/json');
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('unsupported_media_type');
    const empty = await importCsv(t, '');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('empty_file');
    const dry = await importCsv(t, 'Username\nx\n', '?dryRun=maybe');
    expect(dry.status).toBe(400);
    expect(dry.body.error.message).toBe('dryRun must be true or false');
  });

  it('stops at a CSV syntax error, keeping the lines before it', async () => {
    const res = await importCsv(
      t,
      'Username,FirstName\nbefore-syntax@example.com,Be\n"unclosed@example.com,Un\nafter@example.com,Af\n',
    );
    expect(res.status).toBe(200);
    expect(res.body.aborted).toMatch(/CSV syntax error/);
    expect(res.body.errors).toEqual([{ line: 3, reason: expect.stringMatching(/CSV syntax error/) }]);
    expect(res.body.created).toBe(1);
    expect(await userByName(t, 'before-syntax@example.com')).toBeDefined();
  });

  it('stops at a record longer than 64 KiB, reporting its line', async () => {
    const res = await importCsv(
      t,
      `Username,FirstName\nlong1@example.com,A\nlong2@example.com,${'x'.repeat(70_000)}\nlong3@example.com,C\n`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 1, created: 1, failed: 1 });
    expect(res.body.errors).toEqual([{ line: 3, reason: expect.stringMatching(/CSV syntax error: Max Record Size/) }]);
    expect(await userByName(t, 'long3@example.com')).toBeUndefined();
  });

  it('refuses a header it cannot read', async () => {
    const res = await importCsv(t, '"Username,Email\n');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/CSV syntax error: Quote Not Closed/);
  });
});

describe('dry run', () => {
  it('validates everything against the database and the file, and writes nothing', async () => {
    const users = await t.db.collection('users').find({}).sort({ _id: 1 }).toArray();
    const events = await t.db.collection('events').countDocuments();
    const memberships = await t.db.collection('memberships').countDocuments();
    const text = [
      'Username,Email,alternateEmail,jobTitle,manager,Group1',
      'dry1@example.com,dry1@example.com,,Tester,dry2@example.com,Engineering',
      'dry2@example.com,dry2@example.com,,,,',
      'dry3@example.com,dry1@example.com,,,,', // same email as line 2
      'dry4@example.com,ann@example.com,,,,', // held by a user in the database
      'kept@example.com,,,Principal Engineer,,', // an update
      'boss@example.com,,,CEO,,', // unchanged
      'dry5@example.com,dry5@example.com,,,nobody@example.com,',
      'dry6@example.com,dry6@example.com,,,,Nope',
    ].join('\n');
    const res = await importCsv(t, text, '?dryRun=true');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dryRun: true, total: 8, created: 2, updated: 1, unchanged: 1, failed: 4 });
    expect(res.body.errors).toEqual([
      { line: 4, reason: 'Email dry1@example.com is also on line 2' },
      { line: 5, reason: 'Email ann@example.com is already in use' },
      { line: 8, reason: 'manager "nobody@example.com" does not exist' },
      { line: 9, reason: 'Group "Nope" does not exist' },
    ]);
    expect(await t.db.collection('users').find({}).sort({ _id: 1 }).toArray()).toEqual(users);
    expect(await t.db.collection('events').countDocuments()).toBe(events);
    expect(await t.db.collection('memberships').countDocuments()).toBe(memberships);
  });
});

describe('dry run and import judge alike', () => {
  it('refuses the same lines with the same reasons as the import, and as SCIM does', async () => {
    const text = [
      'Username,Email,state,Password,jobTitle',
      'alike1@example.com,alike1@example.com,,,Tester',
      'kept@example.com,,STAGED,,', // an update the lifecycle refuses
      'boss@example.com,,,abc,', // an update with a password the policy refuses
      'alike2@example.com,alike2@example.com,,short,', // a create with a weak password
      'alike3@example.com,kim@home.example,,,', // another user's home email is free for a company email
    ].join('\n');
    const dry = await importCsv(t, text, '?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ created: 2, updated: 0, failed: 3 });
    expect(await userByName(t, 'alike1@example.com')).toBeUndefined();
    const real = await importCsv(t, text);
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ created: 2, updated: 0, failed: 3 });
    expect(real.body.errors).toEqual(dry.body.errors);
    expect(dry.body.errors.map((e: { line: number }) => e.line)).toEqual([3, 4, 5]);
    // The reason a line gets is the detail a SCIM client gets for the same user.
    const scim = await t.scim().post('/Users', {
      schemas: [USER],
      userName: 'alike4@example.com',
      password: 'short',
    });
    expect(scim.status).toBe(400);
    expect(dry.body.errors[2].reason).toBe(scim.body.detail.replace('alike4@example.com', 'alike2@example.com'));
  });
});

describe('bulk default state ACTIVE', () => {
  it('imports users as ACTIVE without sending them email', async () => {
    const active = await startTestRoster(
      {
        users: { defaultState: { manual: 'STAGED', bulk: 'ACTIVE', integration: 'ACTIVE' } },
        mail: { smtpUrl: sink.url },
        jobs: QUICK_JOBS,
      },
      { start: true },
    );
    try {
      // The sink does receive this roster's email: an ACTIVE user created over SCIM gets one.
      sink.clear();
      const direct = await active.scim().post('/Users', {
        schemas: [USER, LIFECYCLE],
        userName: 'direct@example.com',
        emails: [{ value: 'direct@example.com', primary: true }],
        [LIFECYCLE]: { state: 'ACTIVE' },
      });
      expect(direct.status).toBe(201);
      await sink.waitFor(1);
      sink.clear();

      const res = await importCsv(
        active,
        'Username,Email,FirstName\nb1@example.com,b1@example.com,Bo\nb2@example.com,b2@example.com,Bi\n',
      );
      expect(res.body).toMatchObject({ created: 2, failed: 0 });
      for (const name of ['b1@example.com', 'b2@example.com']) {
        const user = await userByName(active, name);
        expect(user?.[LIFECYCLE]).toMatchObject({ state: 'ACTIVE', source: 'bulk' });
      }
      await sleep(1000);
      expect(sink.messages).toEqual([]);
    } finally {
      await active.close();
    }
  });
});

describe('a 2,000-line file', () => {
  // Big enough to cross the import's batches and concurrency; bench/import-memory.ts measures more.
  const LINES = 2000;
  it('imports every line', { timeout: 60_000 }, async () => {
    const big = await startTestRoster();
    try {
      const rows = ['Username,FirstName,LastName,Email,department'];
      for (let i = 0; i < LINES; i++)
        rows.push(`bulk${i}@example.com,First${i},Last${i},bulk${i}@example.com,D${i % 7}`);
      const started = Date.now();
      const res = await importCsv(big, `${rows.join('\n')}\n`);
      const seconds = (Date.now() - started) / 1000;
      console.log(`${LINES}-line import: ${seconds.toFixed(1)} s (${Math.round(LINES / seconds)} lines/s)`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: LINES, created: LINES, failed: 0, errors: [] });
      expect(await big.db.collection('users').countDocuments()).toBe(LINES);
      const names = new Set(
        (
          await big.db
            .collection('users')
            .find({}, { projection: { userName: 1 } })
            .toArray()
        ).map((u) => u.userName),
      );
      for (let i = 0; i < LINES; i++) expect(names.has(`bulk${i}@example.com`)).toBe(true);
    } finally {
      await big.close();
    }
  });
});
