import { readFileSync } from 'node:fs';
import { parseCommandArgs } from '../args.js';
import type { CommandContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatTable, printable } from '../table.js';

const COMMAND = 'oauth-clients';
const ACTIONS = ['create', 'list', 'show', 'rotate', 'revoke'];

interface ClientJson {
  client_id: string;
  name: string;
  source: string;
  scopes: string[];
  token_endpoint_auth_method: string;
  created_at: string;
  revoked_at?: string;
  secrets: { created_at: string; expires_at?: string }[];
  client_secret?: string;
}

function readJwk(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read the JWK in ${file}: ${(err as Error).message}`, 2);
  }
}

/** What a created or rotated client shows once: its id and, for secret clients, the secret. */
function describe(client: ClientJson): string {
  const lines = [
    `client_id      ${printable(client.client_id)}`,
    `name           ${printable(client.name)}`,
    `source         ${printable(client.source)}`,
    `scopes         ${printable(client.scopes.join(' '))}`,
    `auth method    ${printable(client.token_endpoint_auth_method)}`,
  ];
  if (client.revoked_at) lines.push(`revoked at     ${printable(client.revoked_at)}`);
  for (const s of client.secrets) {
    lines.push(
      `secret         created ${printable(s.created_at)}${s.expires_at ? `, valid until ${printable(s.expires_at)}` : ''}`,
    );
  }
  if (client.client_secret) {
    lines.push(
      `client_secret  ${client.client_secret}`,
      '',
      'The secret is shown only now: store it in the identity provider.',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** roster oauth-clients create|list|show|rotate|revoke: the admin API's /oauth/clients. */
export async function oauthClientsCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(COMMAND, ctx.args, {
    name: { type: 'string' },
    source: { type: 'string' },
    scope: { type: 'string', multiple: true },
    'jwk-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, id, ...extra] = positionals;
  if (!action || !ACTIONS.includes(action)) {
    throw new UsageError(`${COMMAND}: an action is required (${ACTIONS.join(', ')})`, COMMAND);
  }
  if (extra.length) throw new UsageError(`${COMMAND}: unexpected argument "${extra[0]}"`, COMMAND);
  const createOnly = values.name ?? values.source ?? values.scope ?? values['jwk-file'];
  if (action !== 'create' && createOnly !== undefined) {
    throw new UsageError(
      `${COMMAND} ${action}: --name, --source, --scope and --jwk-file apply to create only`,
      COMMAND,
    );
  }
  const needsId = ['show', 'rotate', 'revoke'].includes(action);
  if (needsId && !id) throw new UsageError(`${COMMAND} ${action}: a client id is required`, COMMAND);
  if (!needsId && id) throw new UsageError(`${COMMAND} ${action}: unexpected argument "${id}"`, COMMAND);

  const client = ctx.client();
  const path = (suffix = '') => `/admin/v1/oauth/clients${id ? `/${encodeURIComponent(id)}` : ''}${suffix}`;
  let answer: ClientJson | { clients: ClientJson[] };
  if (action === 'create') {
    if (!values.name || !values.source)
      throw new UsageError(`${COMMAND} create: --name and --source are required`, COMMAND);
    const scopes = values.scope?.flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '');
    const body = {
      name: values.name,
      source: values.source,
      ...(scopes && { scopes }),
      ...(values['jwk-file'] && { jwk: readJwk(values['jwk-file']) }),
    };
    answer = await client.json<ClientJson>('POST', path(), { json: body });
  } else if (action === 'list') {
    answer = await client.json<{ clients: ClientJson[] }>('GET', path());
  } else if (action === 'show') {
    answer = await client.json<ClientJson>('GET', path());
  } else {
    answer = await client.json<ClientJson>('POST', path(action === 'rotate' ? '/rotate-secret' : '/revoke'));
  }
  if (values.json) {
    ctx.out(`${JSON.stringify(answer, null, 2)}\n`);
  } else if ('clients' in answer) {
    const rows = answer.clients.map((c) => [
      c.client_id,
      c.name,
      c.source,
      c.scopes.join(' '),
      c.token_endpoint_auth_method,
      c.revoked_at ? `revoked ${c.revoked_at}` : 'active',
    ]);
    ctx.out(formatTable(['CLIENT ID', 'NAME', 'SOURCE', 'SCOPES', 'AUTH', 'STATUS'], rows));
  } else {
    ctx.out(describe(answer));
  }
  return 0;
}
