// Lines → CSV records. A record may span lines inside a quoted field (a "notes" column exported
// from a spreadsheet); its end is where the quotes balance (RFC 4180: `""` inside quotes is an
// escaped quote, so counting quote characters finds it). A quote that never closes would swallow
// the rest of the file into one field, so a quoted field may span at most `maxRecordLines`
// lines / `maxRecordBytes` bytes: past that, the line that opened it fails alone and reading
// resumes on the line after it. Records with quotes are parsed by csv-parse (in batches: one
// parser per batch is ~6× cheaper than one per record); records without a quote character are
// split on the delimiter directly, which gives exactly what csv-parse gives for them (a property
// test holds the two together) at a tenth of the cost — it matters for OpenCelliD's 40M rows.
import { parse } from 'csv-parse/sync';
import type { TextLine } from './lines.ts';

export const DELIMITERS = [',', ';', '\t'] as const;
export type Delimiter = (typeof DELIMITERS)[number];

export interface CsvRecord {
  /** 1-based line the record starts on. */
  line: number;
  /** Line it ends on (> line when a quoted field holds newlines). */
  endLine: number;
  cells: string[];
}

/** A record (or line) that cannot be read, and why; the lines around it are read as usual. */
export interface BadRecord {
  line: number;
  reason: string;
}

export type CsvItem = { record: CsvRecord; bad?: undefined } | { bad: BadRecord; record?: undefined };

export interface CsvReaderOptions {
  /** Field delimiter; null or absent: detected from the first record (`,` `;` or tab, whichever occurs most outside quotes). */
  delimiter?: Delimiter | null;
  /** Lines a quoted field may span (default 100). */
  maxRecordLines?: number;
  /** Bytes a record may hold (default 64 KiB). */
  maxRecordBytes?: number;
  /** Skip lines starting with `#` between records (default true). */
  comments?: boolean;
}

interface Pending {
  line: number;
  endLine: number;
  text: string;
  quoted: boolean;
}

interface OpenRecord {
  line: number;
  texts: string[];
  /** Every line read into it, to read again if it is given up. */
  read: TextLine[];
  quotes: number;
  bytes: number;
}

const BATCH = 256;

function countQuotes(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n;
}

/** A quote-free record's fields: what csv-parse gives for it (trim: true). */
function splitTrimmed(text: string, delimiter: string): string[] {
  const cells = text.split(delimiter);
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    // Trim only when needed: most factory and OpenCelliD fields have no spaces around them.
    if (cell.length > 0 && (cell.charCodeAt(0) <= 32 || cell.charCodeAt(cell.length - 1) <= 32)) cells[i] = cell.trim();
  }
  return cells;
}

/** The delimiter occurring most often outside quotes in a (header) record; `,` when none does. */
export function detectDelimiter(text: string): Delimiter {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let best: Delimiter = ',';
  for (const candidate of DELIMITERS) if ((counts.get(candidate) ?? 0) > (counts.get(best) ?? 0)) best = candidate;
  return best;
}

/** csv-parse's error, said without its offsets (which count from the batch, not the file). */
function csvReason(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'INVALID_OPENING_QUOTE') return 'not valid CSV: a quote inside a field that does not start with one';
  if (code === 'CSV_INVALID_CLOSING_QUOTE') return 'not valid CSV: a closing quote must be followed by the delimiter or the end of the line';
  if (code === 'CSV_QUOTE_NOT_CLOSED') return 'not valid CSV: a quoted field is not closed';
  const message = (error as Error).message ?? String(error);
  return `not valid CSV: ${message.replace(/\s+at line \d+.*$/s, '').slice(0, 200)}`;
}

/** Push-based: feed lines, get the records they complete, in order. */
export class CsvRecordReader {
  private open: OpenRecord | null = null;
  private batch: Pending[] = [];
  private out: CsvItem[] = [];
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private readonly comments: boolean;
  delimiter: Delimiter | null;

