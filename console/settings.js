import { get } from './api.js';
import { h, table, time } from './dom.js';

/** The effective configuration (secrets redacted by the API), default states, last reload. */
export async function settingsPage() {
  const [settings, { lastReload }] = await Promise.all([get('/settings'), get('/settings/reload')]);
  const states = settings.users?.defaultState ?? {};
  const reload = lastReload
    ? `${lastReload.ok ? 'Applied' : 'Refused'} at ${time(lastReload.at)}${lastReload.error ? `: ${lastReload.error}` : ''}${
        lastReload.restartNeeded?.length ? `. Needs a restart: ${lastReload.restartNeeded.join(', ')}` : ''
      }`
    : 'No reload since this instance started.';
  return h(
    'section',
    { 'aria-labelledby': 'settings-title' },
    h('h1', { id: 'settings-title' }, 'Settings'),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'states-title' },
      h('h2', { id: 'states-title' }, 'Default state of new users'),
      table(
        'Default state per source',
        ['Source', 'State'],
        Object.entries(states).map(([source, state]) => h('tr', {}, h('td', {}, source), h('td', {}, state))),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'reload-title' },
      h('h2', { id: 'reload-title' }, 'Configuration reload'),
      h('p', { id: 'reload-status' }, reload),
      h('p', {}, 'Send SIGHUP to Roster to reload its configuration file.'),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'config-title' },
      h('h2', { id: 'config-title' }, 'Effective configuration'),
      h('pre', { class: 'json', tabindex: '0' }, JSON.stringify(settings, null, 2)),
    ),
  );
}
