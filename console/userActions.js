import { api, post } from './api.js';
import { confirmAction, field, h, report, select, time } from './dom.js';
import { lifecycleOf } from './userView.js';

const KIND_NAMES = { activation: 'Activation email', reset: 'Password reset email', welcome: 'Welcome email' };

function sentText(result) {
  if (!result?.recipient) return 'No email was sent: the user has no address for it.';
  return `${KIND_NAMES[result.kind] ?? 'Email'} queued for ${result.recipient}.`;
}

function destinationSelect(lc) {
  const options = [
    ['', 'As the rules choose'],
    ['company', 'Company email'],
  ];
  if (lc.alternateEmail) options.push(['alternate', `Alternate email (${lc.alternateEmail})`]);
  return select(options, '');
}

/**
 * The actions on one user, each confirmed first; `done(message)` reloads the page showing it. An
 * error is the API's own message, shown here.
 */
export function actionsSection(user, schedules, done, flash) {
  const lc = lifecycleOf(user);
  const id = encodeURIComponent(user.id);
  const result = h('p', {
    class: 'result',
    role: 'status',
    'aria-live': 'polite',
    tabindex: '-1',
    id: 'action-result',
  });
  if (flash) report(result, flash.ok, flash.message);

  async function run(question, confirmLabel, call, describe) {
    if (!(await confirmAction(question, confirmLabel))) return;
    try {
      const answer = await call();
      await done({ ok: true, message: describe(answer) });
    } catch (err) {
      report(result, false, err.message);
      result.focus();
    }
  }
  const button = (label, onclick, extra = {}) => h('button', { type: 'button', onclick, ...extra }, label);

  const activateDestination = destinationSelect(lc);
  const activateEmail = h('input', { type: 'checkbox', checked: true });
  const activate = h(
    'div',
    { class: 'action' },
    field('Activation email to', activateDestination)[0],
    h('label', { class: 'inline' }, activateEmail, ' Send the email'),
    button('Activate now', () =>
      run(
        `Activate ${user.userName} now?`,
        'Activate',
        () =>
          post(`/users/${id}/activate`, {
            sendEmail: activateEmail.checked,
            ...(activateDestination.value ? { destination: activateDestination.value } : {}),
          }),
        (u) => `${u.userName} is now ${lifecycleOf(u).state}.`,
      ),
    ),
  );

  const resendDestination = destinationSelect(lc);
  const resend = h(
    'div',
    { class: 'action' },
    field('Send to', resendDestination)[0],
    button('Resend activation email', () =>
      run(
        `Send ${user.userName} an activation email?`,
        'Send',
        () =>
          post(
            `/users/${id}/activation-email`,
            resendDestination.value ? { destination: resendDestination.value } : {},
          ),
        sentText,
      ),
    ),
    button(
      'Send password reset',
      () =>
        run(
          `Send ${user.userName} a password reset email?`,
          'Send',
          () =>
            post(
              `/users/${id}/password-reset-email`,
              resendDestination.value ? { destination: resendDestination.value } : {},
            ),
          sentText,
        ),
      { class: 'secondary' },
    ),
  );

  const scheduleState = select(
    [
      ['ACTIVE', 'Activate'],
      ['SUSPENDED', 'Suspend'],
    ],
    lc.state === 'ACTIVE' ? 'SUSPENDED' : 'ACTIVE',
  );
  const scheduleAt = h('input', { type: 'datetime-local', required: true });
  const schedule = h(
    'div',
    { class: 'action' },
    field('Scheduled change', scheduleState)[0],
    field('At (your local time)', scheduleAt)[0],
    button('Schedule', () => {
      const at = new Date(scheduleAt.value);
      if (!scheduleAt.value || Number.isNaN(at.getTime()))
        return report(result, false, 'Choose a date and time first.');
      return run(
        `${scheduleState.value === 'ACTIVE' ? 'Activate' : 'Suspend'} ${user.userName} at ${time(at.toISOString())}?`,
        'Schedule',
        () => post(`/users/${id}/schedules`, { state: scheduleState.value, at: at.toISOString() }),
        (s) => `Scheduled: ${s.state} at ${time(s.at)}.`,
      );
    }),
  );
  const scheduleList = schedules.length
    ? h(
        'ul',
        { class: 'schedules' },
        schedules.map((s) =>
          h(
            'li',
            {},
            `${s.state === 'ACTIVE' ? 'Activation' : 'Suspension'} at ${time(s.at)} `,
            button(
              'Cancel',
              () =>
                run(
                  `Cancel the scheduled ${s.state === 'ACTIVE' ? 'activation' : 'suspension'}?`,
                  'Cancel schedule',
                  () => api('DELETE', `/schedules/${encodeURIComponent(s.id)}`),
                  () => 'Schedule cancelled.',
                ),
              {
                class: 'secondary',
                'aria-label': `Cancel the scheduled ${s.state === 'ACTIVE' ? 'activation' : 'suspension'}`,
              },
            ),
          ),
        ),
      )
    : h('p', {}, 'Nothing scheduled.');

  const alternate = h('input', { type: 'email', value: lc.alternateEmail ?? '', autocomplete: 'off' });
  const alternateForm = h(
    'div',
    { class: 'action' },
    field('Alternate email', alternate, 'Leave empty to remove it.')[0],
    button('Save alternate email', () =>
      run(
        alternate.value ? `Set the alternate email to ${alternate.value}?` : 'Remove the alternate email?',
        'Save',
        () => api('PATCH', `/users/${id}`, { alternateEmail: alternate.value.trim() || null }),
        (u) =>
          lifecycleOf(u).alternateEmail
            ? `Alternate email is now ${lifecycleOf(u).alternateEmail}.`
            : 'Alternate email removed.',
      ),
    ),
  );

  const quick = h(
    'div',
    { class: 'row' },
    lc.state === 'ACTIVE'
      ? button(
          'Suspend',
          () =>
            run(
              `Suspend ${user.userName} now?`,
              'Suspend',
              () => post(`/users/${id}/suspend`),
              (u) => `${u.userName} is now ${lifecycleOf(u).state}.`,
            ),
          { class: 'danger' },
        )
      : null,
    lc.locked
      ? button('Unlock', () =>
          run(
            `Unlock ${user.userName}?`,
            'Unlock',
            () => post(`/users/${id}/unlock`),
            () => `${user.userName} is unlocked.`,
          ),
        )
      : null,
  );

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'actions-title' },
    h('h2', { id: 'actions-title' }, 'Actions'),
    result,
    quick,
    h('div', { class: 'actions' }, lc.state !== 'ACTIVE' ? activate : null, resend, alternateForm, schedule),
    h('h3', {}, 'Scheduled changes'),
    scheduleList,
  );
}
