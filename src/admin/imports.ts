/**
 * CSV import (POST /admin/v1/imports): one streamed pass over the file, rows written through the
 * user service with source `bulk` and no email. No I/O on Koa; the route hands in the body stream.
 *
 * Decisions (see README "CSV import"):
 * - Line numbers count physical lines, the header being line 1; a quoted value spanning lines is
 *   reported at the line where its record starts. Empty lines are skipped and not counted.
 * - A line is atomic: every check (columns, values, unknown manager, unknown group, duplicate in
 *   the file, uniqueness, password policy) runs before the user is written, and a failed line
 *   writes nothing. Group memberships are added right after the user (a crash between the two is
 *   repaired by importing the file again: memberships are idempotent).
 * - An existing userName (case-insensitive) is an update: the CSV-given attributes replace those
 *   of the user and the others are kept (a PUT of the current SCIM form with the CSV values laid
 *   over it, guarded by the version read). Empty cells leave attributes as they are; a CSV cannot
 *   clear an attribute. Groups are additive: the user is added to the listed groups and stays in
 *   others. A row that changes nothing writes nothing (`unchanged`).
 * - `manager` is the manager's userName. A manager further down the file is resolved once the
 *   file has been read (such rows wait until the end, up to MAX_DEFERRED of them).
 * - The same userName, company email or alternate email twice in the file: the later line fails.
 * - A CSV syntax error (an unclosed quote, a record over MAX_RECORD_CHARS) stops the import, since
 *   the parser cannot tell where the next record starts: the report says so (`aborted`), and the
 *   lines before it stay imported.
 * - Rows run MAX_IN_FLIGHT at a time; memory is bounded by that window plus the duplicate index
 *   (about 100-200 bytes per line) and the deferred rows.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import { type Db } from 'mongodb';
import { scimBaseUrl, type Config } from '../config/index.js';
import type { Actor, NewEvent } from '../events/types.js';
import type { MembershipRepository } from '../groups/memberships.js';
import type { GroupRepository } from '../groups/repository.js';
import { AdminError } from '../http/errors.js';
import { checkPasswordPolicy, verifyPassword } from '../lifecycle/passwords.js';
import { updatedLifecycle } from '../lifecycle/rules.js';
import { ScimError } from '../scim/errors.js';
import { etagFor } from '../scim/etag.js';
import type { Projection } from '../scim/projection.js';
import { companyEmail, normalize, validateResource, type ScimResource } from '../scim/validate.js';
import { toScimUser, type StoredUser } from '../users/mapping.js';
import type { UserService, WriteContext } from '../users/service.js';
import {
  csvRowToScimUser,
  ENTERPRISE_SCHEMA,
  LIFECYCLE_SCHEMA,
  mapCsvHeader,
  type ColumnSpec,
  type CsvUser,
} from './csvColumns.js';

export const MAX_IN_FLIGHT = 12;
/** Data lines per file (the header not counted). */
export const MAX_LINES = 1_000_000;
/** Longest record, in characters: bounds memory on a runaway quote. */
export const MAX_RECORD_CHARS = 64 * 1024;
/** Failed lines listed in the report; the counts stay exact. */
export const MAX_REPORTED_ERRORS = 1000;
export const MAX_REPORTED_LINES = 1000;
/** Rows whose manager comes later in the file, kept until the end. */
export const MAX_DEFERRED = 10_000;
/** Unexpected (non-validation) failures in a row before the import gives up (the database is down, say). */
const MAX_CONSECUTIVE_UNEXPECTED = 25;
const MAX_GROUP_CACHE = 10_000;
const UPDATE_ATTEMPTS = 3;
/** The answer of a write is not used: without `groups` the service skips the user's group lookup. */
const NO_GROUPS: Projection = { excludedAttributes: ['groups'] };

export interface ImportError {
  line: number;
  reason: string;
}

/** One line's outcome, reported with `lines: true` (the console's preview table). */
export interface ImportLine {
  line: number;
  outcome: Outcome | 'failed';
  userName?: string;
  reason?: string;
}

