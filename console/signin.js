import { api } from './api.js';
import { field, h, report } from './dom.js';

/** Sign-in with an admin token; the token is sent once and kept nowhere in the page. */
export function signInPage(onSignedIn, notice) {
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const [tokenField] = field('Admin token', input, 'The admin token of Roster (auth.adminTokens).');
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  if (notice) report(result, true, notice);
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    result,
    tokenField,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value;
    input.value = '';
    try {
      const session = await api('POST', '/console/session', { token });
      onSignedIn(session);
    } catch (err) {
      report(result, false, err.message);
      input.focus();
    }
  });
  queueMicrotask(() => input.focus());
  return form;
}
