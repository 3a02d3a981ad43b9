import { get } from './api.js';
import { field, h, report, select, table, time } from './dom.js';
import { changesText } from './user.js';

const REFRESH_MS = 5000;

function eventRow(event) {
  const resource = event.resource;
  const subject =
    resource?.type === 'User'
      ? h('a', { href: `#/users/${encodeURIComponent(resource.id)}` }, resource.username || resource.id)
      : resource
        ? `${resource.type} ${resource.username ?? resource.id}`
        : '—';
  return h(
    'tr',
    {},
    h('td', {}, time(event.timestamp)),
    h('td', {}, event.type),
    h('td', {}, subject),
    h('td', {}, `${event.initiatedBy?.type}: ${event.initiatedBy?.name}`),
    h('td', {}, changesText(event)),
  );
}

const localInput = () => h('input', { type: 'datetime-local' });

/** The event log, newest first: filters, cursor pages, and an auto-refresh of the first page. */
export async function eventsPage(userId) {
  const { types } = await get('/events/types');
  const type = select([['', 'Any type'], ...types.map((t) => [t, t])], '');
  const actor = h('input', { type: 'text', autocomplete: 'off' });
  const user = h('input', { type: 'text', autocomplete: 'off', value: userId ?? '' });
  const since = localInput();
  const until = localInput();
  const auto = h('input', { type: 'checkbox' });
  const status = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const results = h('div', {});
  const newest = h('button', { type: 'button', class: 'secondary' }, 'Newest');
  const older = h('button', { type: 'button', class: 'secondary' }, 'Older');
  let cursors = [''];
  let nextCursor = null;
  let timer;

  function query() {
    const params = new URLSearchParams({ limit: '50' });
    if (type.value) params.set('type', type.value);
    if (actor.value.trim()) params.set('actor', actor.value.trim());
    if (user.value.trim()) params.set('userId', user.value.trim());
    if (since.value) params.set('since', new Date(since.value).toISOString());
    if (until.value) params.set('until', new Date(until.value).toISOString());
    const cursor = cursors[cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    return params;
  }

  async function load() {
    try {
      const page = await get(`/events?${query()}`);
      nextCursor = page.nextCursor;
      older.disabled = !nextCursor;
      newest.disabled = cursors.length === 1;
      report(
        status,
        true,
        `${page.events.length} ${page.events.length === 1 ? 'event' : 'events'}${cursors.length > 1 ? ` (page ${cursors.length})` : ''}, updated ${new Date().toLocaleTimeString()}`,
      );
      results.replaceChildren(
        table('Event log', ['Time', 'Type', 'About', 'By', 'Details'], page.events.map(eventRow)),
      );
    } catch (err) {
      report(status, false, err.message);
    }
  }
  const restart = () => {
    cursors = [''];
    void load();
  };

  auto.addEventListener('change', () => {
    clearInterval(timer);
    if (!auto.checked) return;
    timer = setInterval(() => {
      if (!document.body.contains(results)) return clearInterval(timer); // left the page
      if (cursors.length === 1) void load();
    }, REFRESH_MS);
  });
  older.addEventListener('click', () => {
    if (nextCursor) cursors.push(nextCursor);
    void load();
  });
  newest.addEventListener('click', restart);
  void load();

  return h(
    'section',
    { 'aria-labelledby': 'events-title' },
    h('h1', { id: 'events-title' }, 'Events'),
    h(
      'form',
      { class: 'filters', onsubmit: (e) => (e.preventDefault(), restart()) },
      field('Type', type)[0],
      field('Actor', actor, 'e.g. okta or console:admin')[0],
      field('User id', user)[0],
      field('From', since)[0],
      field('Until', until)[0],
      h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply filters')),
      h('div', { class: 'field checks' }, h('label', {}, auto, ' Refresh every 5 seconds')),
    ),
    status,
    results,
    h('div', { class: 'row' }, newest, older),
  );
}
