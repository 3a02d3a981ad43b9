/** The email rules of a user: what counts as an address, and which of a user's addresses is the company one. */

/**
 * One plain address (local@domain). Separators, quotes, brackets and spaces are refused: mailers read
 * `victim,attacker@evil.example` or `"x" <attacker@evil.example>` as other recipients than the
 * string that uniqueness checked. `dottedDomain`: the domain must also hold a dot inside it, for
 * addresses people type (a CSV file), where `jane@example` is a typo rather than a host name.
 */
export function isEmailAddress(value: string, { dottedDomain = false } = {}): boolean {
  if (value.length > 254 || !/^[^\s\p{Cc}@,;<>"()[\]\\:]+@[^\s\p{Cc}@,;<>"()[\]\\:]+$/u.test(value)) return false;
  return !dottedDomain || value.slice(value.indexOf('@') + 2, -1).includes('.');
}

/** The company email: primary, else type work, else the first. */
export function companyEmail(resource: Record<string, unknown>): string | undefined {
  const emails = (resource.emails as { value?: string; type?: string; primary?: boolean }[] | undefined) ?? [];
  const chosen =
    emails.find((e) => e.primary === true) ?? emails.find((e) => e.type?.toLowerCase() === 'work') ?? emails[0];
  return chosen?.value;
}
