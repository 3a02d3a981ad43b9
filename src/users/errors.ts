/** What the user repository refuses with. */

/** Another user has this userName, or holds this address (company or alternate email). */
export class DuplicateError extends Error {
  constructor(
    readonly field: 'userName' | 'email',
    readonly value: string,
  ) {
    super(`${field} ${value} is already taken`);
  }
}

/** The user's version changed since it was read (optimistic concurrency). */
export class VersionConflictError extends Error {}
