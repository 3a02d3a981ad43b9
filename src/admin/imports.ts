/**
 * CSV import (POST /admin/v1/imports): one streamed pass over the file, each line judged and
 * written by the user service (source `bulk`, no email), as a SCIM POST or PUT would be. The route
 * hands in the body stream. The parts: import/parse.ts (CSV -> records), import/validate.ts (what
 * only the file can tell: shape, duplicates in the file, references by name), import/apply.ts (the
 * write), import/report.ts (counts, failed lines, events).
 *
 * Decisions (see README "CSV import"):
 * - Empty lines are skipped and not counted.
 * - A line is atomic: every check runs before the user is written, and a failed line writes nothing.
 * - `manager` is the manager's userName. A manager further down the file is resolved once the
 *   file has been read (such rows wait until the end, up to MAX_DEFERRED of them).
 * - The same userName, company email or alternate email twice in the file: the later line fails.
 * - A CSV syntax error (an unclosed quote, a record over MAX_RECORD_CHARS) stops the import, since
 *   the parser cannot tell where the next record starts: the report says so (`aborted`), and the
 *   lines before it stay imported.
 * - Rows run MAX_IN_FLIGHT at a time, their database calls in batches; memory is bounded by that
 *   window plus the duplicate index (import/lineTable.ts: 50-150 bytes per line) and the deferred rows.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Env } from '../events/env.js';
import type { Actor } from '../events/types.js';
import type { MembershipRepository } from '../groups/membershipRepository.js';
import type { GroupRepository } from '../groups/repository.js';
import type { GroupService } from '../groups/service.js';
import type { UserRepository } from '../users/repository.js';
import { DomainError, InvalidError, isRefusal } from '../errors.js';
import type { UserService, WriteContext } from '../users/service.js';
import { mapCsvHeader, type ColumnSpec } from './csvColumns.js';
import { BATCH_SIZE, createWriter, type Writer } from './import/apply.js';
import { CsvReadError, csvRecords } from './import/parse.js';
import { createTally, importEndEvent, importStartEvent, type ImportReport } from './import/report.js';
import { createFileIndex, createReferences, LineError, MAX_DEFERRED, type Row } from './import/validate.js';

export { MAX_RECORD_CHARS } from './import/parse.js';
export { MAX_REPORTED_ERRORS, type ImportError, type ImportReport } from './import/report.js';
export { MAX_DEFERRED } from './import/validate.js';

/** Enough rows in flight to fill a few batches (import/apply.ts), so the database always has one to write. */
export const MAX_IN_FLIGHT = 2 * BATCH_SIZE;
/** Data lines per file (the header not counted). */
export const MAX_LINES = 1_000_000;
/** Unexpected (non-validation) failures in a row before the import gives up (the database is down, say). */
const MAX_CONSECUTIVE_UNEXPECTED = 25;

/** The header was refused: nothing was imported. */
export class ImportHeaderError extends InvalidError {
  constructor(readonly reasons: string[]) {
    super(`The CSV header is not valid: ${reasons.join('; ')}`, { code: 'invalid_header' });
  }
}

export interface ImporterDeps {
  users: UserService;
  /** Users looked up by userName (the rows', many at once). */
  userRecords: Pick<UserRepository, 'findByUserNames'>;
  /** The groups' version and event once the import added members to them. */
  groups: GroupService;
  /** Groups looked up by display name (the rows' `groups` column). */
  groupRecords: Pick<GroupRepository, 'findByDisplayNames'>;
  memberships: MembershipRepository;
  /** The event recorder (src/events/env.ts). */
  env: Pick<Env, 'recordEvent'>;
}

export interface ImportOptions {
  dryRun: boolean;
  /** Report every line's outcome (up to MAX_REPORTED_LINES), not only the failed ones. */
  lines?: boolean;
  actor: Actor;
}

interface RowProcessorDeps {
  references: ReturnType<typeof createReferences>;
  writer: Writer;
  tally: ReturnType<typeof createTally>;
  file: ReturnType<typeof createFileIndex>;
  /** Rows whose manager is further down the file, filled here and retried by the import. */
  deferred: Row[];
}

