import { describe, expect, it } from 'vitest';
import { createRoster } from '../../src/compose.js';
import { dropRetiredIndexes, renameCollection } from '../../src/db/migrations.js';
import { OUTBOX_CLAIMS_COLLECTION } from '../../src/jobs/outboxClaims.js';
import { createLogger } from '../../src/logger.js';
import { useTestRoster } from '../helpers/roster.js';

const t = useTestRoster();

const names = async () => (await t.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);

describe('start-up renames of collections', () => {
  it('renames emailClaims (the outbox send claims of older versions) to outbox_claims, keeping its documents', async () => {
    const claim = { _id: 'email-1', leaseId: 'l', leaseUntil: new Date(0), done: true, claimedAt: new Date(0) };
    await t.db.collection('emailClaims').insertOne(claim as never);
    const roster = await createRoster({ config: t.config, db: t.db, logger: createLogger('silent') });
    await roster.stop();
    expect(await names()).not.toContain('emailClaims');
    expect(OUTBOX_CLAIMS_COLLECTION).toBe('outbox_claims');
    // ...and, written before directories, it now belongs to the default directory.
    expect(await t.db.collection('outbox_claims').findOne({ _id: 'email-1' } as never)).toEqual({
      ...claim,
      directory: 'default',
    });
  });

  it('does nothing the second time', async () => {
    const before = await t.db.collection('outbox_claims').find().toArray();
    await renameCollection(t.db, 'emailClaims', 'outbox_claims');
    expect(await names()).not.toContain('emailClaims');
    expect(await t.db.collection('outbox_claims').find().toArray()).toEqual(before);
  });

  it('when both exist, moves what the new one lacks (the new one wins) and drops the old one', async () => {
    await t.db.collection('old_things').insertMany([
      { _id: 'a', v: 'old' },
      { _id: 'b', v: 'old' },
    ] as never);
    await t.db.collection('new_things').insertOne({ _id: 'a', v: 'new' } as never);
    await renameCollection(t.db, 'old_things', 'new_things');
    expect(await names()).not.toContain('old_things');
    expect(await t.db.collection('new_things').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', v: 'new' },
      { _id: 'b', v: 'old' },
    ]);
  });

  it('two instances renaming at once both succeed', async () => {
    await t.db.collection('raced').insertOne({ _id: 'x' } as never);
    await Promise.all([renameCollection(t.db, 'raced', 'raced_new'), renameCollection(t.db, 'raced', 'raced_new')]);
    expect(await names()).not.toContain('raced');
    expect(await t.db.collection('raced_new').countDocuments()).toBe(1);
  });
});

describe('start-up drops of retired indexes', () => {
  const indexNames = async (collection: string) =>
    (await t.db.collection(collection).listIndexes().toArray()).map((index) => index.name as string);

  it("drops the users' old state index, keeps the current ones, and does nothing the second time", async () => {
    await t.db.collection('users').createIndex({ 'lifecycle.state': 1 }, { name: 'state' });
    expect(await indexNames('users')).toContain('state');
    const roster = await createRoster({ config: t.config, db: t.db, logger: createLogger('silent') });
    await roster.stop();
    const after = await indexNames('users');
    expect(after).not.toContain('state');
    expect(after).toEqual(
      expect.arrayContaining([
        'directory_userName_key_unique',
        'directory_userName',
        'directory_state_passwordStatus',
        'directory_created_id',
      ]),
    );
    await dropRetiredIndexes(t.db);
    expect(await indexNames('users')).toEqual(after);
  });

  it('passes over a collection that does not exist', async () => {
    await expect(dropRetiredIndexes(t.db, [{ collection: 'never_made', name: 'x' }])).resolves.toBeUndefined();
  });
});
