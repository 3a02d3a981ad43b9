import { parseCommandArgs } from '../args.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

interface ReceiverJson {
  id: string;
  name: string;
  delivery: string;
  endpoint?: string;
  pollUrl?: string;
  audience: string;
  events: string[];
  level: string;
  enabled: boolean;
  client?: string;
  pollToken?: string;
  deliveries?: { pending: number; delivered: number; failed: number };
}

const ACTIONS = ['list', 'add', 'show', 'enable', 'disable', 'remove'];
const PATH = '/admin/v1/event-receivers';

/**
 * `roster receivers list|add|show|enable|disable|remove`: security event receivers. A push
 * receiver's Authorization value is read from the environment variable named by
 * --authorization-env, so it never appears in the command line or shell history.
 */
export async function receiversCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('receivers', ctx.args, {
    name: { type: 'string' },
    push: { type: 'string' },
    poll: { type: 'boolean' },
    audience: { type: 'string' },
    event: { type: 'string', multiple: true },
    level: { type: 'string' },
    attribute: { type: 'string', multiple: true },
    client: { type: 'string' },
    'authorization-env': { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, id, ...extra] = positionals;
  if (!action || !ACTIONS.includes(action)) {
    throw new UsageError(`receivers: an action is required (${ACTIONS.join(', ')})`, 'receivers');
  }
  if (extra.length) throw new UsageError(`receivers: unexpected argument "${extra[0]}"`, 'receivers');
  const needsId = action !== 'list' && action !== 'add';
  if (needsId && !id) throw new UsageError(`receivers ${action}: the receiver id is required`, 'receivers');
  if (!needsId && id) throw new UsageError(`receivers ${action}: unexpected argument "${id}"`, 'receivers');
  const client = ctx.client();
  const print = (receiver: ReceiverJson) => {
    if (values.json) return ctx.out(`${JSON.stringify(receiver, null, 2)}\n`);
    const lines = [
      ['id', receiver.id],
      ['name', receiver.name],
      ['delivery', receiver.delivery],
      [receiver.delivery === 'push' ? 'endpoint' : 'poll url', receiver.endpoint ?? receiver.pollUrl ?? ''],
      ['audience', receiver.audience],
      ['events', receiver.events.length ? receiver.events.join(' ') : `all (${receiver.level})`],
      ['enabled', receiver.enabled ? 'yes' : 'no'],
      ...(receiver.client ? [['async responses for', receiver.client]] : []),
      ...(receiver.deliveries
        ? [
            [
              'deliveries',
              `${receiver.deliveries.pending} pending, ${receiver.deliveries.delivered} delivered, ${receiver.deliveries.failed} failed`,
            ],
          ]
        : []),
    ];
    ctx.out(formatTable(['FIELD', 'VALUE'], lines));
  };

  switch (action) {
    case 'list': {
      const { receivers } = await client.json<{ receivers: ReceiverJson[] }>('GET', PATH);
      if (values.json) ctx.out(`${JSON.stringify(receivers, null, 2)}\n`);
      else if (receivers.length === 0) ctx.out('No event receivers.\n');
      else {
        ctx.out(
          formatTable(
            ['ID', 'NAME', 'DELIVERY', 'ENDPOINT', 'EVENTS', 'ENABLED'],
            receivers.map((r) => [
              r.id,
              r.name,
              r.delivery,
              r.endpoint ?? '',
              r.events.length ? String(r.events.length) : `all (${r.level})`,
              r.enabled ? 'yes' : 'no',
            ]),
          ),
        );
      }
      return 0;
    }
    case 'add': {
      if ((values.push === undefined) === (values.poll !== true)) {
        throw new UsageError('receivers add: give either --push URL or --poll', 'receivers');
      }
      const envName = values['authorization-env'];
      const authorization = envName === undefined ? undefined : ctx.io.env[envName];
      if (envName !== undefined && !authorization) {
        throw new UsageError(`receivers add: the environment variable ${envName} is empty or unset`, 'receivers');
      }
      const body = {
        name: values.name,
        delivery: values.poll ? 'poll' : 'push',
        ...(values.push ? { endpoint: values.push } : {}),
        ...(authorization ? { authorization } : {}),
        audience: values.audience,
        events: values.event ?? [],
        ...(values.level ? { level: values.level } : {}),
        ...(values.attribute ? { attributes: values.attribute } : {}),
        ...(values.client ? { client: values.client } : {}),
      };
      const created = await client.json<ReceiverJson>('POST', PATH, { json: body });
      print(created);
      if (created.pollToken && !values.json) {
        ctx.out(
          `\nPoll token (shown once; the receiver sends it as "Authorization: Bearer <token>"):\n${created.pollToken}\n`,
        );
      }
      return 0;
    }
    case 'show':
      print(await client.json<ReceiverJson>('GET', `${PATH}/${encodeURIComponent(id)}`));
      return 0;
    case 'enable':
    case 'disable':
      print(
        await client.json<ReceiverJson>('PATCH', `${PATH}/${encodeURIComponent(id)}`, {
          json: { enabled: action === 'enable' },
        }),
      );
      return 0;
    default:
      await client.json('DELETE', `${PATH}/${encodeURIComponent(id)}`);
      ctx.out(`Removed event receiver ${id}.\n`);
      return 0;
  }
}