  constructor(options: CsvReaderOptions = {}) {
    this.delimiter = options.delimiter ?? null;
    this.maxLines = options.maxRecordLines ?? 100;
    this.maxBytes = options.maxRecordBytes ?? 64 * 1024;
    this.comments = options.comments ?? true;
  }

  push(lines: readonly TextLine[]): CsvItem[] {
    for (const line of lines) this.take(line);
    return this.drain();
  }

  end(): CsvItem[] {
    while (this.open) this.giveUp('a quoted field opened on this line is never closed');
    return this.drain();
  }

  private drain(): CsvItem[] {
    this.flush();
    const out = this.out;
    this.out = [];
    return out;
  }

  private bad(line: number, reason: string): void {
    // Records before it first, so items stay in file order.
    this.flush();
    this.out.push({ bad: { line, reason } });
  }

  private take(line: TextLine): void {
    const open = this.open;
    if (open === null) {
      if (line.text === null) return this.bad(line.line, line.bad);
      const text = line.text;
      // Blank (cheaply: most lines start with a printable character) or a comment: no record.
      if (text === '' || (text.charCodeAt(0) <= 32 && text.trim() === '') || (this.comments && text.charCodeAt(0) === 35)) return;
      const quotes = countQuotes(text);
      if (quotes % 2 === 0) return this.complete(line.line, line.line, text, quotes > 0);
      this.open = { line: line.line, texts: [text], read: [line], quotes, bytes: text.length };
      return;
    }
    open.read.push(line);
    if (line.text === null) return this.giveUp(`a quoted field opened on this line runs into line ${line.line}, which cannot be read`);
    open.texts.push(line.text);
    open.quotes += countQuotes(line.text);
    open.bytes += line.text.length + 1;
    if (open.quotes % 2 === 0) {
      this.open = null;
      return this.complete(open.line, line.line, open.texts.join('\n'), true);
    }
    if (open.texts.length >= this.maxLines || open.bytes > this.maxBytes) {
      this.giveUp(`a quoted field opened on this line is not closed within ${this.maxLines} lines / ${this.maxBytes} bytes`);
    }
  }

  /** The open record fails on its first line; the lines after it are read again on their own. */
  private giveUp(reason: string): void {
    const open = this.open!;
    this.open = null;
    this.bad(open.line, reason);
    for (const line of open.read.slice(1)) this.take(line);
  }

  private complete(line: number, endLine: number, text: string, quoted: boolean): void {
    if (text.length > this.maxBytes) return this.bad(line, `record is longer than ${this.maxBytes} bytes`);
    this.delimiter ??= detectDelimiter(text);
    this.batch.push({ line, endLine, text, quoted });
    if (this.batch.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const delimiter = this.delimiter ?? ',';
    const quoted = batch.filter((p) => p.quoted);
    const parsed = new Map<Pending, string[] | string>();
    if (quoted.length > 0) {
      let records: string[][] | null = null;
      try {
        records = parse(quoted.map((p) => p.text).join('\n'), { delimiter, record_delimiter: '\n', relax_column_count: true, trim: true, skip_empty_lines: false }) as string[][];
      } catch {
        records = null;
      }
      if (records && records.length === quoted.length) quoted.forEach((p, i) => parsed.set(p, records![i]!));
      else {
        // One bad record spoils a batch parse: parse them one by one to find it.
        for (const p of quoted) {
          try {
            const one = parse(p.text, { delimiter, record_delimiter: '\n', relax_column_count: true, trim: true }) as string[][];
            parsed.set(p, one.length === 1 ? one[0]! : 'not valid CSV');
          } catch (error) {
            parsed.set(p, csvReason(error));
          }
        }
      }
    }
    for (const p of batch) {
      const result = p.quoted ? parsed.get(p)! : splitTrimmed(p.text, delimiter);
      if (typeof result === 'string') this.out.push({ bad: { line: p.line, reason: result } });
      else if (p.text.includes('\0')) this.out.push({ bad: { line: p.line, reason: `field ${result.findIndex((c) => c.includes('\0')) + 1} holds a NUL character` } });
      else this.out.push({ record: { line: p.line, endLine: p.endLine, cells: result } });
    }
  }
}
