/** SCIM attribute paths (RFC 7644 §3.10): `[URN ":"] ATTRNAME ["." subAttr]`, as used by filters, sortBy and attributes. */
import { ScimError } from './errors.js';

export interface AttributePath {
  /** schema URN exactly as written, e.g. 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' */
  urn?: string;
  attribute: string;
  subAttribute?: string;
}

/** RFC 7643 ATTRNAME (ALPHA *(nameChar)); a leading `$` admits `$ref`. */
export const ATTRNAME = /^\$?[A-Za-z][A-Za-z0-9_-]*$/;
/** A URN: `urn:` NID then colon-separated segments (no empty segment). Linear: segments cannot contain ':'. */
const URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]*(?::[A-Za-z0-9()+,\-.=@;$_!*'%/]+)+$/i;

export const MAX_PATH_LENGTH = 1000;

/** Quotes user input for an error message: JSON-escaped (no control characters) and cut to a readable length. */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Parses a path; returns the reason as a string when it is not a valid attribute path. */
export function tryParseAttributePath(path: string): AttributePath | string {
  if (typeof path !== 'string' || path.length === 0) return 'the attribute path is empty';
  if (path.length > MAX_PATH_LENGTH) return 'the attribute path is too long';
  let urn: string | undefined;
  let rest = path;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    urn = path.slice(0, colon);
    rest = path.slice(colon + 1);
    if (!URN.test(urn)) return `${quote(urn)} is not a schema URN`;
  }
  const parts = rest.split('.');
  if (parts.length > 2) return `${quote(path)} has more than one sub-attribute`;
  for (const part of parts) {
    if (!ATTRNAME.test(part)) return `${quote(part)} is not a valid attribute name in ${quote(path)}`;
  }
  return {
    ...(urn !== undefined ? { urn } : {}),
    attribute: parts[0],
    ...(parts[1] ? { subAttribute: parts[1] } : {}),
  };
}

/**
 * Parses a sortBy / attributes path like 'name.givenName', 'emails.value',
 * 'urn:...:User:employeeNumber', 'urn:...:User:manager.value'. Throws ScimError 400 invalidPath on nonsense.
 */
export function parseAttributePath(path: string): AttributePath {
  const parsed = tryParseAttributePath(path);
  if (typeof parsed === 'string') throw new ScimError(400, `Invalid attribute path: ${parsed}`, 'invalidPath');
  return parsed;
}
