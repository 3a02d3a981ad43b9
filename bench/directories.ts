/**
 * Helpers of the directories scenarios of `npm run bench` (README "Directories"): directories and
 * their SCIM tokens made through a running Roster's admin API, requests against a directory's SCIM
 * base (`/directories/<slug>/scim/v2`), and the mixed Okta-like / Entra-like provisioning task,
 * shared by the mixed scenario (the default directory) and the noisy-neighbour one (directory B).
 */
import { call } from './load.js';
import { userName, type SeededUsers } from './seed.js';

export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** A directory made through the admin API, with a SCIM token of its own. */
export interface BenchDirectory {
  id: string;
  slug: string;
  /** `<roster>/directories/<slug>/scim/v2` */
  scimBase: string;
  token: string;
}

/** One admin API request (JSON, not SCIM's media type); throws unless the status is `expect`. */
async function admin(url: string, adminToken: string, body: unknown, expect: number): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/**
 * A stored SCIM token (`manual`) of a directory (`under`: `/directories/{id}`) or of the default one
 * (`''`). A stored token costs Roster a lookup per request that a token of its configuration does
 * not, so sides compared with each other use the same kind.
 */
export async function mintToken(rosterUrl: string, adminToken: string, under = ''): Promise<string> {
  const minted = (await admin(
    `${rosterUrl}/admin/v1${under}/tokens`,
    adminToken,
    { name: 'bench', kind: 'scim', source: 'manual' },
    201,
  )) as { token: string };
  return minted.token;
}

/** POST /admin/v1/directories, then (unless `withToken` is false) POST …/{id}/tokens. */
export async function createDirectory(
  rosterUrl: string,
  adminToken: string,
  slug: string,
  withToken = true,
): Promise<BenchDirectory> {
  const created = (await admin(
    `${rosterUrl}/admin/v1/directories`,
    adminToken,
    { slug, name: `Bench ${slug}` },
    201,
  )) as { id: string; slug: string };
  const token = withToken ? await mintToken(rosterUrl, adminToken, `/directories/${created.id}`) : '';
  return { id: created.id, slug: created.slug, scimBase: `${rosterUrl}/directories/${created.slug}/scim/v2`, token };
}

/** What one side of a directories comparison serves: a SCIM base, its token, its seeded users. */
export interface Side {
  label: string;
  scimBase: () => string;
  token: string;
  seeded: SeededUsers & { groupId: string };
  /** Seeded users to look up (index into seeded.ids); all of them in one group. */
  lookup: number[];
  /** Users outside the group, added one per PATCH (taken from the end). */
  spare: string[];
}

/** `GET /Users?filter=userName eq "…"` for a random looked-up user; exactly one result. */
export const filterRequest = (side: Side) => async (_i: number, timeoutMs: number) => {
  const i = side.lookup[Math.floor(Math.random() * side.lookup.length)];
  const filter = encodeURIComponent(`userName eq "${userName(side.seeded.prefix, i)}"`);
  const body = (await call('GET', `${side.scimBase()}/Users?filter=${filter}`, { token: side.token, timeoutMs })) as {
    totalResults: number;
  };
  if (body.totalResults !== 1) throw new Error(`expected 1 result, got ${body.totalResults}`);
};

/** `GET /Users/{id}` (groups filled) for a random looked-up user. */
export const byIdRequest = (side: Side) => async (_i: number, timeoutMs: number) => {
  const i = side.lookup[Math.floor(Math.random() * side.lookup.length)];
  const body = (await call('GET', `${side.scimBase()}/Users/${side.seeded.ids[i]}`, {
    token: side.token,
    timeoutMs,
  })) as { groups?: unknown[] };
  if (!body.groups?.length) throw new Error('expected the user with its groups');
};

/** PATCH add one member (a spare user) to the side's group of 1,000. */
export const addRequest = (side: Side) => async (_i: number, timeoutMs: number) => {
  const member = side.spare.pop();
  if (!member) throw new Error('no spare user left');
  await call('PATCH', `${side.scimBase()}/Groups/${side.seeded.groupId}`, {
    token: side.token,
    timeoutMs,
    expect: [200, 204],
    body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: member }] }] },
  });
};

/** Ten groups ("Department 0" … "Department 9") the mixed task adds its users to. */
export async function createDepartments(scimBase: string, token: string): Promise<string[]> {
  const groupIds: string[] = [];
  for (let g = 0; g < 10; g++) {
    const body = (await call('POST', `${scimBase}/Groups`, {
      token,
      body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `Department ${g}` },
    })) as { id: string };
    groupIds.push(body.id);
  }
  return groupIds;
}

/**
 * One user provisioned as Okta (even i: filter with startIndex/count, POST, PATCH the group, GET)
 * or Entra (odd i: filter with '+', POST with the enterprise extension, PATCH a title, PATCH the
 * group) does it: 4 requests a user. `tag` keeps the userNames of one run apart from another's.
 */
export function mixedTask(scimBase: string, token: string, groupIds: string[], tag: string) {
  return async (i: number) => {
    const name = `mixed.${tag}.${i}@example.com`;
    const okta = i % 2 === 0;
    const filter = encodeURIComponent(`userName eq "${name}"`);
    const check = okta
      ? `/Users?filter=${filter}&startIndex=1&count=100`
      : `/Users?filter=${filter.replace(/%20/g, '+')}`;
    const found = (await call('GET', `${scimBase}${check}`, { token })) as { totalResults: number };
    if (found.totalResults !== 0) throw new Error(`${name} exists already`);
    const group = groupIds[i % groupIds.length];
    if (okta) {
      const user = (await call('POST', `${scimBase}/Users`, {
        token,
        expect: [201],
        body: {
          schemas: [USER_SCHEMA],
          userName: name,
          name: { givenName: 'Okta', familyName: `User${i}` },
          emails: [{ primary: true, value: name, type: 'work' }],
          displayName: `Okta User${i}`,
          locale: 'en-US',
          externalId: `00u${i}`,
          groups: [],
          active: true,
        },
      })) as { id: string };
      await call('PATCH', `${scimBase}/Groups/${group}`, {
        token,
        expect: [200, 204],
        body: {
          schemas: [PATCH_OP],
          Operations: [{ op: 'add', path: 'members', value: [{ value: user.id, display: name }] }],
        },
      });
      await call('GET', `${scimBase}/Users/${user.id}`, { token });
    } else {
      const user = (await call('POST', `${scimBase}/Users`, {
        token,
        expect: [201],
        body: {
          schemas: [USER_SCHEMA, ENTERPRISE],
          externalId: `entra-${i}`,
          userName: name,
          active: true,
          displayName: `Entra User${i}`,
          emails: [{ primary: true, type: 'work', value: name }],
          meta: { resourceType: 'User' },
          name: { formatted: `Entra User${i}`, familyName: `User${i}`, givenName: 'Entra' },
          title: 'Analyst',
          [ENTERPRISE]: { employeeNumber: String(i), department: `Department ${i % 10}` },
        },
      })) as { id: string };
      await call('PATCH', `${scimBase}/Users/${user.id}`, {
        token,
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'title', value: 'Senior Analyst' }] },
      });
      await call('PATCH', `${scimBase}/Groups/${group}`, {
        token,
        expect: [200, 204],
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: user.id }] }] },
      });
    }
  };
}
