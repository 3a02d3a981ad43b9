import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from '../../src/config/index.js';
import { useFixture } from './fixture.js';
import { startTestRoster, useTestRoster, type TestRoster, type TestRosterOptions } from './roster.js';

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Hands the requests to `listener` from now on. */
  serve(listener: http.RequestListener): void;
  close(): Promise<void>;
}

/**
 * An HTTP server on a free loopback port. Without a listener it answers 503 until `serve` gives it one,
 * so it can listen before the app that needs its address (in server.publicUrl) exists.
 */
export async function startLoopbackServer(listener?: http.RequestListener): Promise<LoopbackServer> {
  let handler: http.RequestListener = listener ?? ((_req, res) => res.writeHead(503).end());
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(next) {
      handler = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A Roster on its own database served over HTTP on a loopback port, as a child process reaches it. */
export async function startServedRoster(
  overrides: Json = {},
  options: TestRosterOptions = {},
): Promise<{ t: TestRoster; url: string; close(): Promise<void> }> {
  const t = await startTestRoster(overrides, options);
  const server = await startLoopbackServer(t.roster.app.callback());
  return {
    t,
    url: server.url,
    async close() {
      await server.close();
      await t.close();
    },
  };
}

/** This file's Roster (as useTestRoster), also served over HTTP on a loopback port (`server.url`). */
export function useServedRoster(
  overrides: Json | (() => Json) = {},
  options: TestRosterOptions = {},
): { t: TestRoster; server: LoopbackServer } {
  const t = useTestRoster(overrides, options);
  const server = useFixture(
    () => startLoopbackServer(t.roster.app.callback()),
    (s) => s.close(),
  );
  return { t, server };
}