export interface ImportReport {
  importId: string;
  dryRun: boolean;
  /** Data lines read (empty lines not counted). */
  total: number;
  created: number;
  updated: number;
  /** Existing users the line would not change. */
  unchanged: number;
  failed: number;
  errors: ImportError[];
  /** True when more than MAX_REPORTED_ERRORS lines failed: `errors` holds the first ones. */
  truncated: boolean;
  /** Set when the import stopped before the end of the file (the reason is also in `errors`). */
  aborted?: string;
  /** With `lines: true`: each line's outcome in line order (at most MAX_REPORTED_LINES, the first done). */
  lines?: ImportLine[];
}

/** The header was refused: nothing was imported. */
export class ImportHeaderError extends AdminError {
  constructor(readonly reasons: string[]) {
    super(400, 'invalid_header', `The CSV header is not valid: ${reasons.join('; ')}`);
  }
}

export interface ImporterDeps {
  config: Config;
  db: Db;
  users: UserService;
  groups: GroupRepository;
  memberships: MembershipRepository;
  recordEvent(event: NewEvent): Promise<void>;
  now?: () => Date;
}

export interface ImportOptions {
  dryRun: boolean;
  /** Report every line's outcome (up to MAX_REPORTED_LINES), not only the failed ones. */
  lines?: boolean;
  actor: Actor;
}

export type Importer = ReturnType<typeof createImporter>;

class LineError extends Error {}

/** A row that passed the checks that need no database. */
interface Row {
  line: number;
  csv: CsvUser;
  userName: string;
  emails: string[];
}

