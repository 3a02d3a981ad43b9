import { describe, expect, it } from 'vitest';
import { createTestDirectory } from '../helpers/directories.js';
import { TOKENS, useTestRoster } from '../helpers/roster.js';
import { PASSWORD } from '../helpers/scim.js';

/**
 * What concerns every directory is the operators' (README "Directories"): a directory's admin may
 * not rotate the signing keys nor read the whole configuration; each directory has its own
 * credential check tokens, good for its users only.
 */
const t = useTestRoster();

async function directoryAdmin(slug: string) {
  const directory = await createTestDirectory(t, slug, { source: 'integration' });
  const minted = await directory.admin().post('/tokens', { name: `${slug}-admin`, kind: 'admin' });
  expect(minted.status, minted.text).toBe(201);
  return { directory, adminToken: minted.body.token as string };
}

describe('operators only', () => {
  it("a directory's admin cannot rotate the signing keys; an operator can", async () => {
    const { directory, adminToken } = await directoryAdmin('keys');
    const refused = await directory.admin(adminToken).post('/signing-keys/rotate');
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const before = (await t.request.get('/.well-known/jwks.json')).body.keys.length;
    expect(before).toBeGreaterThan(0);
    expect((await t.admin().post('/signing-keys/rotate')).status).toBe(200);
  });

  it("a directory's admin reads its directory's settings, not the configuration; an operator reads the whole", async () => {
    const { directory, adminToken } = await directoryAdmin('settings-view');
    await directory.admin().patch('/settings', { users: { defaultState: { manual: 'ACTIVE' } } });
    const own = await directory.admin(adminToken).get('/settings');
    expect(own.status).toBe(200);
    expect(own.body.users.defaultState.manual).toBe('ACTIVE');
    expect(Object.keys(own.body).sort()).toEqual(['activation', 'mail', 'passwords', 'reminders', 'users']);
    expect(JSON.stringify(own.body)).not.toContain('admin');
    expect((await directory.admin(adminToken).get('/settings/reload')).status).toBe(403);
    const whole = await directory.admin().get('/settings');
    expect(whole.body.auth.adminTokens).toEqual([{ name: 'admin', secret: '[redacted]' }]);
    expect(whole.body.users.defaultState.manual).toBe('ACTIVE');
    expect((await t.admin().get('/settings')).body.users.defaultState.manual).toBe('STAGED');
  });
});

describe("a directory's credential check", () => {
  it('a verify token minted in a directory checks its users at its prefix, and nowhere else', async () => {
    const { directory } = await directoryAdmin('verify');
    const minted = await directory.admin().post('/tokens', { name: 'portal', kind: 'verify' });
    expect(minted.status).toBe(201);
    const verifyToken = minted.body.token as string;
    const user = await directory.scim().post('/Users', { userName: 'vic@verify.example', password: PASSWORD });
    expect(user.status, user.text).toBe(201);
    const verify = (path: string, token: string, username: string) =>
      t.request.post(path).set('Authorization', `Bearer ${token}`).send({ username, password: PASSWORD });
    expect((await verify('/directories/verify/auth/verify', verifyToken, 'vic@verify.example')).status).toBe(200);
    // The same token at the root (the default directory) is no token; the default's own token does not open the directory.
    expect((await verify('/auth/verify', verifyToken, 'vic@verify.example')).status).toBe(401);
    expect((await verify('/directories/verify/auth/verify', TOKENS.verify, 'vic@verify.example')).status).toBe(401);
    // A verify token calls nothing else.
    expect((await directory.scim(verifyToken).get('/Users')).status).toBe(403);
  });
});

describe("the operators' view of each directory's SCIM traffic", () => {
  it('counts requests and refusals per directory, with the time of the last', async () => {
    const busy = await createTestDirectory(t, 'busy');
    const quiet = await createTestDirectory(t, 'quiet-traffic');
    for (let i = 0; i < 3; i++) expect((await busy.scim().get('/Users')).status).toBe(200);
    expect((await busy.scim().get(`/Users/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`)).status).toBe(404);
    expect((await busy.scim('not-a-token').get('/Users')).status).toBe(401);
    await t.roster.stop(); // writes what the instance counted (as a shutdown does)
    const list = (await t.admin().get('/directories')).body.directories as {
      slug: string;
      activity: { scimRequests: number; scimErrors: number; lastScimRequestAt?: string; lastScimErrorAt?: string };
    }[];
    const of = (slug: string) => list.find((d) => d.slug === slug)!.activity;
    expect(of('busy')).toMatchObject({ scimRequests: 5, scimErrors: 2 });
    expect(Date.parse(of('busy').lastScimRequestAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(of('busy').lastScimErrorAt).toBeDefined();
    expect(of(quiet.slug)).toEqual({ scimRequests: 0, scimErrors: 0 });
  });
});
