import { currentDirectory, get } from './api.js';
import { field, h, report, select, table } from './dom.js';
import { companyEmail, lifecycleOf, stateBadge } from './userView.js';

/** What the list shows; kept across visits so "back to users" returns to the same search. */
const search = {
  q: '',
  state: '',
  passwordStatus: '',
  locked: false,
  activationPending: false,
  sort: 'userName',
  order: 'ascending',
  cursors: [''],
  /** The directory the cursors belong to. */
  directory: null,
};

const COUNT_LABELS = [
  ['STAGED', 'Staged', { state: 'STAGED' }],
  ['ACTIVE', 'Active', { state: 'ACTIVE' }],
  ['SUSPENDED', 'Suspended', { state: 'SUSPENDED' }],
  ['locked', 'Locked out', { locked: true }],
  ['activationPending', 'Activation pending', { activationPending: true }],
];

function query() {
  const params = new URLSearchParams({ sort: search.sort, order: search.order, count: '25' });
  if (search.q) params.set('q', search.q);
  if (search.state) params.set('state', search.state);
  if (search.passwordStatus) params.set('passwordStatus', search.passwordStatus);
  if (search.locked) params.set('locked', 'true');
  if (search.activationPending) params.set('activationPending', 'true');
  const cursor = search.cursors[search.cursors.length - 1];
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

function userRow(user) {
  const lc = lifecycleOf(user);
  const name = [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ');
  return h(
    'tr',
    {},
    h('td', {}, h('a', { href: `#/users/${encodeURIComponent(user.id)}` }, user.userName)),
    h('td', {}, name || '—'),
    h('td', {}, companyEmail(user) ?? '—'),
    h('td', {}, lc.alternateEmail ?? '—'),
    h('td', {}, stateBadge(lc.state)),
    h('td', {}, lc.passwordStatus ?? '—'),
    h('td', {}, lc.locked ? 'Locked' : ''),
  );
}

export async function usersPage() {
  const directory = currentDirectory()?.id ?? null;
  if (search.directory !== directory) {
    search.directory = directory;
    search.cursors = [''];
  }
  const counts = h('ul', { class: 'counts', 'aria-label': 'Users by state' });
  const results = h('div', { 'aria-live': 'polite' });
  const message = h('p', { class: 'result', role: 'status' });
  const q = h('input', {
    type: 'search',
    value: search.q,
    autocomplete: 'off',
    placeholder: 'Name, username or email',
  });
  const state = select(
    [
      ['', 'Any state'],
      ['STAGED', 'Staged'],
      ['ACTIVE', 'Active'],
      ['SUSPENDED', 'Suspended'],
    ],
    search.state,
  );
  const password = select(
    [
      ['', 'Any password status'],
      ['PENDING', 'Pending'],
      ['ACTIVE', 'Active'],
      ['EXPIRED', 'Expired'],
    ],
    search.passwordStatus,
  );
  const locked = h('input', { type: 'checkbox', checked: search.locked });
  const pending = h('input', { type: 'checkbox', checked: search.activationPending });
  const sort = select(
    [
      ['userName', 'Username'],
      ['familyName', 'Last name'],
      ['created', 'Created'],
      ['lastModified', 'Last changed'],
      ['lastLogin', 'Last login'],
    ],
    search.sort,
  );
  const order = select(
    [
      ['ascending', 'Ascending'],
      ['descending', 'Descending'],
    ],
    search.order,
  );
  const previous = h('button', { type: 'button', class: 'secondary' }, 'Previous page');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next page');
  let sequence = 0;
  let nextCursor = null;

  async function load() {
    const mine = ++sequence;
    try {
      const page = await get(`/users?${query()}`);
      if (mine !== sequence) return; // a newer search answered first
      nextCursor = page.nextCursor;
      previous.disabled = search.cursors.length <= 1;
      next.disabled = !nextCursor;
      const shown = page.users.length;
      report(
        message,
        true,
        `${page.totalResults} ${page.totalResults === 1 ? 'user' : 'users'}${shown < page.totalResults ? `, page ${search.cursors.length}` : ''}`,
      );
      results.replaceChildren(
        table(
          'Users',
          ['Username', 'Name', 'Email', 'Alternate email', 'State', 'Password', 'Lockout'],
          page.users.map(userRow),
        ),
      );
    } catch (err) {
      if (mine === sequence) report(message, false, err.message);
    }
  }

  function restart() {
    search.q = q.value.trim();
    search.state = state.value;
    search.passwordStatus = password.value;
    search.locked = locked.checked;
    search.activationPending = pending.checked;
    search.sort = sort.value;
    search.order = order.value;
    search.cursors = [''];
    void load();
  }

  let typing;
  q.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(restart, 200);
  });
  for (const control of [state, password, locked, pending, sort, order]) control.addEventListener('change', restart);
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    search.cursors.push(nextCursor);
    void load();
  });
  previous.addEventListener('click', () => {
    if (search.cursors.length > 1) search.cursors.pop();
    void load();
  });

  get('/users/counts').then(
    (numbers) =>
      counts.replaceChildren(
        ...COUNT_LABELS.map(([key, label, filter]) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'count',
                onclick: () => {
                  state.value = filter.state ?? '';
                  password.value = '';
                  locked.checked = Boolean(filter.locked);
                  pending.checked = Boolean(filter.activationPending);
                  restart();
                },
              },
              h('span', { class: 'number' }, String(numbers[key])),
              h('span', {}, label),
            ),
          ),
        ),
      ),
    (err) => counts.replaceChildren(h('li', { class: 'result error' }, err.message)),
  );
  void load();

  return h(
    'section',
    { 'aria-labelledby': 'users-title' },
    h('h1', { id: 'users-title' }, 'Users'),
    counts,
    h(
      'form',
      { class: 'filters', role: 'search', onsubmit: (e) => (e.preventDefault(), restart()) },
      field('Search', q)[0],
      field('State', state)[0],
      field('Password status', password)[0],
      h(
        'div',
        { class: 'field checks' },
        h('label', {}, locked, ' Locked out'),
        h('label', {}, pending, ' Activation pending'),
      ),
      field('Sort by', sort)[0],
      field('Order', order)[0],
    ),
    message,
    results,
    h('div', { class: 'row' }, previous, next),
  );
}
