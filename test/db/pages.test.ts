import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { countMatching, findPage, findPageInOrder } from '../../src/db/mongo.js';

/** Pages read in one batch and totals by the count command (src/db/mongo.ts), on the real engine. */
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = await MongoClient.connect(inject('mongoUri'));
  db = client.db(`t_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
});

afterAll(async () => {
  await db.dropDatabase();
  await client.close();
});

describe('findPage and countMatching', () => {
  it('reads a sorted, skipped page whole, and counts exactly with and without a query', async () => {
    const docs = Array.from({ length: 250 }, (_, i) => ({
      _id: `d${String(i).padStart(3, '0')}`,
      n: i,
      odd: i % 2 === 1,
    }));
    const collection = db.collection<{ _id: string; n: number; odd: boolean }>('small');
    await collection.insertMany(docs);

    const page = await findPage(collection, { odd: true }, 101, { sort: { n: -1 }, skip: 2 });
    expect(page.map((d) => d.n)).toEqual(
      docs
        .filter((d) => d.odd)
        .map((d) => d.n)
        .reverse()
        .slice(2, 103),
    );
    expect(await findPage(collection, { n: { $gte: 240 } }, 100, { sort: { n: 1 } })).toHaveLength(10);
    expect(await countMatching(collection, { odd: true })).toBe(125);
    expect(await countMatching(collection, {})).toBe(250);
    await collection.deleteMany({ n: { $lt: 50 } });
    expect(await countMatching(collection, {})).toBe(200);
  });

  it('returns every document of a page larger than one 16 MiB reply batch', async () => {
    const collection = db.collection<{ _id: string; n: number; blob: string }>('large');
    const blob = 'x'.repeat(1024 * 1024);
    await collection.insertMany(
      Array.from({ length: 24 }, (_, n) => ({ _id: `b${String(n).padStart(2, '0')}`, n, blob })),
    );

    const page = await findPage(collection, {}, 24, { sort: { n: 1 } });
    expect(page.map((d) => d.n)).toEqual(Array.from({ length: 24 }, (_, n) => n));
  });

  it('reads pages in _id order by a probe and a bounded window, the same pages as a full sort', async () => {
    const collection = db.collection<{ _id: string; n: number }>('byId');
    // Ids whose UTF-16 order (JavaScript's) differs from their UTF-8 byte order (MongoDB's): the
    // window's bound must be the largest id as the database compares them.
    const ids = [
      ...Array.from({ length: 20 }, (_, i) => `a${i}`),
      ...Array.from({ length: 30 }, (_, i) => `p\uFF61${i}`),
      ...Array.from({ length: 30 }, (_, i) => `p\u{1F600}${i}`),
      ...Array.from({ length: 120 }, () => randomUUID()),
    ];
    await collection.insertMany(ids.map((_id, n) => ({ _id, n })).reverse());
    const sorted = (await collection.find({}, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
    expect(sorted.indexOf('p\u{1F600}0')).toBeGreaterThan(sorted.indexOf('p\uFF610'));

    expect((await findPageInOrder(collection, {}, 70)).map((d) => d._id)).toEqual(sorted.slice(0, 70));
    const read: string[] = [];
    for (let last: string | undefined; ;) {
      const page = await findPageInOrder(collection, last === undefined ? {} : { _id: { $gt: last } }, 33);
      read.push(...page.map((d) => d._id));
      if (page.length < 33) break;
      last = page[page.length - 1]._id;
    }
    expect(read).toEqual(sorted);
    const odd = await findPageInOrder(collection, { n: { $mod: [2, 1] } }, 25);
    expect(odd.map((d) => d._id)).toEqual(sorted.filter((id) => ids.indexOf(id) % 2 === 1).slice(0, 25));
  });

  it('reads a first page in (date, _id) order, whatever order the table holds it in', async () => {
    const collection = db.collection<{ _id: string; meta: { created: Date }; n: number; tags?: string[] }>('byDate');
    const base = Date.UTC(2026, 0, 1);
    // Shuffled inserts, and every date shared by three documents (the _id breaks the tie).
    const docs = Array.from({ length: 300 }, (_, n) => ({
      _id: randomUUID(),
      meta: { created: new Date(base + Math.floor(n / 3) * 1000) },
      n,
    })).sort(() => Math.random() - 0.5);
    await collection.insertMany(docs);
    const sort = { 'meta.created': 1, _id: 1 } as const;
    const expected = async (query: object, limit: number) =>
      (await collection.find(query, { sort, limit }).toArray()).map((d) => d._id);

    for (const limit of [1, 50, 299]) {
      const page = await findPageInOrder(collection, {}, limit, 'meta.created');
      expect(page.map((d) => d._id)).toEqual(await expected({}, limit));
    }
    // A short probe holds every match: sorted here.
    const odd = await findPageInOrder(collection, { n: { $mod: [2, 1] } }, 200, 'meta.created');
    expect(odd.map((d) => d._id)).toEqual(await expected({ n: { $mod: [2, 1] } }, 200));
    // A key inside an array sorts by its least element in MongoDB: read by the plain sorted query.
    await collection.insertMany([
      { _id: 'arr1', meta: { created: new Date(base) }, n: -1, tags: ['z', 'a'] },
      { _id: 'arr2', meta: { created: new Date(base) }, n: -2, tags: ['m'] },
    ]);
    const byTag = await findPageInOrder(collection, { tags: { $exists: true } }, 5, 'tags');
    expect(byTag.map((d) => d._id)).toEqual(['arr1', 'arr2']);
  });
});
