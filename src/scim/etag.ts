import { ScimError } from './errors.js';

/** meta.version and the ETag header: a weak tag of the resource's write counter. */
export function etagFor(version: number): string {
  return `W/"${version}"`;
}

function tags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => t.replace(/^W\//, ''));
}

/** Weak comparison (RFC 7232 §2.3.2), whatever the client sent: "3" and W/"3" match. */
export function etagMatches(header: string, version: number): boolean {
  const current = `"${version}"`;
  return tags(header).some((t) => t === '*' || t === current);
}

/** If-Match on writes: 412 when the client's version is stale. */
export function checkIfMatch(header: string | undefined, version: number): void {
  if (header && !etagMatches(header, version)) {
    throw new ScimError(412, `The resource has changed (current version ${etagFor(version)})`);
  }
}
