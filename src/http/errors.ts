import type { Context, Next } from 'koa';
import {
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { errorBody, ScimError } from '../scim/errors.js';
import type { Logger } from '../logger.js';

/** Errors of the admin API and the end-user endpoints: `{ error: { code, message } }`. */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** Socket errors the driver sometimes passes on unwrapped (e.g. EPIPE when the server closed the connection mid-write). */
const NETWORK_ERROR_CODES = new Set([
  'EPIPE',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Server errors that mean the database is going away or not there: MongoDB's, and FerretDB's
 * passing on PostgreSQL's (SQLSTATE 57P01-57P03: terminating, shutting down, cannot connect now; a
 * refused or broken connection to PostgreSQL).
 */
const DATABASE_DOWN =
  /not primary|shutdown|shutting down|connection .* closed|SQLSTATE 57P0[1-3]|terminating connection|failed to connect|connection refused|unexpected EOF|conn closed/i;

function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof MongoServerSelectionError || err instanceof MongoNetworkError) return true;
  // The client is being reconnected (db/mongo.ts reconnectOnStuckHealthCheck).
  if (err instanceof MongoTopologyClosedError || err instanceof MongoNotConnectedError) return true;
  if (NETWORK_ERROR_CODES.has(String((err as { code?: unknown } | null)?.code))) return true;
  if (err instanceof MongoError) {
    const label = (err as MongoError).hasErrorLabel?.('RetryableWriteError') ?? false;
    return label || DATABASE_DOWN.test(err.message);
  }
  return false;
}

const KOA_STATUS_TYPES: Record<number, string> = { 400: 'invalidSyntax' };

/** Turns every failure into a SCIM error body (or the admin shape under /admin), never a stack trace. */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ScimError(404, `No endpoint at ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      let error: ScimError | AdminError;
      if (err instanceof ScimError || err instanceof AdminError) {
        error = err;
      } else if (isDatabaseUnavailable(err)) {
        logger.warn({ requestId: ctx.state.requestId, err: (err as Error).message }, 'database unavailable');
        error = new ScimError(503, 'The database is unavailable; retry later', undefined, { 'Retry-After': '5' });
      } else if (typeof (err as { status?: unknown }).status === 'number' && (err as { expose?: boolean }).expose) {
        const e = err as { status: number; message: string; headers?: Record<string, string> };
        error = new ScimError(e.status, e.message, KOA_STATUS_TYPES[e.status] as never, e.headers ?? {});
      } else {
        logger.error({ requestId: ctx.state.requestId, err }, 'unhandled error');
        error = new ScimError(500, 'Internal server error');
      }
      ctx.status = error.status;
      if (error instanceof ScimError) ctx.set(error.headers);
      if (
        ctx.path.startsWith('/admin/') ||
        ctx.path === '/console' ||
        ctx.path.startsWith('/console/') ||
        ctx.path === '/activate' ||
        ctx.path === '/reset-password' ||
        ctx.path.startsWith('/auth/')
      ) {
        const code = error instanceof AdminError ? error.code : (error.scimType ?? statusCode(error.status));
        ctx.body = { error: { code, message: error.message } };
      } else {
        ctx.body = errorBody(error as ScimError);
        ctx.type = SCIM_CONTENT_TYPE;
      }
    }
  };
}

function statusCode(status: number): string {
  const names: Record<number, string> = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    409: 'conflict',
    410: 'gone',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    429: 'too_many_requests',
    503: 'unavailable',
  };
  return names[status] ?? 'error';
}
