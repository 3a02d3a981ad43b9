import { describe, expect, it } from 'vitest';
import { createTestDirectory } from '../helpers/directories.js';
import { TOKENS, useMailRoster } from '../helpers/roster.js';
import { LIFECYCLE, USER } from '../helpers/scim.js';
import { onlyMailTo } from '../lifecycle/lifecycleHelpers.js';

/** A directory's own email templates (README "Directories"): checked before they are saved, used for its users only. */
const { t, sink } = useMailRoster({ mail: { orgName: 'Roster Test' } });

const activationFor = (userName: string, alternate: string) => ({
  schemas: [USER, LIFECYCLE],
  userName,
  emails: [{ value: userName, type: 'work', primary: true }],
  [LIFECYCLE]: { alternateEmail: alternate },
});

const OWN = {
  subject: 'Join #{org_name} at Acme',
  text: 'Hello #{first_name}, start here: #{activation_link}\n',
  html: '<p>Hello #{first_name}, <a href="#{activation_link}">start here</a></p>',
};

describe("a directory's own templates", () => {
  it('are refused when they do not parse, naming the template and part', async () => {
    const acme = await createTestDirectory(t, 'acme-bad-templates');
    const res = await acme.admin().put('/settings', {
      templates: { activation: { ...OWN, subject: 'Hello #{nobody}' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_settings');
    expect(res.body.error.message).toContain('templates.activation.subject');
    expect(res.body.error.message).toContain('#{nobody}');
    const unclosed = await acme
      .admin()
      .patch('/settings', { templates: { welcome: { ...OWN, html: '#{if:first_name}x' } } });
    expect(unclosed.status).toBe(400);
    expect(unclosed.body.error.message).toContain('templates.welcome.html');
    const missingPart = await acme.admin().patch('/settings', { templates: { welcome: { subject: 's', text: 't' } } });
    expect(missingPart.status).toBe(400);
  });

  it("are used for the directory's users, without a restart, and nowhere else", async () => {
    const acme = await createTestDirectory(t, 'acme-templates', { source: 'integration' });
    const saved = await acme
      .admin()
      .patch('/settings', { mail: { orgName: 'Acme Inc' }, templates: { activation: OWN } });
    expect(saved.status, saved.text).toBe(200);
    const created = await acme.scim().post('/Users', activationFor('ann@acme.example', 'ann@home.example'));
    expect(created.status, created.text).toBe(201);
    const mail = await onlyMailTo(sink, 'ann@home.example');
    expect(mail.subject).toBe('Join Acme Inc at Acme');
    expect(mail.text).toMatch(
      /^Hello , start here: http:\/\/roster\.test\/directories\/acme-templates\/activate\?token=/,
    );
    // The default directory keeps the template files and the file's organisation name.
    const other = await t
      .scim(TOKENS.integration)
      .post('/Users', activationFor('bob@default.example', 'bob@home.example'));
    expect(other.status).toBe(201);
    const theirs = await onlyMailTo(sink, 'bob@home.example');
    expect(theirs.subject).toBe('Activate your Roster Test account');
    // Removing the directory's template (merge patch null) brings the file's back.
    expect((await acme.admin().patch('/settings', { templates: { activation: null } })).status).toBe(200);
    await acme.scim().post('/Users', activationFor('cy@acme.example', 'cy@home.example'));
    expect((await onlyMailTo(sink, 'cy@home.example')).subject).toBe('Activate your Acme Inc account');
  });
});
