// Manufacturing and shipment logs as the factory and the warehouse write them: CSV with a header
// line, or JSON Lines. Parsing never stops at a bad line: each bad line becomes a RowFailure with
// its line number and the rest are read. A CSV record is one physical line (quoted fields may not
// span lines), so an unclosed quote spoils its own line only.
import { parse } from 'csv-parse/sync';

export type LogFormat = 'csv' | 'jsonl';

/** One manufactured device as the factory logged it, not yet checked against the fleet. */
export interface ManufacturingRow {
  /** 1-based data row number (header and blank lines not counted). */
  row: number;
  /** 1-based line in the file. */
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
  | 'test-failed'
  | 'unknown-site'
  | 'no-site'
  | 'tenant-out-of-scope'
  | 'invalid-shipment';

/** A row that cannot be provisioned, and why. */
export interface RowFailure {
  /** Which log it came from. */
  log: 'manufacturing' | 'shipments';
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

type Fields = Record<string, unknown>;

interface RawRecord {
  row: number;
  line: number;
  fields: Fields;
}

const ID_ALIASES = ['id', 'deviceId', 'device_id', 'serial'];
const FIRMWARE_PREFIXES = ['fw.', 'firmware.', 'fw_'];

function splitCsvLine(line: string): string[] | Error {
  // Fast path: most factory lines have no quotes.
  if (!line.includes('"')) return line.split(',').map((f) => f.trim());
  try {
    const records = parse(line, { relax_column_count: true, trim: true }) as string[][];
    return records[0] ?? [];
  } catch (error) {
    return error as Error;
  }
}

/** Splits a log into records with their line numbers; bad lines become failures. */
function readRecords(text: string, format: LogFormat, log: RowFailure['log']): { records: RawRecord[]; failures: RowFailure[] } {
  const records: RawRecord[] = [];
  const failures: RowFailure[] = [];
  const lines = text.split(/\r?\n/);
  let header: string[] | null = null;
  let row = 0;
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index] ?? '';
    const line = index + 1;
    if (raw.trim() === '' || (format === 'csv' && raw.startsWith('#'))) continue;
    if (format === 'jsonl') {
      row++;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (error) {
        failures.push({ log, row, line, deviceId: null, code: 'malformed-row', reason: `not valid JSON: ${(error as Error).message}` });
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        failures.push({ log, row, line, deviceId: null, code: 'malformed-row', reason: 'a JSON Lines row must be an object' });
        continue;
      }
      records.push({ row, line, fields: value as Fields });
      continue;
    }
    const cells = splitCsvLine(raw);
    if (header === null) {
      if (cells instanceof Error) {
        failures.push({ log, row: 0, line, deviceId: null, code: 'malformed-row', reason: `header line is not valid CSV: ${cells.message}` });
        return { records, failures };
      }
      header = cells;
      continue;
    }
    row++;
    if (cells instanceof Error) {
      failures.push({ log, row, line, deviceId: null, code: 'malformed-row', reason: `not valid CSV: ${cells.message}` });
      continue;
    }
    if (cells.length !== header.length) {
      failures.push({
        log,
        row,
        line,
        deviceId: null,
        code: 'malformed-row',
        reason: `expected ${header.length} fields as in the header, found ${cells.length}`,
      });
      continue;
    }
    const fields: Fields = {};
    header.forEach((name, i) => {
      const cell = cells[i];
      if (cell !== undefined && cell !== '') fields[name] = cell;
    });
    records.push({ row, line, fields });
  }
  return { records, failures };
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  if (typeof value === 'number') return String(value);
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
      if (v !== null) firmware[component] = v;
    }
  }
  for (const [name, value] of Object.entries(fields)) {
    const prefix = FIRMWARE_PREFIXES.find((p) => name.startsWith(p));
    const v = text(value);
    if (prefix && v !== null) firmware[name.slice(prefix.length)] = v;
  }
  return firmware;
}

/**
 * A manufacturing log. CSV columns: id (or deviceId/serial), hardware, optional profile, imei,
 * iccid, bleMac, test, and one `fw.<component>` column per firmware component. JSON Lines: the
 * same keys, with `firmware: {component: version}`.
 */
export function parseManufacturingLog(content: string, format: LogFormat): ParsedLog<ManufacturingRow> {
  const { records, failures } = readRecords(content, format, 'manufacturing');
  const rows: ManufacturingRow[] = [];
  for (const { row, line, fields } of records) {
    rows.push({
      row,
      line,
      id: pick(fields, ID_ALIASES) ?? '',
      hardware: pick(fields, ['hardware', 'hardwareModel', 'model']) ?? '',
      profile: pick(fields, ['profile']),
      firmware: firmwareOf(fields),
      imei: pick(fields, ['imei']),
      iccid: pick(fields, ['iccid']),
      bleMac: pick(fields, ['bleMac', 'ble_mac', 'mac']),
      test: pick(fields, ['test', 'testResult', 'test_result']),
    });
  }
  return { rows, failures };
}

/** A shipment log. CSV columns: id (or deviceId/serial), site, shippedAt; JSON Lines: the same keys. */
export function parseShipmentLog(content: string, format: LogFormat): ParsedLog<ShipmentRow> {
  const { records, failures } = readRecords(content, format, 'shipments');
  const rows: ShipmentRow[] = [];
  for (const { row, line, fields } of records) {
    const id = pick(fields, ID_ALIASES);
    const site = pick(fields, ['site', 'siteName', 'destination']);
    if (id === null || site === null) {
      failures.push({
        log: 'shipments',
        row,
        line,
        deviceId: id,
        code: 'invalid-shipment',
        reason: id === null ? 'shipment row has no device id' : 'shipment row has no site',
      });
      continue;
    }
    rows.push({ row, line, id, site, shippedAt: pick(fields, ['shippedAt', 'shipped_at', 'date']) });
  }
  return { rows, failures };
}

/** Guesses the format from a file name: .jsonl/.ndjson are JSON Lines, anything else CSV. */
export function formatFromFileName(name: string): LogFormat {
  return /\.(jsonl|ndjson)$/i.test(name) ? 'jsonl' : 'csv';
}