type Outcome = 'created' | 'updated' | 'unchanged';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createImporter(deps: ImporterDeps) {
  const { config, users, groups, memberships } = deps;
  const now = deps.now ?? (() => new Date());
  const baseUrl = scimBaseUrl(config);
  const claims = deps.db.collection<{ _id: string; userId: string }>('email_claims');
  const userCollection = deps.db.collection<StoredUser>('users');

  async function run(body: Readable, options: ImportOptions): Promise<ImportReport> {
    const importId = randomUUID();
    const { dryRun, actor } = options;
    const ctx: WriteContext = { actor, source: 'bulk', sendEmail: false };
    const report: ImportReport = {
      importId,
      dryRun,
      total: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      failed: 0,
      errors: [],
      truncated: false,
      ...(options.lines ? { lines: [] } : {}),
    };
    const started = Date.now();

    function noteLine(entry: ImportLine) {
      if (report.lines && report.lines.length < MAX_REPORTED_LINES) report.lines.push(entry);
    }

    // Duplicate index over the file: normalized key -> line (negative once that line failed).
    const userNames = new Map<string, number>();
    const emailLines = new Map<string, number>();
    // Rows being written, by userName: a row whose manager is in flight waits for it.
    const inFlightByName = new Map<string, Promise<boolean>>();
    const inFlight = new Set<Promise<void>>();
    const deferred: Row[] = [];
    const groupCache = new Map<string, { id: string; displayName: string } | null>();
    const groupsTouched = new Map<string, number>();
    let consecutiveUnexpected = 0;
    let stop: string | undefined;

    function fail(line: number, reason: string, userName?: string) {
      report.failed++;
      noteLine({ line, outcome: 'failed', ...(userName ? { userName } : {}), reason });
      if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, reason });
      else report.truncated = true;
    }

    function abort(line: number, reason: string) {
      if (stop) return;
      stop = reason;
      report.aborted = reason;
      fail(line, reason);
    }

    async function resolveGroups(names: string[]): Promise<{ id: string; displayName: string }[]> {
      const keys = names.map(normalize);
      const missing = keys.filter((k) => !groupCache.has(k));
      if (missing.length) {
        if (groupCache.size > MAX_GROUP_CACHE) groupCache.clear();
        const found = await groups.findByDisplayNames([...new Set(missing)]);
        for (const k of missing) groupCache.set(k, null);
        for (const g of found) groupCache.set(g.norm.displayName, { id: g._id, displayName: g.displayName });
      }
      const unknown = names.filter((_, i) => !groupCache.get(keys[i]));
      if (unknown.length) {
        throw new LineError(
          `${unknown.length === 1 ? 'Group' : 'Groups'} ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'does' : 'do'} not exist`,
        );
      }
      return keys.map((k) => groupCache.get(k)!);
    }

    /** The manager's id; undefined while the manager may still come later in the file. */
    async function resolveManager(row: Row, final: boolean): Promise<string | undefined> {
      const name = row.csv.managerUserName;
      if (!name) return undefined;
      const key = normalize(name);
      const pending = inFlightByName.get(key);
      if (pending) await pending;
      const existing = await users.findByUserName(key);
      if (existing) return existing._id;
      const line = userNames.get(key);
      if (line !== undefined && line < 0) throw new LineError(`manager "${name}" failed to import (line ${-line})`);
      // In a dry run nothing is written: a manager on a good line of the file counts as found.
      if (dryRun && line !== undefined && line > 0 && line !== row.line) return `dry-run:${key}`;
      // Not written yet: it may come further down the file (or wait for its own manager there).
      if (final) throw new LineError(`manager "${name}" does not exist`);
      return undefined;
    }

    /** The company and alternate email must not belong to another user (dry run; writes check it themselves). */
    async function checkEmailsFree(emails: string[], selfId: string | undefined) {
      for (const email of emails) {
        const claim = await claims.findOne({ _id: email });
        if (!claim || claim.userId === selfId) continue;
        const holder = await userCollection.findOne({ _id: claim.userId }, { projection: { norm: 1 } });
        if (holder && [holder.norm.companyEmail, holder.norm.alternateEmail].includes(email)) {
          throw new LineError(`Email ${email} is already in use`);
        }
      }
    }

    function checkPassword(resource: ScimResource) {
      if (typeof resource.password !== 'string') return;
      const emails = ((resource.emails as { value: string }[] | undefined) ?? []).map((e) => e.value);
      const problem = checkPasswordPolicy(resource.password, config.passwords, {
        username: String(resource.userName),
        emails,
      });
      if (problem) throw new LineError(`password: ${problem}`);
    }

    async function addMemberships(userId: string, targets: { id: string }[]): Promise<number> {
      let added = 0;
      for (const group of targets) {
        const n = dryRun ? 0 : await memberships.addMembers(group.id, [{ id: userId, type: 'User' }]);
        if (n) groupsTouched.set(group.id, (groupsTouched.get(group.id) ?? 0) + n);
        added += n;
      }
      return added;
    }

    async function create(row: Row, input: ScimResource, targets: { id: string }[]): Promise<Outcome> {
      if (dryRun) {
        const resource = validateResource(input, { schemas: users.schemas, mode: 'create' });
        checkPassword(resource);
        await checkEmailsFree(row.emails, undefined);
        return 'created';
      }
      const { user } = await users.create(input, ctx, NO_GROUPS);
      await addMemberships(user._id, targets);
      return 'created';
    }

    /** Creates the user, or updates the one with this userName. */
    async function write(row: Row, input: ScimResource, targets: { id: string }[]): Promise<Outcome> {
      for (let attempt = 1; ; attempt++) {
        // One indexed lookup per line (no map of every user: the import's memory stays flat).
        const current = await users.findByUserName(row.userName);
        if (!current) {
          try {
            return await create(row, input, targets);
          } catch (err) {
            // Created by someone else meanwhile: update it instead.
            const other = err instanceof ScimError && err.status === 409 && attempt < UPDATE_ATTEMPTS;
            if (!other || !(await users.findByUserName(row.userName))) throw err;
            continue;
          }
        }
        if (
          typeof input.password === 'string' &&
          (await verifyPassword(input.password, current.secret?.passwordHash))
        ) {
          input = { ...input };
          delete input.password; // the same password again is no change
        }
        const existing = toScimUser(current, baseUrl, undefined);
        const merged = mergeForUpdate(existing, input);
        const before = validateResource(existing, { schemas: users.schemas, mode: 'replace', existing });
        const after = validateResource(merged, { schemas: users.schemas, mode: 'replace', existing });
        const stateGiven = Boolean((input[LIFECYCLE_SCHEMA] as { state?: string } | undefined)?.state);
        const same = comparable(before, stateGiven) === comparable(after, stateGiven);
        if (dryRun) {
          checkPassword(after);
          updatedLifecycle(current.lifecycle, {
            active: typeof after.active === 'boolean' ? after.active : undefined,
            extension: after[LIFECYCLE_SCHEMA] as never,
          });
          await checkEmailsFree(row.emails, current._id);
          const missing = await missingMemberships(current._id, targets);
          return same && missing === 0 ? 'unchanged' : 'updated';
        }
        if (!same) {
          try {
            await users.replace(current._id, merged, { ...ctx, ifMatch: etagFor(current.meta.version) }, NO_GROUPS);
          } catch (err) {
            // Someone else wrote the user between our read and our write: merge again onto theirs.
            if (err instanceof ScimError && err.status === 412 && attempt < UPDATE_ATTEMPTS) continue;
            throw err;
          }
        }
        const added = await addMemberships(current._id, targets);
        return same && added === 0 ? 'unchanged' : 'updated';
      }
    }

    async function missingMemberships(userId: string, targets: { id: string }[]): Promise<number> {
      let missing = 0;
      for (const t of targets) {
        if (!(await memberships.has(t.id, userId))) missing++;
      }
      return missing;
    }

    /** Resolves references and writes one row; never throws. */
    async function processRow(row: Row, final: boolean): Promise<boolean> {
      try {
        const managerId = await resolveManager(row, final);
        if (row.csv.managerUserName && managerId === undefined) {
          if (deferred.length >= MAX_DEFERRED) {
            throw new LineError(
              `manager "${row.csv.managerUserName}" does not exist yet (more than ${MAX_DEFERRED} lines name a manager further down the file; put managers first)`,
            );
          }
          deferred.push(row);
          return true;
        }
        const targets = await resolveGroups(row.csv.groups);
        const input = structuredClone(row.csv.user);
        if (managerId) {
          const enterprise = isObj(input[ENTERPRISE_SCHEMA]) ? input[ENTERPRISE_SCHEMA] : {};
          input[ENTERPRISE_SCHEMA] = { ...enterprise, manager: { value: managerId } };
          if (!(input.schemas as string[]).includes(ENTERPRISE_SCHEMA))
            (input.schemas as string[]).push(ENTERPRISE_SCHEMA);
          if (dryRun && managerId.startsWith('dry-run:')) {
            (input[ENTERPRISE_SCHEMA] as Record<string, unknown>).manager = { value: randomUUID() };
          }
        }
        const outcome = await write(row, input, targets);
        report[outcome]++;
        noteLine({ line: row.line, outcome, userName: String(row.csv.user.userName) });
        consecutiveUnexpected = 0;
        userNames.set(row.userName, row.line);
        return true;
      } catch (err) {
        userNames.set(row.userName, -row.line);
        if (err instanceof LineError || err instanceof ScimError || err instanceof AdminError) {
          consecutiveUnexpected = 0;
          fail(row.line, err.message, String(row.csv.user.userName));
        } else {
          consecutiveUnexpected++;
          fail(row.line, `unexpected error: ${(err as Error).message}`, String(row.csv.user.userName));
          if (consecutiveUnexpected >= MAX_CONSECUTIVE_UNEXPECTED) {
            abort(row.line, `stopped after ${consecutiveUnexpected} unexpected errors in a row`);
          }
        }
        return false;
      }
    }

    /** Checks that need no database, in file order, so duplicates are reported on the later line. */
    function prepare(line: number, record: string[], columns: ColumnSpec[], width: number): Row | undefined {
      if (record.length !== width) {
        fail(line, `The line has ${record.length} fields; the header has ${width}`);
        return undefined;
      }
      const cells: Record<string, string> = {};
      for (const column of columns) cells[column.header] = record[column.index];
      const csv = csvRowToScimUser(cells, columns);
      if (csv.errors.length) {
        fail(line, csv.errors.join('; '));
        return undefined;
      }
      const userName = normalize(String(csv.user.userName));
      const earlier = userNames.get(userName);
      if (earlier !== undefined) {
        fail(line, `Username "${String(csv.user.userName)}" is also on line ${Math.abs(earlier)}`);
        return undefined;
      }
      const company = companyEmail(csv.user);
      const alternate = (csv.user[LIFECYCLE_SCHEMA] as { alternateEmail?: string } | undefined)?.alternateEmail;
      const emails = [company, alternate].filter((e): e is string => Boolean(e)).map(normalize);
      for (const email of emails) {
        const other = emailLines.get(email);
        if (other !== undefined) {
          fail(line, `Email ${email} is also on line ${other}`);
          return undefined;
        }
      }
      userNames.set(userName, line);
      for (const email of emails) emailLines.set(email, line);
      return { line, csv, userName, emails };
    }

    function dispatch(row: Row) {
      const done = processRow(row, false);
      inFlightByName.set(row.userName, done);
      const settled: Promise<void> = done.then(() => {
        inFlight.delete(settled);
        if (inFlightByName.get(row.userName) === done) inFlightByName.delete(row.userName);
      });
      inFlight.add(settled);
    }

    const parser = parse({
      bom: true,
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: false,
      max_record_size: MAX_RECORD_CHARS,
      // A syntax error is fatal, but as a skip rather than a stream error: an error would drop the
      // records the parser has already produced and we have not read yet.
      skip_records_with_error: true,
      on_skip: (err) => {
        if (!syntaxError) syntaxError = { after: parser.info.records, message: err?.message ?? 'unreadable record' };
        return undefined;
      },
    });
    let syntaxError: { after: number; message: string } | undefined;
    const onSourceError = (err: Error) => parser.destroy(err);
    body.on('error', onSourceError);
    body.on('aborted', () => parser.destroy(new Error('the upload was interrupted')));
    body.pipe(parser);

    let columns: ColumnSpec[] | undefined;
    let width = 0;
    let lastLine = 0;
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
        if (syntaxError && info.records > syntaxError.after) break; // what follows an error is unreliable
        const line = lastLine + 1;
        lastLine = info.lines;
        if (!columns) {
          const header = mapCsvHeader(record);
          if (header.errors.length) throw new ImportHeaderError(header.errors);
          columns = header.columns;
          width = record.length;
          if (!dryRun) {
            await deps.recordEvent({
              type: 'import_start',
              resource: { type: 'Import', id: importId },
              initiatedBy: actor,
              details: { columns: columns.map((c) => c.header.trim()) },
            });
          }
          continue;
        }
        if (record.length === 1 && record[0].trim() === '') continue; // an empty line
        if (report.total >= MAX_LINES) {
          abort(line, `The file has more than ${MAX_LINES} lines; the rest was not imported`);
          break;
        }
        report.total++;
        const row = prepare(line, record, columns, width);
        if (row) dispatch(row);
        while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        if (stop) break;
      }
      if (!columns) {
        if (syntaxError) throw new ImportHeaderError([`CSV syntax error: ${syntaxError.message}`]);
        throw new AdminError(400, 'empty_file', 'The file is empty: the first line must be the header');
      }
      if (syntaxError) abort(lastLine + 1, `CSV syntax error: ${syntaxError.message}`);
    } catch (err) {
      if (err instanceof AdminError) {
        body.unpipe(parser);
        await Promise.all(inFlight);
        throw err;
      }
      const e = err as Error & { code?: string; lines?: number };
      abort(
        lastLine + 1,
        e.code?.startsWith('CSV_') ? `CSV syntax error: ${e.message}` : `reading the file failed: ${e.message}`,
      );
    } finally {
      body.unpipe(parser);
      body.off('error', onSourceError);
    }
    await Promise.all(inFlight);

    // Rows whose manager came later in the file: retry while that makes progress.
    while (deferred.length && !stop) {
      const batch = deferred.splice(0);
      const before = batch.length;
      for (let i = 0; i < batch.length; i += MAX_IN_FLIGHT) {
        await Promise.all(batch.slice(i, i + MAX_IN_FLIGHT).map((row) => processRow(row, false)));
      }
      if (deferred.length === before) {
        for (const row of deferred.splice(0)) await processRow(row, true);
      }
    }

    for (const [groupId, added] of groupsTouched) {
      const group = await groups.touch(groupId, now());
      if (group) {
        await deps.recordEvent({
          type: 'group_update',
          resource: { type: 'Group', id: group._id, username: group.displayName },
          initiatedBy: actor,
          changes: [{ field: 'members', from: { removed: 0 }, to: { added } }],
          details: { importId },
        });
      }
    }

    report.errors.sort((a, b) => a.line - b.line);
    report.lines?.sort((a, b) => a.line - b.line);
    if (!dryRun) {
      await deps.recordEvent({
        type: 'import_end',
        resource: { type: 'Import', id: importId },
        initiatedBy: actor,
        success: report.failed === 0 && !report.aborted,
        details: {
          total: report.total,
          created: report.created,
          updated: report.updated,
          unchanged: report.unchanged,
          failed: report.failed,
          ...(report.aborted ? { aborted: report.aborted } : {}),
          durationMs: Date.now() - started,
        },
      });
    }
    return report;
  }

  return { run };
}

