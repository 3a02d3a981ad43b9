import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { MongoClient } from 'mongodb';

/**
 * The baselines for "framework overhead", on the same database, in their own process:
 * - /users/:id: the single findOne GET /scim/v2/Users/{id} does for the user itself;
 * - /users-with-groups/:id: the same database reads GET /scim/v2/Users/{id} does with `groups`
 *   filled (the user beside its memberships, then the groups' own memberships for indirect groups
 *   beside the groups' names), with no SCIM rendering.
 * Env: PORT, MONGODB_URI (with the database name in its path).
 */
const uri = process.env.MONGODB_URI;
if (!uri) throw new Error('MONGODB_URI is required');
const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, appName: 'bench-bare-koa' });
await client.connect();
const users = client.db().collection<{ _id: string }>('users');
const memberships = client.db().collection<{ _id: string; groupId: string; memberId: string }>('memberships');
const groups = client.db().collection<{ _id: string; displayName: string }>('groups');

const app = new Koa();
const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/users/:id', async (ctx) => {
  const user = await users.findOne({ _id: ctx.params.id });
  if (!user) {
    ctx.status = 404;
    return;
  }
  ctx.body = user;
});
router.get('/users-with-groups/:id', async (ctx) => {
  const [user, direct] = await Promise.all([
    users.findOne({ _id: ctx.params.id }),
    memberships.find({ memberId: ctx.params.id }).toArray(),
  ]);
  if (!user) {
    ctx.status = 404;
    return;
  }
  let frontier = [...new Set(direct.map((m) => m.groupId))];
  const names = new Map<string, string>();
  const known = new Set(frontier);
  while (frontier.length) {
    const [edges, found] = await Promise.all([
      memberships.find({ memberId: { $in: frontier } }).toArray(),
      groups.find({ _id: { $in: frontier } }).toArray(),
    ]);
    for (const g of found) names.set(g._id, g.displayName);
    frontier = edges.map((e) => e.groupId).filter((g) => !known.has(g));
    frontier.forEach((g) => known.add(g));
  }
  ctx.body = { ...user, groups: [...names].map(([value, display]) => ({ value, display })) };
});
app.use(router.routes());
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');

const stop = () => {
  server.close();
  server.closeAllConnections();
  void client.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