/** One row's references resolved and its user written (or deferred, or failed in the report). */
function createRowProcessor({ references, writer, tally, file, deferred }: RowProcessorDeps) {
  let consecutiveUnexpected = 0;

  /** Resolves references and writes one row; never throws. */
  return async function processRow(row: Row, final: boolean): Promise<boolean> {
    try {
      const managerId = await references.manager(row, final);
      if (row.csv.managerUserName && managerId === undefined) {
        if (deferred.length >= MAX_DEFERRED) {
          throw new LineError(
            `manager "${row.csv.managerUserName}" does not exist yet (more than ${MAX_DEFERRED} lines name a manager further down the file; put managers first)`,
          );
        }
        deferred.push(row);
        return true;
      }
      const targets = await references.groups(row.csv.groups);
      const outcome = await writer.write(row, writer.inputOf(row, managerId), targets);
      tally.count(outcome, row.line, String(row.csv.user.userName));
      consecutiveUnexpected = 0;
      file.succeeded(row);
      return true;
    } catch (err) {
      file.failed(row);
      if (err instanceof LineError || isRefusal(err)) {
        consecutiveUnexpected = 0;
        tally.fail(row.line, err.message, String(row.csv.user.userName));
      } else {
        consecutiveUnexpected++;
        tally.fail(row.line, `unexpected error: ${(err as Error).message}`, String(row.csv.user.userName));
        if (consecutiveUnexpected >= MAX_CONSECUTIVE_UNEXPECTED) {
          tally.abort(row.line, `stopped after ${consecutiveUnexpected} unexpected errors in a row`);
        }
      }
      return false;
    }
  };
}

export type Importer = ReturnType<typeof createImporter>;

export function createImporter(deps: ImporterDeps) {
  const { users, groups, memberships } = deps;

  async function run(body: Readable, options: ImportOptions): Promise<ImportReport> {
    const importId = randomUUID();
    const { dryRun, actor } = options;
    const started = Date.now();
    const tally = createTally(importId, dryRun, options.lines);
    const ctx: WriteContext = { actor, source: 'bulk', sendEmail: false, dryRun };
    const writer = createWriter({ users, records: deps.userRecords, memberships, ctx });
    const file = createFileIndex();
    // Rows being written, by userName: a row whose manager is in flight waits for it.
    const inFlightByName = new Map<string, Promise<boolean>>();
    const inFlight = new Set<Promise<void>>();
    const references = createReferences({
      findByUserName: writer.findByUserName,
      groups: deps.groupRecords,
      file,
      dryRun,
      inFlight: (userName) => inFlightByName.get(userName),
    });
    const deferred: Row[] = [];
    const processRow = createRowProcessor({ references, writer, tally, file, deferred });

    // Wakes the reader waiting for a free place among the rows in flight.
    let placeFreed: (() => void) | undefined;
    function dispatch(row: Row) {
      const done = processRow(row, false);
      inFlightByName.set(row.userName, done);
      const settled: Promise<void> = done.then(() => {
        inFlight.delete(settled);
        if (inFlightByName.get(row.userName) === done) inFlightByName.delete(row.userName);
        placeFreed?.();
      });
      inFlight.add(settled);
    }

    let columns: ColumnSpec[] | undefined;
    let width = 0;
    let lastLine = 0;
    try {
      for await (const { line, endLine, fields, empty } of csvRecords(body)) {
        lastLine = endLine;
        if (!columns) {
          const header = mapCsvHeader(fields);
          if (header.errors.length) throw new ImportHeaderError(header.errors);
          columns = header.columns;
          width = fields.length;
          if (!dryRun)
            await deps.env.recordEvent(
              importStartEvent(
                importId,
                actor,
                columns.map((c) => c.header.trim()),
              ),
            );
          continue;
        }
        if (empty) continue;
        if (tally.report.total >= MAX_LINES) {
          tally.abort(line, `The file has more than ${MAX_LINES} lines; the rest was not imported`);
          break;
        }
        tally.report.total++;
        const row = file.prepare(line, fields, columns, width);
        if (typeof row === 'string') tally.fail(line, row);
        else dispatch(row);
        // Not Promise.race(inFlight): that adds a callback to every row in flight for every line.
        while (inFlight.size >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (placeFreed = resolve));
        if (tally.stopped) break;
      }
      if (!columns)
        throw new InvalidError('The file is empty: the first line must be the header', { code: 'empty_file' });
    } catch (err) {
      if (err instanceof CsvReadError && !columns && err.syntax) {
        await Promise.all(inFlight);
        throw new ImportHeaderError([err.message]);
      }
      if (err instanceof DomainError) {
        await Promise.all(inFlight);
        throw err;
      }
      if (err instanceof CsvReadError) tally.abort(err.line, err.message);
      else tally.abort(lastLine + 1, `reading the file failed: ${(err as Error).message}`);
    }
    await Promise.all(inFlight);

    // Rows whose manager came later in the file: retry while that makes progress.
    while (deferred.length && !tally.stopped) {
      const batch = deferred.splice(0);
      const before = batch.length;
      for (let i = 0; i < batch.length; i += MAX_IN_FLIGHT) {
        await Promise.all(batch.slice(i, i + MAX_IN_FLIGHT).map((row) => processRow(row, false)));
      }
      if (deferred.length === before) {
        for (const row of deferred.splice(0)) await processRow(row, true);
      }
    }

    for (const [groupId, added] of writer.groupsTouched) await groups.membersAdded(groupId, added, actor, { importId });
    const report = tally.finish();
    if (!dryRun) await deps.env.recordEvent(importEndEvent(report, actor, Date.now() - started));
    return report;
  }

  return { run };
}
