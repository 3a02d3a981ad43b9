import { api, chooseDirectory, currentDirectory, setSession, whenSignedOut } from './api.js';
import { directoriesPage, isCurrent, listDirectories } from './directories.js';
import { h } from './dom.js';
import { eventsPage } from './events.js';
import { importPage } from './import.js';
import { settingsPage } from './settings.js';
import { signInPage } from './signin.js';
import { userPage } from './user.js';
import { usersPage } from './users.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOutButton = document.getElementById('sign-out');
const directorySwitch = document.getElementById('directory-switch');
const directorySelect = document.getElementById('directory');
let session = null;
/** The directories last listed, by id (for the selector). */
let directories = new Map();

/** Which page a hash names: #/users, #/users/<id>, #/import, #/events, #/settings, #/directories. */
function route(hash) {
  const [, name = 'users', id] = /^#\/([a-z]+)(?:\/([^/?]+))?/.exec(hash) ?? [];
  if (name === 'users' && id) return () => userPage(decodeURIComponent(id));
  if (name === 'directories') return () => directoriesPage(workIn, showDirectories);
  const page = { users: usersPage, import: importPage, events: eventsPage, settings: settingsPage }[name] ?? usersPage;
  return () => page(id ? decodeURIComponent(id) : undefined);
}

function showSignedIn(value) {
  session = value;
  setSession(value);
  nav.hidden = !value;
  signOutButton.hidden = !value;
  who.textContent = value ? `Signed in as ${value.name}` : '';
  if (!value) directorySwitch.hidden = true;
}

/**
 * Fills the header's selector with the directories that can be worked in (not deleted). A chosen
 * directory that is no longer there falls back to the default one (and the page is shown again).
 */
function showDirectories(list) {
  directories = new Map(list.map((d) => [d.id, d]));
  const usable = list.filter((d) => d.status !== 'deleted');
  const chosen = currentDirectory();
  const stale = chosen && !usable.some((d) => d.id === chosen.id);
  if (stale) chooseDirectory(null);
  directorySelect.replaceChildren(
    ...usable.map((d) =>
      h(
        'option',
        { value: d.id, selected: isCurrent(d) },
        `${d.slug}${d.status === 'suspended' ? ' (suspended)' : ''}`,
      ),
    ),
  );
  directorySwitch.hidden = usable.length < 1;
  return stale;
}

async function loadDirectories() {
  try {
    if (showDirectories(await listDirectories())) void render();
  } catch {
    directorySwitch.hidden = true; // not an operator's session: the default directory only
  }
}

/** Works in another directory: the current page again, or the users list after a user's page. */
function switchDirectory(directory) {
  chooseDirectory(directory);
  for (const option of directorySelect.options) option.selected = option.value === directory.id;
  if (/^#\/users\/./.test(location.hash)) location.hash = '#/users';
  else void render();
}

/** The directories page's "Work in it": that directory's users. */
function workIn(directory) {
  chooseDirectory(directory);
  for (const option of directorySelect.options) option.selected = option.value === directory.id;
  if (location.hash === '#/users') void render();
  else location.hash = '#/users';
}

directorySelect.addEventListener('change', () => {
  const directory = directories.get(directorySelect.value);
  if (directory) switchDirectory(directory);
});

/** Counts renders: a page that answers after a newer render (another directory, say) is dropped. */
let renders = 0;

async function render() {
  if (!location.hash.startsWith('#/') && location.hash !== '') return; // e.g. the skip link
  const mine = ++renders;
  if (!session) {
    main.replaceChildren(signInPage(onSignedIn));
    return;
  }
  for (const link of nav.querySelectorAll('a')) {
    const current = location.hash.startsWith(link.getAttribute('href'));
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const page = route(location.hash);
  try {
    const content = await page();
    if (mine !== renders) return;
    if (session) main.replaceChildren(content); // else the session ended meanwhile: sign-in shows
  } catch (err) {
    if (!session || mine !== renders) return;
    main.replaceChildren(
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'result error', role: 'alert' }, err.message),
    );
  }
}

function onSignedIn(value) {
  showSignedIn(value);
  void loadDirectories();
  if (!location.hash.startsWith('#/')) location.hash = '#/users';
  else void render();
}

whenSignedOut((message) => {
  if (!session) return; // several calls failed at once: show the sign-in page once
  showSignedIn(null);
  main.replaceChildren(signInPage(onSignedIn, message));
});

signOutButton.addEventListener('click', async () => {
  try {
    await api('DELETE', '/console/session');
  } finally {
    showSignedIn(null);
    chooseDirectory(null); // the next sign-in in this tab starts in the default directory
    main.replaceChildren(signInPage(onSignedIn, 'You are signed out.'));
  }
});

window.addEventListener('hashchange', () => void render());

// After a reload the cookie may still hold a session: ask for it (and its CSRF token).
try {
  showSignedIn(await api('GET', '/console/session'));
  void loadDirectories();
} catch {
  showSignedIn(null);
}
void render();
