/**
 * A second (third, …) directory in a test Roster (README "Directories"): made through the
 * operators' API, with a SCIM token minted for it, and agents for its SCIM base and its admin API.
 */
import type supertest from 'supertest';
import { TOKENS, type TestRoster } from './roster.js';

export interface TestDirectory {
  id: string;
  slug: string;
  /** The directory's SCIM base path on the test app: `/directories/{slug}/scim/v2`. */
  scimBase: string;
  /** A SCIM token of this directory (source manual unless asked otherwise). */
  scimToken: string;
  /** Its SCIM API, with its token unless another is given. */
  scim(token?: string): Agent;
  /** Its admin API (`/admin/v1/directories/{id}`), with the operator's token unless another is given. */
  admin(token?: string): Agent & { put(path: string, body?: unknown): supertest.Test };
}

type Agent = {
  get(path: string): supertest.Test;
  post(path: string, body?: unknown): supertest.Test;
  patch(path: string, body?: unknown): supertest.Test;
  put(path: string, body?: unknown): supertest.Test;
  delete(path: string): supertest.Test;
};

const bearer = (token: string) => `Bearer ${token}`;

function agent(request: supertest.Agent, base: string, token: string, contentType: string): Agent {
  const withBody = (test: supertest.Test, body: unknown) =>
    body === undefined ? test : test.set('Content-Type', contentType).send(JSON.stringify(body));
  return {
    get: (p) => request.get(`${base}${p}`).set('Authorization', bearer(token)),
    post: (p, body) => withBody(request.post(`${base}${p}`).set('Authorization', bearer(token)), body),
    put: (p, body) => withBody(request.put(`${base}${p}`).set('Authorization', bearer(token)), body),
    patch: (p, body) => withBody(request.patch(`${base}${p}`).set('Authorization', bearer(token)), body),
    delete: (p) => request.delete(`${base}${p}`).set('Authorization', bearer(token)),
  };
}

/** Makes a directory and a SCIM token in it; `source` picks the token's source (default manual). */
export async function createTestDirectory(
  t: TestRoster,
  slug: string,
  options: { name?: string; settings?: unknown; source?: 'manual' | 'bulk' | 'integration' } = {},
): Promise<TestDirectory> {
  const created = await t.request
    .post('/admin/v1/directories')
    .set('Authorization', bearer(TOKENS.admin))
    .send({
      slug,
      name: options.name ?? `Directory ${slug}`,
      ...(options.settings ? { settings: options.settings } : {}),
    });
  if (created.status !== 201) throw new Error(`creating directory ${slug}: ${created.status} ${created.text}`);
  const id = created.body.id as string;
  const adminBase = `/admin/v1/directories/${id}`;
  const minted = await t.request
    .post(`${adminBase}/tokens`)
    .set('Authorization', bearer(TOKENS.admin))
    .send({ name: `${slug}-idp`, kind: 'scim', source: options.source ?? 'manual' });
  if (minted.status !== 201) throw new Error(`minting a token in ${slug}: ${minted.status} ${minted.text}`);
  const scimBase = `/directories/${slug}/scim/v2`;
  return {
    id,
    slug,
    scimBase,
    scimToken: minted.body.token,
    scim: (token = minted.body.token) => agent(t.request, scimBase, token, 'application/scim+json'),
    admin: (token = TOKENS.admin) => agent(t.request, adminBase, token, 'application/json'),
  };
}
