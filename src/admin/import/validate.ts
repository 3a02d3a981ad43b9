/**
 * The checks of a line that the user service cannot make, because they need the file: the line's
 * shape, the same userName or email twice in the file, and the references by name (groups, the
 * manager's userName). Every check of the user itself is the user service's (see apply.ts).
 */
import type { GroupRepository } from '../../groups/repository.js';
import { normalize } from '../../scim/validate.js';
import { companyEmail } from '../../users/emailAddresses.js';
import { createLineTable } from './lineTable.js';
import { csvRowToScimUser, LIFECYCLE_SCHEMA, type ColumnSpec, type CsvUser } from '../csvColumns.js';

/** Rows whose manager comes later in the file, kept until the end. */
export const MAX_DEFERRED = 10_000;
const MAX_GROUP_CACHE = 10_000;

/** A line's failure, with the reason the report gives. */
export class LineError extends Error {}

/** A line that passed the checks that need no database. */
export interface Row {
  line: number;
  csv: CsvUser;
  /** Normalized. */
  userName: string;
  /** The company and alternate email, normalized. */
  emails: string[];
}

export interface GroupTarget {
  id: string;
  displayName: string;
}

/** Lines of the file seen so far, by normalized userName and email: duplicates are refused on the later line. */
export function createFileIndex() {
  // normalized userName -> line (negative once that line failed)
  const userNames = createLineTable();
  const emailLines = createLineTable();
  return {
    /** Checks that need no database, in file order. Returns the row, or the reason the line fails. */
    prepare(line: number, record: string[], columns: ColumnSpec[], width: number): Row | string {
      if (record.length !== width) return `The line has ${record.length} fields; the header has ${width}`;
      const cells: Record<string, string> = {};
      for (const column of columns) cells[column.header] = record[column.index];
      const csv = csvRowToScimUser(cells, columns);
      if (csv.errors.length) return csv.errors.join('; ');
      const userName = normalize(String(csv.user.userName));
      const earlier = userNames.get(userName);
      if (earlier !== undefined) return `Username "${String(csv.user.userName)}" is also on line ${Math.abs(earlier)}`;
      const company = companyEmail(csv.user);
      const alternate = (csv.user[LIFECYCLE_SCHEMA] as { alternateEmail?: string } | undefined)?.alternateEmail;
      const emails = [company, alternate].filter((e): e is string => Boolean(e)).map(normalize);
      for (const email of emails) {
        const other = emailLines.get(email);
        if (other !== undefined) return `Email ${email} is also on line ${other}`;
      }
      userNames.set(userName, line);
      for (const email of emails) emailLines.set(email, line);
      return { line, csv, userName, emails };
    },
    succeeded: (row: Row) => userNames.set(row.userName, row.line),
    failed: (row: Row) => userNames.set(row.userName, -row.line),
    /** The line of this userName in the file: negative when that line failed, undefined when not in the file. */
    lineOf: (userName: string) => userNames.get(userName),
  };
}

export type FileIndex = ReturnType<typeof createFileIndex>;

export interface ReferenceDeps {
  /** The user with this normalized userName. */
  findByUserName(userName: string): Promise<{ _id: string } | undefined>;
  groups: Pick<GroupRepository, 'findByDisplayNames'>;
  file: FileIndex;
  dryRun: boolean;
  /** Settles when the row of this userName that is being written is done. */
  inFlight(userName: string): Promise<unknown> | undefined;
}

/** Groups by display name and the manager by userName: in the database, or (manager) further down the file. */
export function createReferences(deps: ReferenceDeps) {
  const { groups, file, dryRun } = deps;
  const groupCache = new Map<string, GroupTarget | null>();

  return {
    async groups(names: string[]): Promise<GroupTarget[]> {
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
        const one = unknown.length === 1;
        const list = unknown.map((n) => `"${n}"`).join(', ');
        throw new LineError(`${one ? 'Group' : 'Groups'} ${list} ${one ? 'does' : 'do'} not exist`);
      }
      return keys.map((k) => groupCache.get(k)!);
    },

    /**
     * The manager's id; undefined while the manager may still come later in the file (`final`:
     * the file is done, so a missing manager fails the line). In a dry run nothing is written: a
     * manager on a good line of the file counts as found, with an id of its own.
     */
    async manager(row: Row, final: boolean): Promise<string | undefined> {
      const name = row.csv.managerUserName;
      if (!name) return undefined;
      const key = normalize(name);
      await deps.inFlight(key);
      const existing = await deps.findByUserName(key);
      if (existing) return existing._id;
      const line = file.lineOf(key);
      if (line !== undefined && line < 0) throw new LineError(`manager "${name}" failed to import (line ${-line})`);
      if (dryRun && line !== undefined && line > 0 && line !== row.line) return DRY_RUN_MANAGER;
      if (final) throw new LineError(`manager "${name}" does not exist`);
      return undefined;
    },
  };
}

/** The manager id a dry run uses for a manager that the file would create. */
export const DRY_RUN_MANAGER = 'dry-run-manager';
