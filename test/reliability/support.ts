import { createServer, request, type Server } from 'node:http';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

/** Shared pieces of the reliability suite: bounded HTTP calls, user bodies, small waits. */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const LIFECYCLE = 'urn:roster:params:scim:schemas:extension:lifecycle:2.0:User';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_JSON = 'application/scim+json';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A name no other test in the run uses (all files share one database server). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function userBody(userName: string, email = `${userName}@corp.example`, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA],
    userName,
    name: { givenName: 'Rel', familyName: 'Iability' },
    emails: [{ value: email, type: 'work', primary: true }],
    ...extra,
  };
}

export interface Answer {
  /** HTTP status, or 0 when no response arrived (connection error or timeout). */
  status: number;
  headers: Headers | undefined;
  /** Parsed JSON when the body was JSON, else the text. */
  body: unknown;
  ms: number;
  /** Set when no response arrived: 'timeout' or the connection error's code/message. */
  error?: string;
}

/** One HTTP call bounded by timeoutMs; never throws. */
export async function call(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer> {
  const started = Date.now();
  const { timeoutMs = 5000, ...rest } = init;
  try {
    const res = await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.status, headers: res.headers, body, ms: Date.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const error =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? 'timeout'
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { status: 0, headers: undefined, body: undefined, ms: Date.now() - started, error };
  }
}

/** Serves a Koa app on a loopback port (a real socket, like production). */
export async function serve(app: Koa): Promise<{ base: string; server: Server; close(): Promise<void> }> {
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` every intervalMs until it returns a value (not undefined) or timeoutMs passes. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A SCIM error body as RFC 7644 §3.12 has it: the error schema and `status` as a string equal to the HTTP status. */
export function isScimError(body: unknown, status: number): boolean {
  if (!body || typeof body !== 'object') return false;
  const b = body as { schemas?: unknown; status?: unknown };
  return Array.isArray(b.schemas) && b.schemas.includes(ERROR_SCHEMA) && b.status === String(status);
}

/**
 * One HTTP call over a fresh connection (node:http, no keep-alive pool), bounded by timeoutMs;
 * never throws. The path is sent as given (percent-encoding is the caller's business).
 */
export function rawCall(
  base: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer | Readable;
    timeoutMs?: number;
  },
): Promise<Answer> {
  const started = Date.now();
  const url = new URL(base);
  return new Promise<Answer>((resolve) => {
    let settled = false;
    let req: ReturnType<typeof request> | undefined;
    const timer = setTimeout(() => {
      finish({ status: 0, headers: undefined, body: undefined, error: 'timeout' });
      req?.destroy();
    }, options.timeoutMs ?? 5000);
    const finish = (answer: Omit<Answer, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: Date.now() - started });
    };
    const headers: Record<string, string> = { ...options.headers };
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
      headers['Content-Length'] = String(Buffer.byteLength(options.body));
    }
    try {
      req = request(
        {
          host: url.hostname,
          port: url.port,
          method: options.method,
          // Bytes the HTTP client refuses (spaces, controls, non-ASCII) go percent-encoded.
          path: options.path.replace(/[^\x21-\x7e]+/gu, (run) =>
            [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
          ),
          headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => finish({ status: 0, headers: undefined, body: undefined, error: err.message }));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            if (String(res.headers['content-type'] ?? '').includes('json') && text) {
              try {
                body = JSON.parse(text);
              } catch {
                body = text;
              }
            }
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, [v].flat().join(', '));
            finish({ status: res.statusCode ?? 0, headers: h, body });
          });
        },
      );
    } catch (err) {
      return finish({
        status: 0,
        headers: undefined,
        body: undefined,
        error: `client refused: ${(err as Error).message}`,
      });
    }
    req!.on('error', (err: NodeJS.ErrnoException) =>
      finish({ status: 0, headers: undefined, body: undefined, error: err.code ?? err.message }),
    );
    if (options.body instanceof Readable) options.body.pipe(req!);
    else req!.end(options.body);
  });
}
