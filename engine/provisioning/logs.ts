// Manufacturing and shipment logs as the factory and the warehouse write them: CSV with a header
// record (`,` `;` or tab, detected or given; quoted fields may hold newlines; UTF-8 with or
// without a BOM; gzip or not), or JSON Lines. Reading never stops at a bad row: each becomes a
// RowFailure with its row and line number, whatever bytes it holds, and the rest are read. Only a
// file that cannot be read at all (UTF-16, a header without an id column) is refused as a whole.
import {
  CsvStream,
  TextFileError,
  csvItemsOfText,
  jsonItemsOfText,
  jsonLinesStream,
  type CsvItem,
  type Delimiter,
  type JsonItem,
  type StreamOptions,
} from '../csv/index.ts';

export type LogFormat = 'csv' | 'jsonl';
export type LogKind = 'manufacturing' | 'shipments';

/** One manufactured device as the factory logged it, not yet checked against the fleet. */
export interface ManufacturingRow {
  /** 1-based data row number (header, blank and comment lines not counted). */
  row: number;
  /** 1-based line in the file where the row starts. */
  line: number;
  id: string;
  hardware: string;
  /** Explicit profile, when the log names one (else the hardware's profile). */
  profile: string | null;
  /** component → version as flashed. */
  firmware: Record<string, string>;
  imei: string | null;
  iccid: string | null;
  bleMac: string | null;
  /** End-of-line test result, when logged: anything but pass/ok/passed fails the row. */
  test: string | null;
}

export interface ShipmentRow {
  row: number;
  line: number;
  id: string;
  site: string;
  /** ISO date or date-time as logged; the latest shipment of a device wins. */
  shippedAt: string | null;
}

export type RowFailureCode =
  | 'malformed-row'
  | 'missing-id'
  | 'invalid-id'
  | 'missing-hardware'
  | 'unknown-hardware'
  | 'unknown-profile'
  | 'ambiguous-profile'
  | 'unknown-component'
  | 'missing-firmware'
  | 'unknown-firmware'
  | 'duplicate-id'
  | 'device-exists'
  | 'test-failed'
  | 'unknown-site'
  | 'no-site'
  | 'invalid-shipment';

/** A row that cannot be provisioned, and why. */
export interface RowFailure {
  /** Which log it came from. */
  log: LogKind;
  row: number;
  line: number;
  /** The device id when the row had one. */
  deviceId: string | null;
  code: RowFailureCode;
  reason: string;
}

export interface ParsedLog<R> {
  rows: R[];
  failures: RowFailure[];
}

/** A log that cannot be read at all; `line` names where, when known. */
export class LogFileError extends Error {
  readonly code = 'invalid-log';
  constructor(
    readonly log: LogKind,
    readonly line: number | null,
    message: string,
  ) {
    super(`${log} log${line !== null ? `, line ${line}` : ''}: ${message}`);
    this.name = 'LogFileError';
  }
}

type Fields = Record<string, unknown>;

export const ID_COLUMNS = ['id', 'deviceId', 'device_id', 'serial'];
const FIRMWARE_PREFIXES = ['fw.', 'firmware.', 'fw_'];
const SITE_COLUMNS = ['site', 'siteName', 'destination'];
/** Longest text kept from a field (longer values are cut: ids, versions and labels are short). */
const MAX_FIELD = 256;

