import { randomUUID } from 'node:crypto';
import { MongoClient, type CommandStartedEvent, type Db, type Document } from 'mongodb';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRoster, type Roster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { SCIM_JSON, testConfig, TOKENS } from '../helpers/roster.js';

/**
 * The database engine itself (issue 10): every query behind the requests an IdP sends is served by
 * an index, and concurrent writers lose nothing. The queries are the ones Roster really sends,
 * captured by the driver's command monitoring while the requests run, then explained.
 */
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USERS = 3000;
const MEMBERS = 1500;

let client: MongoClient;
let db: Db;
let roster: Roster;
let request: supertest.Agent;
let captured: CommandStartedEvent[] = [];
let userIds: string[] = [];
let groupId: string;

const scim = {
  get: (p: string) => request.get(`/scim/v2${p}`).set('Authorization', `Bearer ${TOKENS.scim}`),
  send: (method: 'post' | 'patch' | 'put', p: string, body: unknown, headers: Record<string, string> = {}) =>
    request[method](`/scim/v2${p}`)
      .set('Authorization', `Bearer ${TOKENS.scim}`)
      .set({ 'Content-Type': SCIM_JSON, ...headers })
      .send(JSON.stringify(body)),
};

/** Copies of one real stored user (as the service wrote it), with their own names, emails and ids. */
async function seed() {
  const template = (
    await scim.send('post', '/Users', {
      userName: 'template@corp.example',
      externalId: 'ext-template',
      emails: [
        { value: 'template@corp.example', type: 'work', primary: true },
        { value: 'template@home.example', type: 'home' },
      ],
    })
  ).body;
  const stored = await db.collection('users').findOne({ _id: template.id });
  const docs = Array.from({ length: USERS }, (_, i) => {
    const id = randomUUID();
    const work = `user${i}@corp.example`;
    const home = `user${i}@home.example`;
    return {
      ...stored,
      _id: id,
      userName: work,
      externalId: `ext-${i}`,
      emails: [
        { value: work, type: 'work', primary: true },
        { value: home, type: 'home' },
      ],
      norm: { ...stored!.norm, userName: work, emails: [work, home], companyEmail: work },
      dkey: { userName: `default:${work}` },
      meta: { ...stored!.meta, created: new Date(Date.UTC(2024, 0, 1) + i * 1000) },
    };
  });
  await db.collection('users').insertMany(docs as never[]);
  userIds = docs.map((d) => d._id);
  const group = (await scim.send('post', '/Groups', { displayName: 'Everyone' })).body;
  groupId = group.id;
  await db
    .collection('memberships')
    .insertMany(
      userIds
        .slice(0, MEMBERS)
        .map((memberId) => ({ _id: `${groupId}:${memberId}`, groupId, memberId, type: 'User' }) as never),
    );
  // Enough groups that a planner with statistics still prefers the index for one displayName.
  const storedGroup = await db.collection<{ _id: string }>('groups').findOne({ _id: groupId });
  await db.collection('groups').insertMany(
    Array.from({ length: USERS }, (_, i) => ({
      ...storedGroup,
      _id: randomUUID(),
      displayName: `Team ${i}`,
      norm: { displayName: `team ${i}` },
      dkey: { displayName: `default:team ${i}` },
    })) as never[],
  );
}

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'), { monitorCommands: true });
  await client.connect();
  db = client.db(`t_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
  const config = testConfig();
  roster = await createRoster({ config, db, logger: createLogger(config.log.level) });
  request = supertest.agent(roster.app.callback());
  client.on('commandStarted', (event) => captured.push(event));
  await seed();
}, 120_000);
afterAll(async () => {
  await roster?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

const EXPLAINABLE = new Set(['find', 'count', 'aggregate', 'distinct']);

/** The read commands one request sent. */
async function queriesOf(send: () => Promise<{ status: number }>) {
  captured = [];
  const res = await send();
  expect(res.status).toBeLessThan(300);
  return captured
    .filter((e) => EXPLAINABLE.has(e.commandName) && e.databaseName === db.databaseName)
    .map((e) => {
      const command = Object.fromEntries(
        Object.entries(e.command).filter(([key]) => !['$db', 'lsid', '$clusterTime', 'txnNumber'].includes(key)),
      ) as Document;
      // FerretDB cannot explain distinct: the same read as a find has the same plan.
      if (e.commandName === 'distinct') return { find: command.distinct, filter: command.query ?? {} };
      return command;
    });
}

interface PlanNode {
  'Node Type'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
  stage?: string;
  inputStage?: PlanNode;
  inputStages?: PlanNode[];
}

/** Why a plan reads the whole collection, or undefined when it does not. */
function fullScan(explain: Document): string | undefined {
  const planner = explain.queryPlanner ?? explain.stages?.[0]?.$cursor?.queryPlanner;
  const walk = (node: PlanNode | undefined): string | undefined => {
    if (!node) return undefined;
    if (node.stage === 'COLLSCAN') return 'COLLSCAN';
    if (node['Node Type'] === 'Seq Scan') return 'Seq Scan';
    // DocumentDB: the primary key scanned on the collection's constant shard key alone is a full scan.
    const cond = node['Index Cond'] ?? '';
    if (node['Index Name'] === '_id_' && /shard_key_value/.test(cond) && !/object_id/.test(cond))
      return 'whole _id_ index';
    for (const child of [...(node.Plans ?? []), ...(node.inputStages ?? []), node.inputStage]) {
      const found = walk(child);
      if (found) return found;
    }
    return undefined;
  };
  return walk(planner?.winningPlan ?? planner?.Plan);
}

async function expectIndexed(name: string, send: () => Promise<{ status: number }>) {
  const queries = await queriesOf(send);
  // Counting the whole collection (totalResults of an unfiltered list) reads every entry by definition.
  const countsAll = (q: Document) =>
    q.pipeline?.length === 2 && Object.keys(q.pipeline[0].$match ?? { x: 1 }).length === 0;
  const selective = queries.filter(
    (q) => Object.keys(q.filter ?? q.query ?? q.pipeline?.[0]?.$match ?? {}).length > 0 && !countsAll(q),
  );
  expect(selective.length, `${name}: no query captured`).toBeGreaterThan(0);
  for (const query of selective) {
    const explain = await db.command({ explain: query, verbosity: 'queryPlanner' });
    expect(fullScan(explain), `${name}: ${JSON.stringify(query).slice(0, 300)}`).toBeUndefined();
  }
}

describe('every query an IdP triggers is served by an index', () => {
  it('user by id (with groups), by userName, by externalId, by email value, Entra work email', async () => {
    const id = userIds[42];
    await expectIndexed('GET /Users/{id}', () => scim.get(`/Users/${id}`));
    await expectIndexed('userName eq', () => scim.get('/Users?filter=userName eq "user77@corp.example"'));
    await expectIndexed('externalId eq', () => scim.get('/Users?filter=externalId eq "ext-77"'));
    await expectIndexed('emails eq', () => scim.get('/Users?filter=emails.value eq "user77@home.example"'));
    await expectIndexed('emails[type eq "work"].value eq', () =>
      scim.get('/Users?filter=emails[type eq "work"].value eq "user77@corp.example"'),
    );
    const found = await scim.get('/Users?filter=emails[type eq "work" and value eq "user77@corp.example"]');
    expect(found.body.totalResults).toBe(1);
  });

  it('cursor pages and groups by displayName, members by group and by member', async () => {
    const first = await scim.get('/Users?cursor&count=100');
    expect(first.body.nextCursor).toBeTruthy();
    await expectIndexed('cursor page', () => scim.get(`/Users?cursor=${first.body.nextCursor}&count=100`));
    await expectIndexed('displayName eq', () =>
      scim.get('/Groups?filter=displayName eq "Everyone"&excludedAttributes=members'),
    );
    await expectIndexed('GET /Groups/{id}', () => scim.get(`/Groups/${groupId}`));
    await expectIndexed('groups of a user', () => scim.get(`/Users/${userIds[5]}?attributes=groups`));
    await expectIndexed('member filter', () =>
      scim.get(`/Groups?filter=members.value eq "${userIds[5]}"&excludedAttributes=members`),
    );
  });

  it('the plan check itself recognizes a full scan', async () => {
    const explain = await db.command({
      explain: { find: 'users', filter: { nickName: 'none' } },
      verbosity: 'queryPlanner',
    });
    expect(fullScan(explain)).toBeDefined();
  });
});

describe('concurrent writers on the engine', () => {
  it('50 parallel PATCHes adding different members to one group lose none', async () => {
    const group = (await scim.send('post', '/Groups', { displayName: 'Parallel fifty' })).body;
    const members = userIds.slice(2000, 2050);
    const results = await Promise.all(
      members.map((value) =>
        scim.send('patch', `/Groups/${group.id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value }] }],
        }),
      ),
    );
    expect(results.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
    const after = await scim.get(`/Groups/${group.id}`);
    expect(after.body.members.map((m: { value: string }) => m.value).sort()).toEqual([...members].sort());
  });

  it('50 parallel PATCHes to one user with If-Match: exactly one winner per version', async () => {
    const user = await scim.get(`/Users/${userIds[2500]}`);
    let version: string = user.body.meta.version;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          scim.send(
            'patch',
            `/Users/${userIds[2500]}`,
            { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: `round ${round} writer ${i}` }] },
            { 'If-Match': version },
          ),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s !== 200 && s !== 412)).toEqual([]);
      const winner = results.find((r) => r.status === 200)!;
      const now = await scim.get(`/Users/${userIds[2500]}`);
      expect(now.body.title).toBe(winner.body.title);
      expect(now.body.meta.version).not.toBe(version);
      version = now.body.meta.version;
    }
  });
});
