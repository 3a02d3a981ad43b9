/**
 * The one vocabulary of refusals: what the rules say went wrong, thrown by services and
 * repositories, with no HTTP in them. One place, the errorHandler in src/http/errors.ts, answers
 * them: a SCIM error body (status, `scimType`) under /scim/v2, `{ error: { code, message } }` on
 * the admin API and the end-user endpoints (`code`, else `scimType`, else a name for the status).
 * The pure protocol module src/scim keeps its own ScimError, and the HTTP layer AdminError; both
 * are answered by the same handler.
 */
import { ScimError, type ScimType } from './scim/errors.js';

export interface ErrorDetails {
  /** Machine-readable code of the admin shape (e.g. "already_active"). */
  code?: string;
  /** The RFC 7644 §3.12 scimType a SCIM client gets. */
  scimType?: ScimType;
}

export abstract class DomainError extends Error {
  /** The HTTP status this kind of refusal is answered with. */
  abstract readonly status: number;
  readonly code?: string;
  readonly scimType?: ScimType;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    if (details.code) this.code = details.code;
    if (details.scimType) this.scimType = details.scimType;
  }
}

/** The input breaks a rule (a bad value, a weak password, an unknown parameter). */
export class InvalidError extends DomainError {
  readonly status = 400;
}

/** The caller may not do this. */
export class ForbiddenError extends DomainError {
  readonly status = 403;
}

export class NotFoundError extends DomainError {
  readonly status = 404;
}

/** The current state forbids it (a taken name, an already active user, a lost race). */
export class ConflictError extends DomainError {
  readonly status = 409;
}

/** The resource is no longer at the version the caller named (If-Match). */
export class PreconditionFailedError extends DomainError {
  readonly status = 412;
}

/** A refusal, as opposed to a failure: a DomainError, or a ScimError from the pure protocol module. */
export type Refusal = DomainError | ScimError;

export function isRefusal(err: unknown): err is Refusal {
  return err instanceof DomainError || err instanceof ScimError;
}
