import { currentDirectory, get } from './api.js';
import { h, table } from './dom.js';

/** Every directory (GET /admin/v1/directories: operators only, as every console session is). */
export async function listDirectories() {
  const { directories } = await get('/directories');
  return directories ?? [];
}

/** Whether this directory is the one the console works in (the default one when none is chosen). */
export function isCurrent(directory) {
  const chosen = currentDirectory();
  return chosen ? chosen.id === directory.id : directory.id === 'default';
}

function statusBadge(status) {
  const look = { active: 'active', suspended: 'suspended', deleted: 'staged' }[status] ?? '';
  return h('span', { class: `badge ${look}` }, status);
}

/**
 * The directories page: each directory with its status, counts and SCIM base URL, and a button to
 * work in it. `onChoose(directory)` switches; `onListed(list)` hands the fresh list to the header's
 * selector.
 */
export async function directoriesPage(onChoose, onListed) {
  const directories = await listDirectories();
  onListed(directories);
  const row = (d) => {
    const current = isCurrent(d);
    let action = '';
    if (current) action = h('strong', {}, 'Current');
    else if (d.status !== 'deleted') {
      action = h('button', { type: 'button', class: 'secondary', onclick: () => onChoose(d) }, `Work in ${d.slug}`);
    }
    return h(
      'tr',
      current ? { 'aria-current': 'true', class: 'current' } : {},
      h('td', {}, d.slug),
      h('td', {}, d.name),
      h('td', {}, statusBadge(d.status)),
      h('td', { class: 'number-cell' }, d.counts ? String(d.counts.users) : '—'),
      h('td', { class: 'number-cell' }, d.counts ? String(d.counts.groups) : '—'),
      h('td', {}, d.status === 'deleted' ? '—' : h('code', {}, d.scimBaseUrl)),
      h('td', {}, action),
    );
  };
  return h(
    'section',
    { 'aria-labelledby': 'directories-title' },
    h('h1', { id: 'directories-title' }, 'Directories'),
    h(
      'p',
      {},
      'Each directory is one organization, with its own users, groups, tokens and settings. ',
      'The other pages show the directory chosen here or in the header.',
    ),
    table(
      'Directories',
      ['Slug', 'Name', 'Status', 'Users', 'Groups', 'SCIM base URL', 'Console'],
      directories.map(row),
    ),
  );
}
