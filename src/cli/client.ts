import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { ApiError, CliError, UsageError } from './errors.js';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
const CONNECT_TIMEOUT_MS = 10_000;

/** A directory as GET /admin/v1/directories lists it (what the CLI reads of it). */
export interface DirectoryJson {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended' | 'deleted';
  scimBaseUrl: string;
  tokenEndpoint: string;
  adminBaseUrl: string;
  settings?: unknown;
  createdAt: string;
  updatedAt: string;
  deletedAt?: string;
  purgeAfter?: string;
  counts?: { users: number; groups: number };
}

const ADMIN = '/admin/v1';
const OPERATORS = `${ADMIN}/directories`;
/** A directory id as Roster makes them (a UUID), or the default directory's. */
const DIRECTORY_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|default)$/i;

export interface RequestOptions {
  query?: Record<string, string | string[] | undefined>;
  /** A JSON value, or a stream sent as is (with contentType and contentLength). */
  json?: unknown;
  stream?: Readable;
  contentType?: string;
  contentLength?: number;
}

/** The admin API over node:http, so uploads and downloads stream and connection errors are precise. */
export class RosterClient {
  private readonly agent: http.Agent;
  /** The id of the directory named by `directory`, resolved on the first call. */
  private directoryId?: Promise<string>;

  /**
   * `directory` (an id or a slug; --directory, ROSTER_DIRECTORY): every admin API call goes to that
   * directory's admin API, `/admin/v1/directories/{id}/…`, instead of the default directory's.
   */
  constructor(
    readonly baseUrl: URL,
    private readonly token: string,
    readonly directory?: string,
  ) {
    this.agent = new (baseUrl.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 4 });
  }

  /** Parses ROSTER_URL; an http(s) URL, optionally with a path prefix (behind a proxy). */
  static parseBaseUrl(value: string): URL {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UsageError(`ROSTER_URL is not a URL: ${value}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`ROSTER_URL must start with http:// or https:// (got ${value})`);
    }
    return url;
  }

  /** The base URL for messages (without credentials, query or trailing slash). */
  get displayUrl(): string {
    return `${this.baseUrl.protocol}//${this.baseUrl.host}${this.baseUrl.pathname.replace(/\/+$/, '')}`;
  }

  url(path: string, query: RequestOptions['query'] = {}): URL {
    const url = new URL(this.baseUrl.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    url.search = '';
    url.hash = '';
    for (const [key, value] of Object.entries(query)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value])
        url.searchParams.append(key, v);
    }
    return url;
  }

  /**
   * The path a call goes to: with a directory, an admin API path `/admin/v1/…` becomes
   * `/admin/v1/directories/{id}/…`. The operators' own routes (`/admin/v1/directories…`) name
   * their directory themselves and are left as they are.
   */
  async directoryPath(path: string): Promise<string> {
    if (this.directory === undefined) return path;
    if (path === OPERATORS || path.startsWith(`${OPERATORS}/`) || path.startsWith(`${OPERATORS}?`)) return path;
    if (!path.startsWith(`${ADMIN}/`)) return path;
    this.directoryId ??= this.resolveSelected(this.directory);
    return `${OPERATORS}/${encodeURIComponent(await this.directoryId)}${path.slice(ADMIN.length)}`;
  }

  /** Every directory (GET /admin/v1/directories: an operator's token only). */
  async listDirectories(): Promise<DirectoryJson[]> {
    const { directories } = await this.json<{ directories: DirectoryJson[] }>('GET', OPERATORS);
    return directories ?? [];
  }

  /** The directory an id or a slug names (an id first); a usage error when there is none. */
  async findDirectory(idOrSlug: string): Promise<DirectoryJson> {
    const list = await this.listDirectories();
    const found = list.find((d) => d.id === idOrSlug) ?? list.find((d) => d.slug === idOrSlug);
    if (!found) {
      throw new UsageError(
        `unknown directory "${idOrSlug}" (no directory has this id or slug; see roster directories list)`,
      );
    }
    return found;
  }

  /**
   * The id of the --directory directory, read once from the operators' list. A directory's own
   * admin token may not read that list (403, or 401 when it is another directory's than the
   * default's): then an id is used as given (the server checks it), a slug cannot be resolved.
   */
  private async resolveSelected(idOrSlug: string): Promise<string> {
    let found: DirectoryJson;
    try {
      found = await this.findDirectory(idOrSlug);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
      if (DIRECTORY_ID.test(idOrSlug)) return idOrSlug;
      if (err.status === 403) {
        throw new UsageError(
          `--directory ${idOrSlug}: only an operator's token may name a directory by its slug; give the directory id`,
        );
      }
      throw new CliError(
        `${err.message}; looking up directory "${idOrSlug}" needs an operator's token (a directory's own admin token needs --directory with the directory id)`,
      );
    }
    if (found.status === 'deleted') {
      throw new UsageError(`directory "${idOrSlug}" is deleted (roster directories resume ${found.slug} restores it)`);
    }
    return found.id;
  }

  /** Sends a request and resolves with the response head (any status); rejects only on connection failures. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    if (this.directory !== undefined) {
      // An upload's stream waits (unread) while the directory is looked up.
      options.stream?.pause();
      path = await this.directoryPath(path);
    }
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
      'user-agent': 'roster-cli',
    };
    let body: Buffer | undefined;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json), 'utf8');
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    } else if (options.stream) {
      if (options.contentType) headers['content-type'] = options.contentType;
      if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    } else if (method !== 'GET' && method !== 'DELETE') {
      headers['content-length'] = '0';
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = transport.request(url, { method, headers, agent: this.agent }, (res) => {
        answered = true;
        resolve(res);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!answered) reject(this.connectionError(err));
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          req.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' }));
        }, CONNECT_TIMEOUT_MS);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      if (options.stream) {
        options.stream.on('error', (err) => {
          req.destroy();
          if (!answered) reject(new CliError(`cannot read the upload: ${err.message}`));
        });
        options.stream.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  /** Sends a request, throws ApiError on a non-2xx answer, and returns the parsed JSON body. */
  async json<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.readJson<T>(await this.send(method, path, options));
  }

  /** The parsed JSON body of a response; ApiError on a non-2xx answer. */
  async readJson<T = unknown>(response: IncomingMessage): Promise<T> {
    const res = await this.ok(response);
    const text = await readText(res);
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the server answered ${res.statusCode} with a body that is not JSON: ${snippet(text)}`);
    }
  }

  /** Throws ApiError for a non-2xx response (reading its error body); returns 2xx responses unread. */
  async ok(res: IncomingMessage): Promise<IncomingMessage> {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const text = await readText(res).catch(() => '');
    let code: string | undefined;
    let message = snippet(text) || (res.statusMessage ?? 'no message');
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown }; detail?: unknown };
      if (body.error && typeof body.error.message === 'string') {
        message = body.error.message;
        code = typeof body.error.code === 'string' ? body.error.code : undefined;
      } else if (typeof body.detail === 'string') {
        message = body.detail;
      }
    } catch {
      // not JSON (a proxy's page, say): the start of the text is the message
    }
    throw new ApiError(status, code, message);
  }

  close(): void {
    this.agent.destroy();
  }

  private connectionError(err: NodeJS.ErrnoException): CliError {
    const code = err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code && UNREACHABLE.has(code)) {
      return new CliError(
        `cannot reach Roster at ${this.displayUrl} (${code}); is the server running? Set ROSTER_URL to its address.`,
      );
    }
    return new CliError(`request to Roster at ${this.displayUrl} failed: ${err.message}${code ? ` (${code})` : ''}`);
  }
}

export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}
