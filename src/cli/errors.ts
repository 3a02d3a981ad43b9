/** A failure to report as `roster: <message>` with an exit code (1 runtime, 2 usage or configuration). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Wrong command line: exit code 2 and a pointer to the help. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly helpFor?: string,
  ) {
    super(message, 2);
  }
}

/** The server answered with a non-2xx status. */
export class ApiError extends CliError {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly serverMessage: string,
  ) {
    super(ApiError.describe(status, code, serverMessage), 1);
  }

  static describe(status: number, code: string | undefined, serverMessage: string): string {
    let hint = '';
    if (status === 401) hint = ' (check ROSTER_ADMIN_TOKEN)';
    if (status === 403) hint = ' (ROSTER_ADMIN_TOKEN must be an admin token, not a SCIM token)';
    return `server answered ${status}${code ? ` ${code}` : ''}: ${serverMessage}${hint}`;
  }
}
