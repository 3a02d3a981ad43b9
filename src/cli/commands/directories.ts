import { parseCommandArgs } from '../args.js';
import type { DirectoryJson } from '../client.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, printable } from '../table.js';

const COMMAND = 'directories';
const ACTIONS = ['list', 'create', 'suspend', 'resume', 'delete', 'token'];
const PATH = '/admin/v1/directories';
const KINDS = ['scim', 'admin'];
const SOURCES = ['manual', 'bulk', 'integration'];

interface TokenJson {
  id: string;
  name: string;
  kind: string;
  source: string;
  token: string;
}

/**
 * `roster directories list|create|suspend|resume|delete|token`: the operators' API of directories
 * (an operator's token: one of the configuration's admin tokens). A directory is named by its id
 * or its slug.
 */
export async function directoriesCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(COMMAND, ctx.args, {
    name: { type: 'string' },
    kind: { type: 'string' },
    source: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, target, ...extra] = positionals;
  if (!action) throw new UsageError(`${COMMAND}: an action is required (${ACTIONS.join(', ')})`, COMMAND);
  if (!ACTIONS.includes(action)) {
    throw new UsageError(`${COMMAND}: unknown action "${action}"; one of ${ACTIONS.join(', ')}`, COMMAND);
  }
  if (extra.length) throw new UsageError(`${COMMAND}: unexpected argument "${extra[0]}"`, COMMAND);
  if (action === 'list' && target !== undefined) {
    throw new UsageError(`${COMMAND} list: unexpected argument "${target}"`, COMMAND);
  }
  if (action !== 'list' && !target) {
    const what = action === 'create' ? "the new directory's slug" : 'a directory id or slug';
    throw new UsageError(`${COMMAND} ${action}: ${what} is required`, COMMAND);
  }
  if (values.name !== undefined && action !== 'create' && action !== 'token') {
    throw new UsageError(`${COMMAND} ${action}: --name applies to create and token only`, COMMAND);
  }
  if ((values.kind ?? values.source) !== undefined && action !== 'token') {
    throw new UsageError(`${COMMAND} ${action}: --kind and --source apply to token only`, COMMAND);
  }
  if (values.kind !== undefined && !KINDS.includes(values.kind)) {
    throw new UsageError(`${COMMAND} token: --kind must be scim or admin`, COMMAND);
  }
  if (values.source !== undefined && !SOURCES.includes(values.source)) {
    throw new UsageError(`${COMMAND} token: --source must be manual, bulk or integration`, COMMAND);
  }
  if (values.kind === 'admin' && values.source !== undefined) {
    throw new UsageError(`${COMMAND} token: --source applies to SCIM tokens only`, COMMAND);
  }
  if ((action === 'create' || action === 'token') && !values.name) {
    throw new UsageError(`${COMMAND} ${action}: --name is required`, COMMAND);
  }

  const client = ctx.client();
  const json = (value: unknown) => ctx.out(`${JSON.stringify(value, null, 2)}\n`);
  const at = (directory: DirectoryJson, suffix = '') => `${PATH}/${encodeURIComponent(directory.id)}${suffix}`;

  switch (action) {
    case 'list': {
      const directories = await client.listDirectories();
      if (values.json) json(directories);
      else if (directories.length === 0) ctx.out('No directories.\n');
      else {
        ctx.out(
          formatTable(
            ['SLUG', 'NAME', 'STATUS', 'USERS', 'GROUPS', 'SCIM BASE URL'],
            directories.map((d) => [
              d.slug,
              d.name,
              d.status,
              d.counts?.users ?? '',
              d.counts?.groups ?? '',
              d.status === 'deleted' ? '' : d.scimBaseUrl,
            ]),
          ),
        );
      }
      return 0;
    }
    case 'create': {
      const created = await client.json<DirectoryJson>('POST', PATH, { json: { slug: target, name: values.name } });
      json(created);
      return 0;
    }
    case 'suspend':
    case 'resume': {
      const directory = await client.findDirectory(target);
      const status = action === 'suspend' ? 'suspended' : 'active';
      const changed = await client.json<DirectoryJson>('PATCH', at(directory), { json: { status } });
      if (values.json) json(changed);
      else {
        const restored = directory.status === 'deleted' ? ' (restored from deletion)' : '';
        ctx.out(
          `Directory ${printable(changed.slug)} (${printable(changed.id)}) is now ${printable(changed.status)}${restored}.\n`,
        );
      }
      return 0;
    }
    case 'delete': {
      const directory = await client.findDirectory(target);
      const deleted = await client.json<DirectoryJson>('DELETE', at(directory));
      if (values.json) json(deleted);
      else {
        const until = deleted.purgeAfter ? `; its data is kept until ${printable(deleted.purgeAfter)}` : '';
        ctx.out(
          `Deleted directory ${printable(deleted.slug)} (${printable(deleted.id)})${until} (roster directories resume ${printable(deleted.slug)} restores it).\n`,
        );
      }
      return 0;
    }
    default: {
      const directory = await client.findDirectory(target);
      const body = {
        name: values.name,
        ...(values.kind ? { kind: values.kind } : {}),
        ...(values.source ? { source: values.source } : {}),
      };
      const minted = await client.json<TokenJson>('POST', at(directory, '/tokens'), { json: body });
      if (values.json) {
        json({ ...minted, directory: { id: directory.id, slug: directory.slug } });
        return 0;
      }
      const kind = minted.kind === 'admin' ? 'admin' : 'SCIM';
      const lines = [
        formatTable(
          ['FIELD', 'VALUE'],
          [
            ['directory', `${directory.slug} (${directory.id})`],
            ['token id', minted.id],
            ['name', minted.name],
            ['kind', minted.kind],
            ...(minted.kind === 'admin' ? [] : [['source', minted.source]]),
            ...(minted.kind === 'admin'
              ? [['admin API', directory.adminBaseUrl]]
              : [['SCIM base URL', directory.scimBaseUrl]]),
          ],
        ),
        `\n${kind} token (shown only now: store it where it is used; it is sent as "Authorization: Bearer <token>"):\n`,
        `${printable(minted.token)}\n`,
      ];
      ctx.out(lines.join(''));
      return 0;
    }
  }
}
