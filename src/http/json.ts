import type { Context } from 'koa';
import { MAX_JSON_DEPTH, nestedDeeperThan, readRawBody } from './body.js';
import { AdminError } from './errors.js';

/** Admin API JSON bodies: optional (empty means {}), an object, at most 1 MiB. */
export async function readJsonObject(ctx: Context, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  const raw = (await readRawBody(ctx, limit)).toString('utf8').trim();
  if (!raw) return {};
  if (!ctx.is('application/json')) throw new AdminError(415, 'unsupported_media_type', 'Send application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new AdminError(400, 'invalid_json', 'The body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AdminError(400, 'invalid_body', 'The body must be a JSON object');
  }
  if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) {
    throw new AdminError(400, 'invalid_body', `The body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return parsed as Record<string, unknown>;
}
