// The OpenCelliD cell tower export, read as it streams (the world file has ~40M rows; OpenCelliD
// ships it as .csv.gz): radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,
// updated,averageSignal — with or without that header (per-country files have none). A bad row is
// reported with its line and skipped; the rest are read.
import type { CellTower } from '../model/index.ts';
import { CsvRecordReader, CsvStream, LineSplitter, type CsvItem } from '../csv/index.ts';

export const OPENCELLID_COLUMNS = [
  'radio',
  'mcc',
  'net',
  'area',
  'cell',
  'unit',
  'lon',
  'lat',
  'range',
  'samples',
  'changeable',
  'created',
  'updated',
  'averageSignal',
] as const;

export const RADIO_TYPES = ['GSM', 'UMTS', 'LTE', 'CDMA', 'NR', 'NBIOT'] as const;
export type RadioType = (typeof RADIO_TYPES)[number];
const RADIO_SET: ReadonlySet<string> = new Set(RADIO_TYPES);

export interface CellTowerRow extends CellTower {
  radio: RadioType;
  /** Measurements behind the position (OpenCelliD `samples`). */
  samples?: number;
  /** Epoch seconds of the last update (OpenCelliD `updated`). */
  updatedAt?: number;
  /** 1-based line of the row in the file. */
  line: number;
}

export interface CellCsvIssue {
  /** `column-count`, `invalid-number`, `out-of-range`, `unknown-radio`, `unreadable` (not UTF-8, a broken quote, a NUL). */
  code: 'column-count' | 'invalid-number' | 'out-of-range' | 'unknown-radio' | 'unreadable';
  /** 1-based line in the file. */
  line: number;
  /** The OpenCelliD column at fault, when one is. */
  column?: (typeof OPENCELLID_COLUMNS)[number];
  message: string;
}

export interface OpenCellIdParse {
  towers: CellTowerRow[];
  issues: CellCsvIssue[];
  /** Header records skipped. */
  skipped: number;
}

/** OpenCelliD lines are short: anything longer is not a tower. */
const READER_OPTIONS = { delimiter: ',' as const, maxLineBytes: 4096, maxRecordBytes: 4096, maxRecordLines: 2 };

/** Records → towers and issues (headers skipped). */
export function towersOf(items: readonly CsvItem[]): OpenCellIdParse {
  const out: OpenCellIdParse = { towers: [], issues: [], skipped: 0 };
  for (const item of items) {
    if (item.bad) {
      out.issues.push({ code: 'unreadable', line: item.bad.line, message: item.bad.reason });
      continue;
    }
    const result = towerFromCells(item.record.cells, item.record.line);
    if (result === null) out.skipped++;
    else if ('code' in result) out.issues.push(result);
    else out.towers.push(result);
  }
  return out;
}

/** Parse a whole export in memory; bad rows are reported with their line and skipped, good rows kept. */
export function parseOpenCellIdCsv(text: string): OpenCellIdParse {
  const lines = new LineSplitter(READER_OPTIONS);
  const reader = new CsvRecordReader(READER_OPTIONS);
  const bytes = Buffer.from(text, 'utf8');
  return towersOf([...reader.push(lines.push(bytes)), ...reader.push(lines.end()), ...reader.end()]);
}

/** An export as it streams in (plain or gzip), batch by batch. */
export async function* readOpenCellId(source: AsyncIterable<Uint8Array>): AsyncGenerator<OpenCellIdParse> {
  for await (const items of new CsvStream(source, READER_OPTIONS)) yield towersOf(items);
}

/** One record of an export: the tower, an issue, or null for a header. */
export function towerFromCells(cells: readonly string[], line: number): CellTowerRow | CellCsvIssue | null {
  // The reader has trimmed them.
  const fields = cells;
  if ((fields[0] ?? '').length === 5 && fields[0]!.toLowerCase() === 'radio') return null;
  if (fields.length < 9 || fields.length > OPENCELLID_COLUMNS.length) {
    return {
      code: 'column-count',
      line,
      message: `expected ${OPENCELLID_COLUMNS.length} columns (at least 9: radio..range), found ${fields.length}`,
    };
  }
  const first = fields[0] ?? '';
  const radio = RADIO_SET.has(first) ? first : first.toUpperCase();
  if (!RADIO_SET.has(radio)) {
    return { code: 'unknown-radio', line, column: 'radio', message: `unknown radio ${JSON.stringify((fields[0] ?? '').slice(0, 20))}, expected one of ${RADIO_TYPES.join(', ')}` };
  }

  // No closures per row: this runs 40M times for the world file.
  const mcc = numberField(fields[1], 'mcc', line, 0, 999, true);
  if (typeof mcc !== 'number') return mcc;
  const mnc = numberField(fields[2], 'net', line, 0, 999, true);
  if (typeof mnc !== 'number') return mnc;
  // The same bounds as the engine's POST /v1/cell-towers: a row it would refuse fails here, alone, not its batch.
  const lac = numberField(fields[3], 'area', line, 0, 2 ** 31 - 1, true);
  if (typeof lac !== 'number') return lac;
  const cid = numberField(fields[4], 'cell', line, 0, 2 ** 40, true);
  if (typeof cid !== 'number') return cid;
  const lon = numberField(fields[6], 'lon', line, -180, 180, false);
  if (typeof lon !== 'number') return lon;
  const lat = numberField(fields[7], 'lat', line, -90, 90, false);
  if (typeof lat !== 'number') return lat;
  const rangeM = numberField(fields[8], 'range', line, 0, 1_000_000, true);
  if (typeof rangeM !== 'number') return rangeM;

  const tower: CellTowerRow = { radio: radio as RadioType, mcc, mnc, lac, cid, lat, lon, rangeM, line };
  // Optional columns: tolerated when empty, reported when present but malformed.
  if (fields[9] !== undefined && fields[9] !== '') {
    const samples = numberField(fields[9], 'samples', line, 0, Number.MAX_SAFE_INTEGER, true);
    if (typeof samples !== 'number') return samples;
    tower.samples = samples;
  }
  if (fields[12] !== undefined && fields[12] !== '') {
    const updated = numberField(fields[12], 'updated', line, 0, Number.MAX_SAFE_INTEGER, true);
    if (typeof updated !== 'number') return updated;
    tower.updatedAt = updated;
  }
  return tower;
}

function numberField(
  raw: string | undefined,
  column: (typeof OPENCELLID_COLUMNS)[number],
  line: number,
  min: number,
  max: number,
  integer: boolean,
): number | CellCsvIssue {
  const text = raw ?? '';
  const value = text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    return { code: 'invalid-number', line, column, message: `${column} ${JSON.stringify(text.slice(0, 40))} is not ${integer ? 'an integer' : 'a number'}` };
  }
  if (value < min || value > max) {
    return { code: 'out-of-range', line, column, message: `${column} ${value} is outside ${min}..${max}` };
  }
  return value;
}
