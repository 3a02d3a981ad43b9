import { isIsoDate, parseCommandArgs } from '../args.js';
import type { CommandContext } from '../context.js';
import { ApiError, UsageError } from '../errors.js';
import { formatTable } from '../table.js';
import { isEmailAddress } from '../../users/emailAddresses.js';

const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';

interface Action {
  path: (id: string) => string;
  destination: boolean;
  noEmail: boolean;
}

const ACTIONS: Record<string, Action> = {
  activate: { path: (id) => `/users/${id}/activate`, destination: true, noEmail: true },
  suspend: { path: (id) => `/users/${id}/suspend`, destination: false, noEmail: false },
  'send-activation': { path: (id) => `/users/${id}/activation-email`, destination: true, noEmail: false },
  'send-reset': { path: (id) => `/users/${id}/password-reset-email`, destination: true, noEmail: false },
  schedule: { path: (id) => `/users/${id}/schedules`, destination: true, noEmail: true },
};

export const USER_ACTIONS = Object.keys(ACTIONS);

export async function usersCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('users', ctx.args, {
    destination: { type: 'string' },
    'no-email': { type: 'boolean' },
    state: { type: 'string' },
    at: { type: 'string' },
  });
  const [actionName, ...rawIds] = positionals;
  if (!actionName) throw new UsageError(`users: an action is required (${USER_ACTIONS.join(', ')})`, 'users');
  const action = ACTIONS[actionName];
  if (!action) {
    throw new UsageError(`users: unknown action "${actionName}"; one of ${USER_ACTIONS.join(', ')}`, 'users');
  }
  const { destination } = values;
  const noEmail = values['no-email'] === true;
  if (destination !== undefined && !action.destination) {
    throw new UsageError(`users ${actionName}: --destination does not apply`, 'users');
  }
  if (destination !== undefined && !/^(company|alternate)$/.test(destination) && !isEmailAddress(destination)) {
    throw new UsageError('users: --destination must be company, alternate or an email address', 'users');
  }
  if (noEmail && !action.noEmail) throw new UsageError(`users ${actionName}: --no-email does not apply`, 'users');
  if (noEmail && destination !== undefined) {
    throw new UsageError('users: --no-email and --destination contradict each other', 'users');
  }
  let state: string | undefined;
  if (actionName === 'schedule') {
    state = values.state?.toUpperCase();
    if (state !== 'ACTIVE' && state !== 'SUSPENDED') {
      throw new UsageError('users schedule: --state ACTIVE or --state SUSPENDED is required', 'users');
    }
    if (!values.at || !isIsoDate(values.at)) {
      throw new UsageError('users schedule: --at must be an ISO 8601 date-time, e.g. 2024-09-01T08:00:00Z', 'users');
    }
  } else if (values.state !== undefined || values.at !== undefined) {
    throw new UsageError(`users ${actionName}: --state and --at apply to schedule only`, 'users');
  }

  const ids = await expandIds(ctx, rawIds);
  if (ids.length === 0) throw new UsageError(`users ${actionName}: at least one user ID is required`, 'users');

  const body: Record<string, unknown> = {};
  if (state) Object.assign(body, { state, at: values.at });
  if (noEmail) body.sendEmail = false;
  if (destination !== undefined) body.destination = destination;

  const client = ctx.client();
  const rows: string[][] = [];
  let failed = 0;
  for (const id of ids) {
    try {
      const answer = await client.json<Record<string, unknown>>(
        'POST',
        `/admin/v1${action.path(encodeURIComponent(id))}`,
        {
          json: body,
        },
      );
      rows.push([id, 'ok', summarize(answer)]);
    } catch (err) {
      // Unreachable server or a broken connection stops the run; a per-user refusal is a row.
      if (!(err instanceof ApiError)) throw err;
      failed++;
      rows.push([id, 'error', `${err.status}${err.code ? ` ${err.code}` : ''}: ${err.serverMessage}`]);
    }
  }
  ctx.out(formatTable(['ID', 'RESULT', 'MESSAGE'], rows));
  if (ids.length > 1) ctx.err(`${ids.length - failed} ok, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

/** `-` reads whitespace-separated ids from standard input. */
async function expandIds(ctx: CommandContext, raw: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const id of raw) {
    if (id !== '-') {
      ids.push(id);
      continue;
    }
    let text = '';
    for await (const chunk of ctx.io.stdin) text += chunk.toString();
    ids.push(...text.split(/\s+/).filter((s) => s !== ''));
  }
  return ids;
}

/** A short description of what the server answered (a user, a schedule or an email result). */
function summarize(answer: Record<string, unknown> | undefined): string {
  if (!answer || typeof answer !== 'object') return 'done';
  const parts: string[] = [];
  const lifecycle = answer[LIFECYCLE] as { state?: unknown } | undefined;
  const state = lifecycle?.state ?? (answer.schemas ? undefined : answer.state);
  if (typeof state === 'string') parts.push(answer.at ? `${state} scheduled` : `state ${state}`);
  if (typeof answer.at === 'string') parts.push(`at ${answer.at}`);
  for (const key of ['recipientEmail', 'recipient', 'sentTo']) {
    if (typeof answer[key] === 'string') parts.push(`sent to ${answer[key]}`);
  }
  if (typeof answer.emailType === 'string') parts.push(`(${answer.emailType})`);
  if (answer.at && typeof answer.id === 'string') parts.push(`(schedule ${answer.id})`);
  return parts.length ? parts.join(' ') : 'done';
}
