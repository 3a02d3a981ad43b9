import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { MongoClient } from 'mongodb';

/**
 * The baseline for "framework overhead": a bare Koa route doing the same single findOne as
 * GET /scim/v2/Users/{id} does for the user itself, on the same database, in its own process.
 * Env: PORT, MONGODB_URI (with the database name in its path).
 */
const uri = process.env.MONGODB_URI;
if (!uri) throw new Error('MONGODB_URI is required');
const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, appName: 'bench-bare-koa' });
await client.connect();
const users = client.db().collection<{ _id: string }>('users');

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
