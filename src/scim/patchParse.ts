/**
 * Reading a SCIM PATCH request (RFC 7644 §3.5.2): the body's operations and their paths
 * (`[urn:]attr[.sub]`, `[urn:]attr[filter][.sub]`, or a bare schema URN), checked and normalized.
 * Pure: no I/O. Applying them is patchApply.ts.
 */
import { badRequest } from './errors.js';
import { SCHEMA_URNS } from './schemaRegistry.js';

export const PATCH_OP_SCHEMA = SCHEMA_URNS.patchOp;
export const MAX_PATCH_OPERATIONS = 1000;
const MAX_PATH_LENGTH = 2048;

export type PatchOpName = 'add' | 'remove' | 'replace';

export interface ParsedPatchPath {
  /** Schema URN prefix as written (known Roster URNs are returned in canonical case). */
  urn?: string;
  /** Attribute name as written; '' when the path is a whole schema URN (e.g. the enterprise extension). */
  attribute: string;
  /**
   * The value filter inside [], trimmed, as text: parsed (parseFilter) once where the operation is applied,
   * by applyPatch or, for a group's members, by the member edits of src/groups.
   */
  filter?: string;
  subAttribute?: string;
}

export interface PatchOperation {
  op: PatchOpName;
  path?: ParsedPatchPath;
  value?: unknown;
  rawPath?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalidSyntax = (detail: string) => badRequest('invalidSyntax', detail);
const invalidPath = (detail: string) => badRequest('invalidPath', detail);
const invalidValue = (detail: string) => badRequest('invalidValue', detail);
const noTarget = (detail: string) => badRequest('noTarget', detail);

/** Own property by exact name, else by case-insensitive name (JSON attribute names are case-insensitive). */
export function getCI(obj: Json, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

export const hasCI = (obj: Json, name: string) => Object.keys(obj).some((k) => k.toLowerCase() === name.toLowerCase());

export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw invalidSyntax('PATCH request body must be a JSON object');
  const schemas = getCI(body, 'schemas');
  const patchOp = PATCH_OP_SCHEMA.toLowerCase();
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === patchOp)) {
    throw invalidSyntax(`schemas must contain "${PATCH_OP_SCHEMA}"`);
  }
  const operations = getCI(body, 'Operations');
  if (!Array.isArray(operations)) throw invalidSyntax('Operations must be an array');
  if (operations.length === 0) throw invalidSyntax('Operations must not be empty');
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw invalidSyntax(`Operations has ${operations.length} entries; at most ${MAX_PATCH_OPERATIONS} are allowed`);
  }
  return operations.map((raw, index) => parseOperation(raw, index));
}

function parseOperation(raw: unknown, index: number): PatchOperation {
  const where = `Operations[${index}]`;
  if (!isObject(raw)) throw invalidSyntax(`${where} must be an object`);
  const name = getCI(raw, 'op');
  if (typeof name !== 'string') throw invalidSyntax(`${where}.op is missing`);
  const op = name.toLowerCase();
  if (op !== 'add' && op !== 'remove' && op !== 'replace') {
    throw invalidSyntax(`${where}.op "${name.slice(0, 50)}" is not one of add, remove, replace`);
  }
  const rawPath = getCI(raw, 'path');
  let path: ParsedPatchPath | undefined;
  if (rawPath !== undefined && rawPath !== null) {
    if (typeof rawPath !== 'string') throw invalidPath(`${where}.path must be a string`);
    path = parsePatchPath(rawPath);
  }
  const hasValue = hasCI(raw, 'value') && getCI(raw, 'value') !== undefined;
  const value = getCI(raw, 'value');
  if (op === 'remove') {
    if (!path) throw noTarget(`${where}: remove needs a path`);
  } else {
    if (!hasValue) throw invalidValue(`${where}: ${op} needs a value`);
    if (!path && !isObject(value)) {
      throw invalidValue(`${where}: without a path, value must be an object of attributes`);
    }
  }
  return {
    op,
    ...(path ? { path, rawPath: rawPath as string } : {}),
    ...(hasValue ? { value } : {}),
  };
}

const KNOWN_URNS = [SCHEMA_URNS.user, SCHEMA_URNS.group, SCHEMA_URNS.enterprise, SCHEMA_URNS.lifecycle].sort(
  (a, b) => b.length - a.length,
);
const NAME = /^(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;
const URN = /^urn:[A-Za-z0-9._~%!$&'()*+,;=:@/-]+$/i;

/** Parses a PATCH path: `[urn:]attr[.sub]`, `[urn:]attr[filter][.sub]`, or a bare schema URN. 400 invalidPath. */
export function parsePatchPath(raw: string): ParsedPatchPath {
  const text = raw.trim();
  const bad = (why: string) => invalidPath(`invalid path "${text.slice(0, 200)}": ${why}`);
  if (!text) throw bad('empty');
  if (text.length > MAX_PATH_LENGTH) throw bad('too long');
  let urn: string | undefined;
  let rest = text;
  const lower = text.toLowerCase();
  const known = KNOWN_URNS.find((u) => lower === u.toLowerCase() || lower.startsWith(`${u.toLowerCase()}:`));
  if (known) {
    urn = known;
    if (lower === known.toLowerCase()) return { urn, attribute: '' };
    rest = text.slice(known.length + 1);
  } else if (lower.startsWith('urn:')) {
    const bracket = text.indexOf('[');
    const head = bracket < 0 ? text : text.slice(0, bracket);
    const colon = head.lastIndexOf(':');
    urn = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (!URN.test(urn) || urn.split(':').length < 3) throw bad('malformed schema URN');
  }
  // rest := attr ( '[' filter ']' )? ( '.' sub )?
  const nameMatch = /^[^.[\]\s]*/.exec(rest)![0];
  if (!NAME.test(nameMatch)) throw bad('expected an attribute name');
  const result: ParsedPatchPath = { ...(urn ? { urn } : {}), attribute: nameMatch };
  let i = nameMatch.length;
  if (rest[i] === '[') {
    const end = closingBracket(rest, i);
    if (end < 0) throw bad('unterminated value filter');
    const filter = rest.slice(i + 1, end).trim();
    if (!filter) throw bad('empty value filter');
    result.filter = filter;
    i = end + 1;
  }
  if (rest[i] === '.') {
    const sub = rest.slice(i + 1);
    if (!NAME.test(sub)) throw bad('expected a sub-attribute name');
    result.subAttribute = sub;
    i = rest.length;
  }
  if (i !== rest.length) throw bad(`unexpected "${rest.slice(i, i + 20)}"`);
  return result;
}

/** Index of the ']' closing the '[' at `open`, skipping quoted strings; -1 when missing or nested. */
function closingBracket(text: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[') return -1;
    else if (ch === ']') return i;
  }
  return -1;
}
