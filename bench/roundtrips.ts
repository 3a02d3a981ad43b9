import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { createRoster } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { call } from './load.js';

/**
 * Counts the database commands behind one request of each kind: Roster is built in-process on a
 * client with command monitoring, and each request runs alone. Reads and writes use the small
 * database; the counts do not depend on the database size, only the cost of each command does.
 */

export interface RoundTrips {
  request: string;
  commands: number;
  detail: string;
}

const TOKEN = 'bench-roundtrip-token-0001';

function describe(event: CommandStartedEvent): string {
  const c = event.command as Record<string, unknown>;
  const collection = String(c[event.commandName] ?? '');
  const keys = (value: unknown) =>
    value && typeof value === 'object' ? Object.keys(value as object).join(',') || '{}' : '';
  switch (event.commandName) {
    case 'find':
      return `find ${collection}{${keys(c.filter)}}`;
    case 'aggregate':
      return `aggregate ${collection}`;
    case 'insert':
      return `insert ${collection}×${(c.documents as unknown[]).length}`;
    case 'update':
      return `update ${collection}×${(c.updates as unknown[]).length}`;
    case 'delete':
      return `delete ${collection}`;
    case 'findAndModify':
      return `findAndModify ${collection}`;
    case 'distinct':
      return `distinct ${collection}`;
    default:
      return `${event.commandName} ${collection}`;
  }
}

export async function countRoundTrips(
  uri: string,
  keyEncryptionKey: string,
  sample: { userId: string; userName: string; groupId: string; spareUserIds: string[] },
): Promise<RoundTrips[]> {
  const client = new MongoClient(uri, { monitorCommands: true });
  await client.connect();
  let server: Server | undefined;
  let roster: Awaited<ReturnType<typeof createRoster>> | undefined;
  try {
    const config = loadConfig({
      env: {},
      overrides: {
        auth: { scimTokens: [{ name: 'bench', token: TOKEN, source: 'manual' }], adminTokens: [] },
        log: { level: 'silent' },
        keyEncryption: { key: keyEncryptionKey, previousKeys: [] },
      },
    });
    roster = await createRoster({ config, db: client.db(), logger: createLogger('silent') });
    const app = roster.app;
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;

    let seen: string[] = [];
    let counting = false;
    const ignored = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'saslStart', 'saslContinue']);
    client.on('commandStarted', (event) => {
      if (counting && !ignored.has(event.commandName)) seen.push(describe(event));
    });
    const out: RoundTrips[] = [];
    const measure = async (request: string, run: () => Promise<unknown>, per = 1) => {
      seen = [];
      counting = true;
      await run();
      await new Promise((r) => setTimeout(r, 50)); // let fire-and-forget work land (there should be none)
      counting = false;
      const counts = new Map<string, number>();
      for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
      out.push({
        request,
        commands: seen.length / per,
        detail: [...counts].map(([k, n]) => (n > 1 ? `${n}× ${k}` : k)).join('; '),
      });
    };
    // Warm-up: lazy start-up work (Agenda's indexes) must not count against the first request.
    await call('GET', `${base}/Users/${sample.userId}`, { token: TOKEN });
    await new Promise((r) => setTimeout(r, 500));
    const filter = encodeURIComponent(`userName eq "${sample.userName}"`);
    const spare = [...sample.spareUserIds];
    let created = '';
    await measure('GET /Users/{id} (user in 1 group)', () =>
      call('GET', `${base}/Users/${sample.userId}`, { token: TOKEN }),
    );
    await measure('GET /Users?filter=userName eq', () =>
      call('GET', `${base}/Users?filter=${filter}`, { token: TOKEN }),
    );
    await measure('GET /Users?cursor=&count=100', () =>
      call('GET', `${base}/Users?cursor=&count=100`, { token: TOKEN }),
    );
    await measure('POST /Users', async () => {
      const body = (await call('POST', `${base}/Users`, {
        token: TOKEN,
        body: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: `roundtrip-${Date.now()}@example.com`,
          emails: [{ value: `roundtrip-${Date.now()}@example.com`, type: 'work', primary: true }],
          active: true,
        },
      })) as { id: string };
      created = body.id;
    });
    await measure('PATCH /Users/{id} (replace title)', () =>
      call('PATCH', `${base}/Users/${created}`, {
        token: TOKEN,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', path: 'title', value: 'Benchmarker' }],
        },
      }),
    );
    await measure('PATCH /Groups/{id} add 1 member (204)', () =>
      call('PATCH', `${base}/Groups/${sample.groupId}`, {
        token: TOKEN,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'add', path: 'members', value: [{ value: spare.pop() }] }],
        },
      }),
    );
    await measure('GET /Groups/{id}?excludedAttributes=members', () =>
      call('GET', `${base}/Groups/${sample.groupId}?excludedAttributes=members`, { token: TOKEN }),
    );
    const stamp = Date.now();
    await measure(
      'POST /Bulk, per user (10 POST /Users)',
      () =>
        call('POST', `${base}/Bulk`, {
          token: TOKEN,
          body: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
            Operations: Array.from({ length: 10 }, (_, i) => ({
              method: 'POST',
              path: '/Users',
              bulkId: `b${i}`,
              data: {
                schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
                userName: `roundtrip-bulk-${stamp}-${i}@example.com`,
                emails: [{ value: `roundtrip-bulk-${stamp}-${i}@example.com`, type: 'work', primary: true }],
              },
            })),
          },
        }),
      10,
    );
    return out;
  } finally {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await roster?.stop().catch(() => undefined);
    await client.close();
  }
}
