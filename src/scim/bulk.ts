import { badRequest, errorBody, ScimError, type ErrorLike } from './errors.js';
import { SCHEMA_URNS } from './schemaRegistry.js';

export interface BulkOperation {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}

export interface BulkRequest {
  failOnErrors?: number;
  operations: BulkOperation[];
}

export interface BulkResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

/** Checks a BulkRequest (RFC 7644 §3.7); too many operations is 413 per §3.7.4. */
export function parseBulkRequest(body: unknown, maxOperations: number): BulkRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalidSyntax', 'The bulk request must be a JSON object');
  }
  const request = body as Record<string, unknown>;
  const schemas = request.schemas;
  if (
    !Array.isArray(schemas) ||
    !schemas.some((s) => String(s).toLowerCase() === SCHEMA_URNS.bulkRequest.toLowerCase())
  ) {
    throw badRequest('invalidSyntax', `"schemas" must contain ${SCHEMA_URNS.bulkRequest}`);
  }
  const operations = request.Operations ?? request.operations;
  if (!Array.isArray(operations)) throw badRequest('invalidSyntax', '"Operations" must be an array');
  if (operations.length > maxOperations) {
    throw new ScimError(413, `The bulk request has ${operations.length} operations; the maximum is ${maxOperations}`);
  }
  const failOnErrors = request.failOnErrors;
  if (failOnErrors !== undefined && (!Number.isInteger(failOnErrors) || (failOnErrors as number) < 1)) {
    throw badRequest('invalidValue', '"failOnErrors" must be a positive integer');
  }
  const seen = new Set<string>();
  return {
    failOnErrors: failOnErrors as number | undefined,
    operations: operations.map((op, i) => {
      if (typeof op !== 'object' || op === null) throw badRequest('invalidSyntax', `Operation ${i} must be an object`);
      const { method, bulkId, version, path, data } = op as Record<string, unknown>;
      const upper = typeof method === 'string' ? method.toUpperCase() : '';
      if (!METHODS.includes(upper))
        throw badRequest('invalidSyntax', `Operation ${i}: method must be POST, PUT, PATCH or DELETE`);
      if (typeof path !== 'string' || !path.startsWith('/'))
        throw badRequest('invalidSyntax', `Operation ${i}: "path" is required`);
      if (upper === 'POST' && typeof bulkId !== 'string')
        throw badRequest('invalidSyntax', `Operation ${i}: POST needs a "bulkId"`);
      if (typeof bulkId === 'string') {
        if (seen.has(bulkId)) throw badRequest('invalidSyntax', `bulkId "${bulkId}" is used twice`);
        seen.add(bulkId);
      }
      if (upper !== 'DELETE' && (typeof data !== 'object' || data === null)) {
        throw badRequest('invalidSyntax', `Operation ${i}: "data" is required for ${upper}`);
      }
      return {
        method: upper as BulkOperation['method'],
        ...(typeof bulkId === 'string' ? { bulkId } : {}),
        ...(typeof version === 'string' ? { version } : {}),
        path,
        data,
      };
    }),
  };
}

/** bulkIds referenced as "bulkId:<id>" anywhere in an operation's path or data. */
export function referencedBulkIds(op: BulkOperation): string[] {
  const found = new Set<string>();
  const visit = (value: unknown) => {
    if (typeof value === 'string') {
      const m = /^bulkId:(.+)$/.exec(value);
      if (m) found.add(m[1]);
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(op.data);
  for (const m of op.path.matchAll(/bulkId:([^/]+)/g)) found.add(m[1]);
  return [...found];
}

/** Replaces "bulkId:<id>" references with the ids created earlier in the request. */
export function substituteBulkIds<T>(value: T, ids: Map<string, string>): T {
  const swap = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^bulkId:(.+)$/.exec(v);
      return m && ids.has(m[1]) ? ids.get(m[1]) : v;
    }
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  return swap(value) as T;
}

export function errorResult(op: BulkOperation, error: ErrorLike): BulkResult {
  return {
    method: op.method,
    ...(op.bulkId ? { bulkId: op.bulkId } : {}),
    status: String(error.status),
    response: errorBody(error),
  };
}

export function bulkResponse(results: BulkResult[]) {
  return { schemas: [SCHEMA_URNS.bulkResponse], Operations: results };
}
