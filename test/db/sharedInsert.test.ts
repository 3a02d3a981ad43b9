import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createSharedInsert } from '../../src/db/sharedInsert.js';

/** Concurrent callers' inserts written together (src/db/sharedInsert.ts), on the real engine. */
let client: MongoClient;
let db: Db;
let inserts = 0;

beforeAll(async () => {
  client = await MongoClient.connect(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (event) => {
    if (event.commandName === 'insert') inserts++;
  });
  db = client.db(`t_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
});

afterAll(async () => {
  await db.dropDatabase();
  await client.close();
});

type Doc = { _id: string; caller: number; blob?: string };

describe('createSharedInsert', () => {
  it('writes the callers that arrive during a write together, and each returns once its documents are in', async () => {
    const collection = db.collection<Doc>('shared');
    const insert = createSharedInsert(collection);
    const before = inserts;
    const calls = Array.from({ length: 20 }, (_, caller) =>
      insert([
        { _id: `c${caller}-a`, caller },
        { _id: `c${caller}-b`, caller },
      ]).then(async () => (await collection.countDocuments({ caller })) === 2),
    );
    expect(await Promise.all(calls)).toEqual(Array(20).fill(true));
    expect(await collection.countDocuments({})).toBe(40);
    // The first caller is written alone, the 19 that arrived meanwhile in one more write.
    expect(inserts - before).toBe(2);
  });

  it('a document that cannot be written fails only its own caller', async () => {
    const collection = db.collection<Doc>('failing');
    const insert = createSharedInsert(collection);
    const tooLarge = 'x'.repeat(17 * 1024 * 1024); // over the 16 MiB document limit
    const outcomes = await Promise.allSettled([
      insert([{ _id: 'first', caller: 0 }]),
      insert([{ _id: 'good-1', caller: 1 }]),
      insert([{ _id: 'bad', caller: 2, blob: tooLarge }]),
      insert([{ _id: 'good-2', caller: 3 }]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((await collection.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort()).toEqual([
      'first',
      'good-1',
      'good-2',
    ]);
  });

  it('takes a document already written (a retry after a lost reply) as written', async () => {
    const collection = db.collection<Doc>('again');
    const insert = createSharedInsert(collection);
    await insert([{ _id: 'once', caller: 0 }]);
    await expect(insert([{ _id: 'once', caller: 0 }])).resolves.toBeUndefined();
    expect(await collection.countDocuments({})).toBe(1);
  });
});