function text(value: unknown): string | null {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? null : trimmed.slice(0, MAX_FIELD);
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function pick(fields: Fields, names: readonly string[]): string | null {
  for (const name of names) {
    const value = text(fields[name]);
    if (value !== null) return value;
  }
  return null;
}

function firmwareOf(fields: Fields): Record<string, string> {
  const firmware: Record<string, string> = {};
  const nested = fields.firmware;
  if (nested && typeof nested === 'object' && !Array.isArray(nested)) {
    for (const [component, version] of Object.entries(nested as Fields)) {
      const v = text(version);
      if (v !== null && component !== '__proto__') firmware[component] = v;
    }
  }
  for (const [name, value] of Object.entries(fields)) {
    const prefix = FIRMWARE_PREFIXES.find((p) => name.startsWith(p));
    const v = text(value);
    if (prefix && v !== null && name !== `${prefix}__proto__`) firmware[name.slice(prefix.length)] = v;
  }
  return firmware;
}

function manufacturingRow(row: number, line: number, fields: Fields): ManufacturingRow {
  return {
    row,
    line,
    id: pick(fields, ID_COLUMNS) ?? '',
    hardware: pick(fields, ['hardware', 'hardwareModel', 'model']) ?? '',
    profile: pick(fields, ['profile']),
    firmware: firmwareOf(fields),
    imei: pick(fields, ['imei']),
    iccid: pick(fields, ['iccid']),
    bleMac: pick(fields, ['bleMac', 'ble_mac', 'mac']),
    test: pick(fields, ['test', 'testResult', 'test_result']),
  };
}

/**
 * Turns a log's records, batch by batch as they stream in, into rows and row failures: keeps
 * the header and the row count between batches.
 */
export class LogRows {
  private header: string[] | null = null;
  private row = 0;

  constructor(readonly kind: LogKind) {}

  /** Rows read so far (good and bad). */
  get rows(): number {
    return this.row;
  }

  private fail(failures: RowFailure[], line: number, reason: string, code: RowFailureCode = 'malformed-row', deviceId: string | null = null): void {
    failures.push({ log: this.kind, row: this.row, line, deviceId, code, reason });
  }

  private fields(out: { rows: (ManufacturingRow | ShipmentRow)[]; failures: RowFailure[] }, line: number, fields: Fields): void {
    if (this.kind === 'manufacturing') {
      out.rows.push(manufacturingRow(this.row, line, fields));
      return;
    }
    const id = pick(fields, ID_COLUMNS);
    const site = pick(fields, SITE_COLUMNS);
    if (id === null || site === null) {
      this.fail(out.failures, line, id === null ? 'shipment row has no device id' : 'shipment row has no site', 'invalid-shipment', id);
      return;
    }
    out.rows.push({ row: this.row, line, id, site, shippedAt: pick(fields, ['shippedAt', 'shipped_at', 'date']) });
  }

  csv(items: readonly CsvItem[]): ParsedLog<ManufacturingRow | ShipmentRow> {
    const out: ParsedLog<ManufacturingRow | ShipmentRow> = { rows: [], failures: [] };
    for (const item of items) {
      if (this.header === null) {
        if (item.bad) throw new LogFileError(this.kind, item.bad.line, `the header cannot be read: ${item.bad.reason}`);
        this.header = item.record.cells;
        if (!this.header.some((name) => ID_COLUMNS.includes(name))) {
          throw new LogFileError(
            this.kind,
            item.record.line,
            `the header has no device id column (${ID_COLUMNS.join(', ')}); found ${JSON.stringify(this.header.slice(0, 8).join(' | ').slice(0, 120))} — is the delimiter right?`,
          );
        }
        if (this.kind === 'shipments' && !this.header.some((name) => SITE_COLUMNS.includes(name))) {
          throw new LogFileError(this.kind, item.record.line, `the header has no site column (${SITE_COLUMNS.join(', ')})`);
        }
        continue;
      }
      this.row++;
      if (item.bad) {
        this.fail(out.failures, item.bad.line, item.bad.reason);
        continue;
      }
      const { cells, line } = item.record;
      if (cells.length !== this.header.length) {
        this.fail(out.failures, line, `expected ${this.header.length} fields as in the header, found ${cells.length}`);
        continue;
      }
      const fields: Fields = {};
      this.header.forEach((name, i) => {
        const cell = cells[i];
        if (cell !== undefined && cell !== '' && name !== '__proto__') fields[name] = cell;
      });
      this.fields(out, line, fields);
    }
    return out;
  }

  json(items: readonly JsonItem[]): ParsedLog<ManufacturingRow | ShipmentRow> {
    const out: ParsedLog<ManufacturingRow | ShipmentRow> = { rows: [], failures: [] };
    for (const item of items) {
      this.row++;
      if (item.bad) {
        this.fail(out.failures, item.bad.line, item.bad.reason);
        continue;
      }
      const { value, line } = item.record;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        this.fail(out.failures, line, 'a JSON Lines row must be an object');
        continue;
      }
      this.fields(out, line, value as Fields);
    }
    return out;
  }
}

