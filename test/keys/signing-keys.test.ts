import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoster } from '../../src/compose.js';
import { createLogger } from '../../src/logger.js';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';

const DAY = 86_400_000;

describe('signing keys and /.well-known/jwks.json', () => {
  let t: TestRoster;
  let clock = new Date('2026-01-01T00:00:00Z');
  beforeAll(async () => {
    t = await startTestRoster({ signing: { rotateAfterDays: 30, publishRetiredForDays: 5 } }, { now: () => clock });
  });
  afterAll(() => t.close());

  async function jwks() {
    const res = await t.request.get('/.well-known/jwks.json').expect(200);
    return res.body as { keys: { kid: string; kty: string; d?: string }[] };
  }
  const advance = async (days: number) => {
    clock = new Date(clock.getTime() + days * DAY);
    // Past the in-memory cache, as another instance's rotation would be seen.
    await new Promise((r) => setTimeout(r, 0));
  };

  it('publishes only public halves and verifies what it signs', async () => {
    const token = await t.roster.signingKeys.sign({ sub: 'x', iat: Math.floor(clock.getTime() / 1000) }, 'at+jwt');
    const set = await jwks();
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256', use: 'sig' });
    expect(set.keys[0].d).toBeUndefined();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(set as never), {
      currentDate: clock,
    });
    expect(payload.sub).toBe('x');
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: set.keys[0].kid });
  });

  it('a tampered payload or a token with a foreign key does not verify', async () => {
    const token = await t.roster.signingKeys.sign({ sub: 'alice' }, 'at+jwt');
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url');
    const set = createLocalJWKSet((await jwks()) as never);
    await expect(jwtVerify(`${h}.${forged}.${s}`, set)).rejects.toThrow(/signature/i);
    expect(p).not.toBe(forged);
  });

  it('rotates after rotateAfterDays, keeps the old key published for publishRetiredForDays', async () => {
    const first = decodeProtectedHeader(await t.roster.signingKeys.sign({}, 'at+jwt')).kid;
    await advance(31);
    // The cache is time-based on the injected clock: 31 days later the store is re-read.
    const second = decodeProtectedHeader(await t.roster.signingKeys.sign({}, 'at+jwt')).kid;
    expect(second).not.toBe(first);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([second, first]);
    await advance(6);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([second]);
  });

  it('POST /admin/v1/signing-keys/rotate needs an admin token and makes a new current key', async () => {
    await t.request.post('/admin/v1/signing-keys/rotate').expect(401);
    await t.request.post('/admin/v1/signing-keys/rotate').set('Authorization', `Bearer ${TOKENS.scim}`).expect(403);
    const res = await t.admin().post('/signing-keys/rotate').expect(200);
    const kid = decodeProtectedHeader(await t.roster.signingKeys.sign({}, 'at+jwt')).kid;
    expect(kid).toBe(res.body.kid);
    expect((await jwks()).keys[0].kid).toBe(kid);
  });
});

describe('signing keys shared by instances', () => {
  it('two instances making the first key at once sign with one key; keys either rotates are published by both', async () => {
    const t = await startTestRoster();
    try {
      const other = await createRoster({ config: t.config, db: t.db, logger: createLogger('silent') });
      const kids = async () =>
        (await Promise.all([t.roster.signingKeys.sign({}, 'at+jwt'), other.signingKeys.sign({}, 'at+jwt')])).map(
          (jws) => decodeProtectedHeader(jws).kid,
        );
      const [a, b] = await kids();
      expect(a).toBe(b);
      // Rotations at the same moment make one new key; one after the other (the second read the
      // first's key as newest) make two. Either way every new key is published by both instances.
      const rotated = await Promise.all([t.roster.signingKeys.rotate(), other.signingKeys.rotate()]);
      expect(rotated).not.toContain(a);
      for (const keys of [await t.roster.signingKeys.jwks(), await other.signingKeys.jwks()]) {
        expect(keys.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([...rotated, a]));
      }
      expect(await t.db.collection('signing_keys').countDocuments()).toBe(1 + new Set(rotated).size);
      await other.stop();
    } finally {
      await t.close();
    }
  });
});
