/** Small DOM helpers: every value goes in as text or an attribute, never as HTML. */

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** A time in the viewer's locale, with the zone; '—' when absent. */
export function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, { timeZoneName: 'short' });
}

let fieldCount = 0;
/** A labelled form control; returns [wrapper, control]. */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return [h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl), control];
}

export function select(options, value) {
  return h(
    'select',
    {},
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );
}

/** A table that scrolls sideways on narrow screens instead of the page. */
export function table(caption, headers, rows) {
  return h(
    'div',
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((text) => h('th', { scope: 'col' }, text)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/**
 * Asks before an action, in a modal <dialog> (keyboard: Tab between the buttons, Escape cancels).
 * Resolves true when confirmed.
 */
export function confirmAction(question, confirmLabel = 'Confirm') {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'submit', value: 'yes' }, confirmLabel);
    const no = h('button', { type: 'submit', value: 'no', class: 'secondary' }, 'Cancel');
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'confirm-question' },
      h(
        'form',
        { method: 'dialog' },
        h('p', { id: 'confirm-question' }, question),
        h('div', { class: 'row' }, yes, no),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'yes');
    });
    document.body.append(dialog);
    dialog.showModal();
    yes.focus();
  });
}

/** Shows an outcome in a live region: screen readers announce it. */
export function report(region, ok, message) {
  region.className = ok ? 'result ok' : 'result error';
  region.textContent = message;
}
