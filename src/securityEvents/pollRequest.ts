import { receiverError, type SetError } from './outbox.js';

/** A poll request (RFC 8936 section 2.1), validated. */
export interface PollRequest {
  ack: string[];
  setErrs: Record<string, SetError>;
  maxEvents: number;
  returnImmediately: boolean;
}

export class PollError extends Error {
  constructor(
    readonly status: number,
    readonly err: string,
    description: string,
  ) {
    super(description);
  }
}

const invalid = (description: string) => new PollError(400, 'invalid_request', description);

/** Reads a poll body; `maxEvents` absent means the configured most. */
export function readPollRequest(body: unknown, maxEventsLimit: number): PollRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object');
  const { ack = [], setErrs = {}, maxEvents, returnImmediately = false, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw invalid(`unknown member ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (!Array.isArray(ack) || ack.some((j) => typeof j !== 'string'))
    throw invalid('ack must be an array of jti strings');
  if (ack.length > 10_000) throw invalid('ack lists more than 10000 SETs');
  if (typeof setErrs !== 'object' || setErrs === null || Array.isArray(setErrs)) {
    throw invalid('setErrs must be an object of jti to {err, description}');
  }
  const errors: Record<string, SetError> = {};
  for (const [jti, value] of Object.entries(setErrs as Record<string, unknown>)) {
    const err = (value as { err?: unknown } | null)?.err;
    const description = (value as { description?: unknown } | null)?.description;
    if (typeof err !== 'string' || (description !== undefined && typeof description !== 'string')) {
      throw invalid(`setErrs["${jti}"] must be {"err": string, "description"?: string}`);
    }
    errors[jti] = receiverError(value, 'the receiver reported it in setErrs');
  }
  if (maxEvents !== undefined && (!Number.isInteger(maxEvents) || (maxEvents as number) < 0)) {
    throw invalid('maxEvents must be a whole number, 0 or more');
  }
  if (typeof returnImmediately !== 'boolean') throw invalid('returnImmediately must be true or false');
  return {
    ack: [...new Set(ack as string[])],
    setErrs: errors,
    maxEvents: Math.min((maxEvents as number | undefined) ?? maxEventsLimit, maxEventsLimit),
    returnImmediately,
  };
}
