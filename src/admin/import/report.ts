/** The import's report (counts and failed lines) and the events that frame an import. */
import type { Actor, NewEvent } from '../../events/types.js';

/** Failed lines listed in the report; the counts stay exact. */
export const MAX_REPORTED_ERRORS = 1000;
/** Lines listed with `lines: true` (the console's preview table), the first done. */
export const MAX_REPORTED_LINES = 1000;

export interface ImportError {
  line: number;
  reason: string;
}

/** One line's outcome, reported with `lines: true`. */
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
  /** With `lines: true`: each line's outcome in line order (at most MAX_REPORTED_LINES). */
  lines?: ImportLine[];
}

export type Outcome = 'created' | 'updated' | 'unchanged';

/** The report being filled while the file is read. */
export function createTally(importId: string, dryRun: boolean, listLines = false) {
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
    ...(listLines ? { lines: [] } : {}),
  };
  const note = (entry: ImportLine) => {
    if (report.lines && report.lines.length < MAX_REPORTED_LINES) report.lines.push(entry);
  };
  const fail = (line: number, reason: string, userName?: string) => {
    report.failed++;
    note({ line, outcome: 'failed', ...(userName ? { userName } : {}), reason });
    if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, reason });
    else report.truncated = true;
  };
  return {
    report,
    fail,
    count(outcome: Outcome, line: number, userName: string) {
      report[outcome]++;
      note({ line, outcome, userName });
    },
    /** Stops the import (the first reason wins); the line is reported as failed. */
    abort(line: number, reason: string) {
      if (report.aborted) return;
      report.aborted = reason;
      fail(line, reason);
    },
    get stopped() {
      return report.aborted !== undefined;
    },
    /** The report as answered: failed lines in file order. */
    finish(): ImportReport {
      report.errors.sort((a, b) => a.line - b.line);
      report.lines?.sort((a, b) => a.line - b.line);
      return report;
    },
  };
}

export type Tally = ReturnType<typeof createTally>;

export function importStartEvent(importId: string, actor: Actor, columns: string[]): NewEvent {
  return { type: 'import_start', resource: { type: 'Import', id: importId }, initiatedBy: actor, details: { columns } };
}

export function importEndEvent(report: ImportReport, actor: Actor, durationMs: number): NewEvent {
  return {
    type: 'import_end',
    resource: { type: 'Import', id: report.importId },
    initiatedBy: actor,
    success: report.failed === 0 && !report.aborted,
    details: {
      total: report.total,
      created: report.created,
      updated: report.updated,
      unchanged: report.unchanged,
      failed: report.failed,
      ...(report.aborted ? { aborted: report.aborted } : {}),
      durationMs,
    },
  };
}
