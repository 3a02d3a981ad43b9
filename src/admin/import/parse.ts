/**
 * Reading the CSV file: the body stream -> records with their line numbers. Knows CSV syntax, not
 * users. Line numbers count physical lines, the header being line 1; a quoted value spanning lines
 * is reported at the line where its record starts.
 */
import type { Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';

/** Longest record, in characters: bounds memory on a runaway quote. */
export const MAX_RECORD_CHARS = 64 * 1024;

export interface CsvRecord {
  /** Where the record starts. */
  line: number;
  /** Where it ends (a quoted value may span lines). */
  endLine: number;
  fields: string[];
  /** An empty line (skipped, not counted). */
  empty: boolean;
}

/** The file cannot be read past `line`: a syntax error (the next record's start is unknown) or a broken upload. */
export class CsvReadError extends Error {
  constructor(
    readonly line: number,
    message: string,
    /** A CSV syntax error (not the upload failing). */
    readonly syntax: boolean,
  ) {
    super(message);
  }
}

/**
 * The records of the file, in order, as they arrive. Records read before a syntax error are still
 * given; then CsvReadError. Stopping early (break) detaches the parser from the body.
 */
export async function* csvRecords(body: Readable): AsyncGenerator<CsvRecord> {
  let syntaxError: { after: number; message: string } | undefined;
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
  const onSourceError = (err: Error) => parser.destroy(err);
  body.on('error', onSourceError);
  body.on('aborted', () => parser.destroy(new Error('the upload was interrupted')));
  body.pipe(parser);

  let lastLine = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      if (syntaxError && info.records > syntaxError.after) break; // what follows an error is unreliable
      const line = lastLine + 1;
      lastLine = info.lines;
      yield { line, endLine: lastLine, fields: record, empty: record.length === 1 && record[0].trim() === '' };
    }
  } catch (err) {
    if (err instanceof CsvReadError) throw err;
    const e = err as Error & { code?: string };
    const syntax = Boolean(e.code?.startsWith('CSV_'));
    throw new CsvReadError(
      lastLine + 1,
      syntax ? `CSV syntax error: ${e.message}` : `reading the file failed: ${e.message}`,
      false,
    );
  } finally {
    body.unpipe(parser);
    body.off('error', onSourceError);
  }
  if (syntaxError) throw new CsvReadError(lastLine + 1, `CSV syntax error: ${syntaxError.message}`, true);
}
