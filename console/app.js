import { api, setSession, whenSignedOut } from './api.js';
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
let session = null;

/** Which page a hash names: #/users, #/users/<id>, #/import, #/events, #/settings. */
function route(hash) {
  const [, name = 'users', id] = /^#\/([a-z]+)(?:\/([^/?]+))?/.exec(hash) ?? [];
  if (name === 'users' && id) return () => userPage(decodeURIComponent(id));
  const page = { users: usersPage, import: importPage, events: eventsPage, settings: settingsPage }[name] ?? usersPage;
  return () => page(id ? decodeURIComponent(id) : undefined);
}

function showSignedIn(value) {
  session = value;
  setSession(value);
  nav.hidden = !value;
  signOutButton.hidden = !value;
  who.textContent = value ? `Signed in as ${value.name}` : '';
}

async function render() {
  if (!location.hash.startsWith('#/') && location.hash !== '') return; // e.g. the skip link
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
    if (session) main.replaceChildren(content); // else the session ended meanwhile: sign-in shows
  } catch (err) {
    if (!session) return;
    main.replaceChildren(
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'result error', role: 'alert' }, err.message),
    );
  }
}

function onSignedIn(value) {
  showSignedIn(value);
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
    main.replaceChildren(signInPage(onSignedIn, 'You are signed out.'));
  }
});

window.addEventListener('hashchange', () => void render());

// After a reload the cookie may still hold a session: ask for it (and its CSRF token).
try {
  showSignedIn(await api('GET', '/console/session'));
} catch {
  showSignedIn(null);
}
void render();
