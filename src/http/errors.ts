import type { Context, Next } from 'koa';
import {
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { DomainError } from '../errors.js';
import { errorBody, ScimError, type ScimType } from '../scim/errors.js';
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
 * refused or broken connection to PostgreSQL; on Citus, a worker node the coordinator cannot reach).
 */
const DATABASE_DOWN =
  /not primary|shutdown|shutting down|connection .* closed|SQLSTATE 57P0[1-3]|terminating connection|failed to connect|connection refused|unexpected EOF|conn closed|connection to the remote node/i;

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

const KOA_STATUS_TYPES: Record<number, ScimType> = { 400: 'invalidSyntax' };

/** One error as answered: from a DomainError (src/errors.ts), a ScimError or an AdminError. */
export interface Answer {
  status: number;
  message: string;
  code?: string;
  scimType?: ScimType;
  headers: Record<string, string>;
}

/** The answer to a refusal (DomainError, ScimError, AdminError); undefined for anything else. */
export function refusalAnswer(err: unknown): Answer | undefined {
  if (err instanceof DomainError) {
    return { status: err.status, message: err.message, code: err.code, scimType: err.scimType, headers: {} };
  }
  if (err instanceof ScimError) {
    return { status: err.status, message: err.message, scimType: err.scimType, headers: err.headers };
  }
  if (err instanceof AdminError) return { status: err.status, message: err.message, code: err.code, headers: {} };
  return undefined;
}

/** Refusals as they say, a database going away as 503, Koa's own errors as they are, anything else 500. */
function answerTo(err: unknown, ctx: Context, logger: Logger): Answer {
  const refusal = refusalAnswer(err);
  if (refusal) return refusal;
  if (isDatabaseUnavailable(err)) {
    logger.warn({ requestId: ctx.state.requestId, err: (err as Error).message }, 'database unavailable');
    return { status: 503, message: 'The database is unavailable; retry later', headers: { 'Retry-After': '5' } };
  }
  if (typeof (err as { status?: unknown }).status === 'number' && (err as { expose?: boolean }).expose) {
    const e = err as { status: number; message: string; headers?: Record<string, string> };
    return { status: e.status, message: e.message, scimType: KOA_STATUS_TYPES[e.status], headers: e.headers ?? {} };
  }
  logger.error({ requestId: ctx.state.requestId, err }, 'unhandled error');
  return { status: 500, message: 'Internal server error', headers: {} };
}

/**
 * The body a refusal is answered with: a SCIM error (RFC 7644 §3.12), or the admin API's and the
 * end-user endpoints' `{ error: { code, message } }`. The router that owns a route declares it
 * (createRouter's `errorShape`); a request no router declared for gets a SCIM error.
 */
export type ErrorShape = 'scim' | 'admin';

/** Declares the error shape of the requests that reach it; the first middleware of a router. */
export function declareErrorShape(shape: ErrorShape) {
  return async function errorShape(ctx: Context, next: Next) {
    ctx.state.errorShape = shape;
    await next();
  };
}

/** `{ error: { code, message } }`: the code given, else the scimType, else a name for the status. */
function adminErrorBody(error: { status: number; message: string; code?: string; scimType?: ScimType }) {
  return { error: { code: error.code ?? error.scimType ?? statusCode(error.status), message: error.message } };
}

/**
 * The one place failures become answers: refusals (DomainError, ScimError, AdminError) as they
 * say, a database going away as 503, Koa's own errors as they are, anything else a 500 without a
 * stack trace. The body in the shape the route's router declared (`ctx.state.errorShape`), a SCIM
 * error when none did.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ScimError(404, `No endpoint at ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const error = answerTo(err, ctx, logger);
      ctx.status = error.status;
      ctx.set(error.headers);
      if ((ctx.state.errorShape as ErrorShape | undefined) === 'admin') {
        ctx.body = adminErrorBody(error);
      } else {
        ctx.body = errorBody(error);
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
