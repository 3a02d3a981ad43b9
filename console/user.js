import { get } from './api.js';
import { h, table, time } from './dom.js';
import { actionsSection } from './userActions.js';
import { ENTERPRISE, LIFECYCLE, companyEmail, lifecycleOf, stateBadge } from './userView.js';

const EMAIL_TYPES = ['user_activation_email', 'user_welcome_email', 'user_password_reset_email', 'user_reminder_email'];
const EMAIL_KINDS = {
  user_activation_email: 'Activation',
  user_welcome_email: 'Welcome',
  user_password_reset_email: 'Password reset',
  user_reminder_email: 'Reminder',
};

function facts(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows
      .filter(([, value]) => value !== undefined)
      .flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value ?? '—')]),
  );
}

function emailRow(event) {
  const error = event.details?.error;
  return h(
    'tr',
    {},
    h('td', {}, EMAIL_KINDS[event.type] ?? event.type),
    h('td', {}, event.recipientEmail ?? '—'),
    h('td', {}, time(event.timestamp)),
    h(
      'td',
      {},
      event.success
        ? h('span', { class: 'badge active' }, 'Delivered')
        : h('span', { class: 'badge suspended' }, 'Failed'),
      error ? ` ${error}` : '',
    ),
  );
}

export function changesText(event) {
  const parts = (event.changes ?? []).map(
    (c) => `${c.field}: ${JSON.stringify(c.from ?? null)} → ${JSON.stringify(c.to ?? null)}`,
  );
  if (event.recipientEmail) parts.push(`to ${event.recipientEmail}`);
  if (event.success === false) parts.push('failed');
  return parts.join('; ');
}

function eventRow(event) {
  return h(
    'tr',
    {},
    h('td', {}, time(event.timestamp)),
    h('td', {}, event.type),
    h('td', {}, `${event.initiatedBy?.type ?? ''}: ${event.initiatedBy?.name ?? ''}`),
    h('td', {}, changesText(event)),
  );
}

/** One user: profile, lifecycle, groups, emails sent, events, and the actions on them. */
export async function userPage(id, flash) {
  const path = encodeURIComponent(id);
  const [user, schedules, emails, events] = await Promise.all([
    get(`/users/${path}`),
    get(`/schedules?userId=${path}`),
    get(`/events?userId=${path}&type=${EMAIL_TYPES.join(',')}&limit=50`),
    get(`/events?userId=${path}&limit=50`),
  ]);
  const lc = lifecycleOf(user);
  const enterprise = user[ENTERPRISE] ?? {};
  const reload = async (message) => {
    document.getElementById('main').replaceChildren(await userPage(id, message));
    document.getElementById('action-result')?.focus();
  };
  const name = [user.name?.givenName, user.name?.middleName, user.name?.familyName].filter(Boolean).join(' ');

  return h(
    'section',
    { 'aria-labelledby': 'user-title' },
    h('p', {}, h('a', { href: '#/users' }, '← Users')),
    h('h1', { id: 'user-title' }, user.userName, ' ', stateBadge(lc.state)),
    actionsSection(user, schedules.schedules, reload, flash),
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'lifecycle-title' },
        h('h2', { id: 'lifecycle-title' }, 'Lifecycle'),
        facts([
          ['State', lc.state],
          ['Password status', lc.passwordStatus],
          ['Alternate email', lc.alternateEmail ?? '—'],
          ['Scheduled activation', time(lc.scheduledActivation)],
          ['Scheduled suspension', time(lc.scheduledSuspension)],
          ['Locked out', lc.locked ? 'Yes' : 'No'],
          ['Activated', time(lc.activatedAt)],
          ['Last login', time(lc.lastLogin)],
          ['Source', lc.source],
          ['Password managed by', lc.passwordAuthority],
        ]),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'profile-title' },
        h('h2', { id: 'profile-title' }, 'Profile'),
        facts([
          ['Name', name || '—'],
          ['Display name', user.displayName ?? '—'],
          ['Company email', companyEmail(user) ?? '—'],
          [
            'Other emails',
            (user.emails ?? [])
              .map((e) => e.value)
              .filter((v) => v !== companyEmail(user))
              .join(', ') || '—',
          ],
          ['Title', user.title ?? '—'],
          ['Department', enterprise.department ?? '—'],
          ['Employee number', enterprise.employeeNumber ?? '—'],
          ['External id', user.externalId ?? '—'],
          ['Created', time(user.meta?.created)],
          ['Last changed', time(user.meta?.lastModified)],
          ['Id', user.id],
        ]),
        h(
          'details',
          {},
          h('summary', {}, 'SCIM resource'),
          h('pre', { class: 'json' }, JSON.stringify({ ...user, [LIFECYCLE]: lc }, null, 2)),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'groups-title' },
      h('h2', { id: 'groups-title' }, 'Groups'),
      (user.groups ?? []).length
        ? h(
            'ul',
            {},
            user.groups.map((g) =>
              h('li', {}, g.display ?? g.value, g.type === 'indirect' ? ' (through another group)' : ''),
            ),
          )
        : h('p', {}, 'No groups.'),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'emails-title' },
      h('h2', { id: 'emails-title' }, 'Emails sent'),
      emails.events.length
        ? table('Emails sent to this user', ['Kind', 'Recipient', 'Time', 'Outcome'], emails.events.map(emailRow))
        : h('p', {}, 'No emails yet.'),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title' }, 'Events'),
      h('p', {}, h('a', { href: `#/events/${path}` }, 'All events of this user')),
      table('Events of this user', ['Time', 'Type', 'By', 'Details'], events.events.map(eventRow)),
    ),
  );
}
