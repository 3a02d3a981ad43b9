/**
 * A provisioning run as Okta and Entra send it (see test/idp for the request shapes), authenticated
 * with OAuth access tokens from POST /oauth/token instead of a static token: Okta's client with
 * client_secret_basic, Entra's with client_secret_post, each fetching a new token when one expires.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { POLICY_PASSWORD, entraCreateBody, filterQuery, memberIds, unique } from '../helpers/idp.js';
import { useTestRoster } from '../helpers/roster.js';
import { URN, patchOp, type Json } from '../helpers/scim.js';
import { expectList, expectNoContent, expectResource } from '../helpers/scimResponses.js';
import { registerClient, tokenRequest, type RegisteredClient } from './oauthHelpers.js';

let clock = new Date('2026-06-01T07:00:00Z');
const t = useTestRoster({ oauth: { accessTokenTtlSeconds: 600 } }, { now: () => clock });

/** An IdP's OAuth session: a token fetched on first use and again after a 401 invalid_token. */
function oauthSession(client: RegisteredClient, method: 'basic' | 'post') {
  let token: string | undefined;
  const fetchToken = async () => {
    const res =
      method === 'basic'
        ? await tokenRequest(
            t,
            { grant_type: 'client_credentials' },
            { id: client.client_id, secret: client.client_secret! },
          )
        : await tokenRequest(t, {
            grant_type: 'client_credentials',
            client_id: client.client_id,
            client_secret: client.client_secret!,
          });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.access_token as string;
  };
  return {
    fetches: 0,
    async scim() {
      if (!token) {
        token = await fetchToken();
        this.fetches++;
      }
      return t.scim(token);
    },
    forget() {
      token = undefined;
    },
  };
}

const LIFECYCLE = URN.lifecycle;

describe('Okta provisioning with client_secret_basic', () => {
  it('checks, creates, imports, updates, pushes a group and deactivates', async () => {
    const client = await registerClient(t, { name: 'okta-oauth', source: 'integration' });
    const okta = oauthSession(client, 'basic');
    const userName = `okta.oauth.${unique()}@example.com`;
    const exists = await (
      await okta.scim()
    ).get(`/Users?${filterQuery(`userName eq "${userName}"`, 'okta', '&startIndex=1&count=100')}`);
    expect(expectList(exists).totalResults).toBe(0);
    const created = expectResource(
      await (
        await okta.scim()
      ).post('/Users', {
        schemas: [URN.user],
        userName,
        name: { givenName: 'Okta', familyName: 'Oauth' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Okta Oauth',
        externalId: `00u${unique()}h7`,
        password: POLICY_PASSWORD,
        active: true,
      }),
      201,
    );
    expect(created[LIFECYCLE]).toMatchObject({ state: 'ACTIVE', source: 'integration' });
    const page = expectList(await (await okta.scim()).get('/Users?startIndex=1&count=100'));
    expect(page.Resources.map((u: Json) => u.id)).toContain(created.id);
    const put = expectResource(
      await (
        await okta.scim()
      ).put(`/Users/${created.id}`, { ...created, name: { givenName: 'Okta', familyName: 'Renamed' } }),
      200,
    );
    expect(put.name.familyName).toBe('Renamed');

    // The token expires (600 s); Okta is refused with invalid_token and fetches a new one.
    clock = new Date(clock.getTime() + 661_000);
    const stale = await (await okta.scim()).get(`/Users/${created.id}`);
    expect(stale.status).toBe(401);
    expect(stale.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    okta.forget();

    const group = expectResource(
      await (
        await okta.scim()
      ).post('/Groups', { schemas: [URN.group], displayName: `Okta OAuth ${unique()}`, members: [] }),
      201,
    );
    expectNoContent(
      await (
        await okta.scim()
      ).patch(
        `/Groups/${group.id}`,
        patchOp({ op: 'add', path: 'members', value: [{ value: created.id, display: userName }] }),
      ),
    );
    expect(memberIds(expectResource(await (await okta.scim()).get(`/Groups/${group.id}`), 200))).toEqual([created.id]);
    const off = expectResource(
      await (await okta.scim()).patch(`/Users/${created.id}`, patchOp({ op: 'replace', value: { active: false } })),
      200,
    );
    expect(off.active).toBe(false);
    expect(okta.fetches).toBe(2);

    const events = await t.admin().get(`/events?userId=${created.id}`).expect(200);
    expect(events.body.events.length).toBeGreaterThanOrEqual(3);
    for (const event of events.body.events)
      expect(event.initiatedBy).toMatchObject({
        type: 'scim',
        name: 'okta-oauth',
        id: expect.stringMatching(/^oauth:[0-9a-f-]{36}$/),
      });
  });
});

describe('Entra provisioning with client_secret_post', () => {
  it('tests the connection, creates, patches, groups, disables and deletes', async () => {
    const client = await registerClient(t, { name: 'entra-oauth', source: 'integration' });
    const entra = oauthSession(client, 'post');
    const probe = await (await entra.scim()).get(`/Users?${filterQuery(`userName eq "${randomUUID()}"`, 'entra')}`);
    expect(expectList(probe).totalResults).toBe(0);
    const tag = unique();
    const user = expectResource(await (await entra.scim()).post('/Users', entraCreateBody(tag)), 201);
    expect(user[LIFECYCLE].state).toBe('ACTIVE');
    const patched = expectResource(
      await (
        await entra.scim()
      ).patch(
        `/Users/${user.id}`,
        patchOp(
          { op: 'Replace', path: 'emails[type eq "work"].value', value: `updated_${tag}@testuser.com` },
          { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        ),
      ),
      200,
    );
    expect(patched.name.familyName).toBe('updatedFamilyName');
    const group = expectResource(
      await (
        await entra.scim()
      ).post('/Groups', {
        schemas: [URN.group],
        externalId: randomUUID(),
        displayName: `Entra OAuth ${tag}`,
        meta: { resourceType: 'Group' },
      }),
      201,
    );
    expectNoContent(
      await (
        await entra.scim()
      ).patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }] })),
    );
    expectNoContent(
      await (
        await entra.scim()
      ).patch(
        `/Groups/${group.id}`,
        patchOp({ op: 'Remove', path: 'members', value: [{ $ref: null, value: user.id }] }),
      ),
    );
    const disabled = expectResource(
      await (await entra.scim()).patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })),
      200,
    );
    expect(disabled.active).toBe(false);
    expect((await (await entra.scim()).delete(`/Users/${user.id}`)).status).toBe(204);
    expect((await (await entra.scim()).get(`/Users/${user.id}`)).status).toBe(404);
    expect(entra.fetches).toBe(1);
    const issued = await t.admin().get(`/events?type=oauth_token_issued&userId=${client.client_id}`).expect(200);
    expect(issued.body.events[0].details).toMatchObject({
      method: 'client_secret_post',
      scopes: ['scim:read', 'scim:write'],
    });
  });
});