/** The current SCIM form of a user with the CSV row's attributes laid over it (see the file comment). */
export function mergeForUpdate(existing: ScimResource, csv: ScimResource): ScimResource {
  const out = structuredClone(existing);
  delete out.id;
  delete out.meta;
  delete out.groups;
  for (const key of ['userName', 'displayName', 'title', 'userType', 'password']) {
    if (csv[key] !== undefined) out[key] = csv[key];
  }
  if (isObj(csv.name)) out.name = { ...(isObj(out.name) ? out.name : {}), ...csv.name };

  const csvEmail = Array.isArray(csv.emails) ? (csv.emails[0] as Record<string, unknown>) : undefined;
  if (csvEmail) {
    const emails = (Array.isArray(out.emails) ? out.emails : []) as Record<string, unknown>[];
    const company = companyEmail(out);
    const index = emails.findIndex((e) => e.value === company);
    if (index >= 0) emails[index] = { ...emails[index], value: csvEmail.value };
    else emails.unshift(csvEmail);
    out.emails = emails;
  }
  for (const phone of (Array.isArray(csv.phoneNumbers) ? csv.phoneNumbers : []) as Record<string, unknown>[]) {
    const phones = (Array.isArray(out.phoneNumbers) ? out.phoneNumbers : []) as Record<string, unknown>[];
    const index = phones.findIndex((p) => p.type === phone.type);
    if (index >= 0) phones[index] = { ...phones[index], value: phone.value };
    else phones.push(phone);
    out.phoneNumbers = phones;
  }
  const csvAddress = Array.isArray(csv.addresses) ? (csv.addresses[0] as Record<string, unknown>) : undefined;
  if (csvAddress) {
    const addresses = (Array.isArray(out.addresses) ? out.addresses : []) as Record<string, unknown>[];
    const index = addresses.findIndex((a) => a.type === 'work');
    // An address exported as its parts joined by ", " comes back unchanged: keep its structure.
    if (index < 0) addresses.push(csvAddress);
    else if (addressText(addresses[index]) !== csvAddress.formatted) {
      const { primary } = addresses[index];
      addresses[index] = { ...csvAddress, ...(primary !== undefined ? { primary } : {}) };
    }
    out.addresses = addresses;
  }
  for (const schema of [ENTERPRISE_SCHEMA, LIFECYCLE_SCHEMA]) {
    if (!isObj(csv[schema])) continue;
    out[schema] = { ...(isObj(out[schema]) ? out[schema] : {}), ...csv[schema] };
    const schemas = (Array.isArray(out.schemas) ? out.schemas : []) as string[];
    if (!schemas.includes(schema)) out.schemas = [...schemas, schema];
  }
  // An explicit state decides; the `active` read back must not pull the other way.
  if (isObj(csv[LIFECYCLE_SCHEMA]) && (csv[LIFECYCLE_SCHEMA] as Record<string, unknown>).state) delete out.active;
  return out;
}

/** A user's writable content for "does this line change anything": `$ref` is derived, `active` follows state. */
function comparable(resource: ScimResource, stateGiven: boolean): string {
  return JSON.stringify(resource, (key, value: unknown) => {
    if (key === '$ref') return undefined;
    if (key === 'active' && stateGiven) return undefined;
    return value;
  });
}

function addressText(address: Record<string, unknown>): string {
  if (typeof address.formatted === 'string' && address.formatted) return address.formatted;
  return ['streetAddress', 'locality', 'region', 'postalCode', 'country']
    .map((k) => (typeof address[k] === 'string' ? (address[k] as string).trim() : ''))
    .filter((p) => p !== '')
    .join(', ');
}