export interface LogReadOptions {
  format: LogFormat;
  /** CSV delimiter; absent: detected from the header. */
  delimiter?: Delimiter | null;
  /** Largest content after decompression, bytes. */
  maxBytes?: number;
}

/** Stream options for logs: a record (and a line) up to 64 KiB. */
function streamOptions(options: LogReadOptions): StreamOptions {
  return { delimiter: options.delimiter ?? null, maxLineBytes: 64 * 1024, maxRecordBytes: 64 * 1024, ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}) };
}

/** What a streamed log gave so far: the delimiter found and the rows read. */
export interface LogReadState {
  delimiter: Delimiter | null;
  rows: number;
  lines: number;
}

/**
 * Reads a log as it streams in (gzip or not), batch by batch. Throws LogFileError when the file
 * cannot be read at all.
 */
export async function* readLog(
  kind: LogKind,
  source: AsyncIterable<Uint8Array>,
  options: LogReadOptions,
  state: LogReadState = { delimiter: null, rows: 0, lines: 0 },
): AsyncGenerator<ParsedLog<ManufacturingRow | ShipmentRow>> {
  const rows = new LogRows(kind);
  try {
    if (options.format === 'jsonl') {
      for await (const items of jsonLinesStream(source, streamOptions(options))) {
        yield rows.json(items);
        state.rows = rows.rows;
      }
      return;
    }
    const stream = new CsvStream(source, streamOptions(options));
    for await (const items of stream) {
      const parsed = rows.csv(items);
      state.delimiter = stream.records.delimiter;
      state.rows = rows.rows;
      state.lines = stream.lines.lines;
      yield parsed;
    }
    if (stream.lines.lines === 0 || state.delimiter === null) throw new LogFileError(kind, null, 'the file is empty: a header line is needed');
  } catch (error) {
    if (error instanceof TextFileError) throw new LogFileError(kind, error.line, error.message);
    throw error;
  }
}

function readText<R>(kind: LogKind, content: string, options: LogReadOptions): ParsedLog<R> {
  const rows = new LogRows(kind);
  try {
    if (options.format === 'jsonl') return rows.json(jsonItemsOfText(content, streamOptions(options))) as ParsedLog<R>;
    const { items } = csvItemsOfText(content, streamOptions(options));
    if (items.length === 0) throw new LogFileError(kind, null, 'the file is empty: a header line is needed');
    return rows.csv(items) as ParsedLog<R>;
  } catch (error) {
    if (error instanceof TextFileError) throw new LogFileError(kind, error.line, error.message);
    throw error;
  }
}

/**
 * A manufacturing log in memory. CSV columns: id (or deviceId/serial), hardware, optional
 * profile, imei, iccid, bleMac, test, and one `fw.<component>` column per firmware component.
 * JSON Lines: the same keys, with `firmware: {component: version}`.
 */
export function parseManufacturingLog(content: string, options: LogReadOptions | LogFormat): ParsedLog<ManufacturingRow> {
  return readText('manufacturing', content, typeof options === 'string' ? { format: options } : options);
}

/** A shipment log in memory. CSV columns: id (or deviceId/serial), site, shippedAt; JSON Lines: the same keys. */
export function parseShipmentLog(content: string, options: LogReadOptions | LogFormat): ParsedLog<ShipmentRow> {
  return readText('shipments', content, typeof options === 'string' ? { format: options } : options);
}

/** Guesses the format from a file name: .jsonl/.ndjson (optionally .gz) are JSON Lines, anything else CSV. */
export function formatFromFileName(name: string): LogFormat {
  return /\.(jsonl|ndjson)(\.gz)?$/i.test(name) ? 'jsonl' : 'csv';
}
