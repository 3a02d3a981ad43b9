import { afterAll, beforeAll, it } from 'vitest';
import { startTestRoster, TOKENS, type TestRoster } from '../helpers/roster.js';
let t: TestRoster;
beforeAll(async () => { t = await startTestRoster(); });
afterAll(() => t?.close());
const P = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
it('debug', async () => {
  const mk = async (n: string) => (await t.scim(TOKENS.integration).post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: n, active: true })).body;
  for (const [name, op] of [
    ['nopath', { op: 'replace', value: { active: false } }],
    ['path', { op: 'replace', path: 'active', value: false }],
    ['pathstr', { op: 'Replace', path: 'active', value: 'False' }],
  ] as const) {
    const u = await mk(`dbg.${name}@x.com`);
    const r = await t.scim(TOKENS.integration).patch(`/Users/${u.id}`, { schemas: [P], Operations: [op] });
    console.log(name, r.status, r.body.active, r.body['urn:roster:params:scim:schemas:extension:lifecycle:2.0:User']?.state);
  }
});
