import { parseCommandArgs, isIsoDate } from '../args.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';

interface EventJson {
  id: string;
  timestamp: string;
  type: string;
  resource?: { type?: string; id?: string; username?: string };
  initiatedBy?: { type?: string; name?: string };
  success?: boolean;
  recipientEmail?: string;
}

export async function eventsCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('events', ctx.args, {
    type: { type: 'string', multiple: true },
    user: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`events: unexpected argument "${positionals[0]}"`, 'events');
  for (const name of ['since', 'until'] as const) {
    const value = values[name];
    if (value !== undefined && !isIsoDate(value)) {
      throw new UsageError(
        `events: --${name} must be an ISO 8601 date or date-time, e.g. 2024-05-01T00:00:00Z`,
        'events',
      );
    }
  }
  if (values.limit !== undefined && !/^\d+$/.test(values.limit)) {
    throw new UsageError('events: --limit must be a whole number from 1 to 1000', 'events');
  }
  const types = values.type?.flatMap((t) => t.split(',')).filter((t) => t.trim() !== '');
  const page = await ctx.client().json<{ events: EventJson[]; nextCursor?: string | null }>('GET', '/admin/v1/events', {
    query: {
      type: types?.length ? types.join(',') : undefined,
      userId: values.user,
      since: values.since,
      until: values.until,
      limit: values.limit,
      cursor: values.cursor,
    },
  });
  if (values.json) {
    ctx.out(`${JSON.stringify(page, null, 2)}\n`);
    return 0;
  }
  const events = page.events ?? [];
  if (events.length === 0) {
    ctx.out('No events.\n');
  } else {
    ctx.out(
      formatTable(
        ['TIMESTAMP', 'TYPE', 'USER', 'BY', 'SUCCESS', 'RECIPIENT'],
        events.map((e) => [
          e.timestamp,
          e.type,
          e.resource ? (e.resource.username ?? e.resource.id ?? '') : '',
          e.initiatedBy ? `${e.initiatedBy.type ?? '?'}:${e.initiatedBy.name ?? '?'}` : '',
          e.success === false ? 'no' : 'yes',
          e.recipientEmail ?? '',
        ]),
      ),
    );
  }
  if (page.nextCursor) ctx.err(`More events: add --cursor ${page.nextCursor}\n`);
  return 0;
}
