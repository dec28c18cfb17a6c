// The OpenCelliD cell tower export: one tower per line, no quoting,
// radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal
import type { CellTower } from '../model/index.ts';

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
  /** `column-count`, `invalid-number`, `out-of-range`, `unknown-radio`. */
  code: 'column-count' | 'invalid-number' | 'out-of-range' | 'unknown-radio';
  /** 1-based line in the file. */
  line: number;
  /** The OpenCelliD column at fault, when one is. */
  column?: (typeof OPENCELLID_COLUMNS)[number];
  message: string;
}

export interface OpenCellIdParse {
  towers: CellTowerRow[];
  issues: CellCsvIssue[];
  /** Lines that were neither a tower nor an issue: the header and blank lines. */
  skipped: number;
}

/** Parse a whole export; bad rows are reported with their line and skipped, good rows kept. */
export function parseOpenCellIdCsv(text: string): OpenCellIdParse {
  const towers: CellTowerRow[] = [];
  const issues: CellCsvIssue[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const result = parseOpenCellIdLine(lines[i] ?? '', i + 1);
    if (result === null) skipped++;
    else if ('code' in result) issues.push(result);
    else towers.push(result);
  }
  return { towers, issues, skipped };
}

/**
 * One line of an export (for streaming a file of millions of rows): the tower,
 * an issue, or null for a header or blank line.
 */
export function parseOpenCellIdLine(rawLine: string, line: number): CellTowerRow | CellCsvIssue | null {
  const text = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (text.trim() === '') return null;
  const fields = text.split(',').map(unquote);
  if ((fields[0] ?? '').toLowerCase() === 'radio') return null;
  if (fields.length < 9 || fields.length > OPENCELLID_COLUMNS.length) {
    return {
      code: 'column-count',
      line,
      message: `expected ${OPENCELLID_COLUMNS.length} columns (at least 9: radio..range), found ${fields.length}`,
    };
  }
  const radio = (fields[0] ?? '').toUpperCase();
  if (!(RADIO_TYPES as readonly string[]).includes(radio)) {
    return { code: 'unknown-radio', line, column: 'radio', message: `unknown radio "${fields[0]}", expected one of ${RADIO_TYPES.join(', ')}` };
  }

  const integer = (index: number, column: (typeof OPENCELLID_COLUMNS)[number], min: number, max: number) =>
    numberField(fields[index], column, line, min, max, true);
  const real = (index: number, column: (typeof OPENCELLID_COLUMNS)[number], min: number, max: number) =>
    numberField(fields[index], column, line, min, max, false);

  const mcc = integer(1, 'mcc', 0, 999);
  if (typeof mcc !== 'number') return mcc;
  const mnc = integer(2, 'net', 0, 999);
  if (typeof mnc !== 'number') return mnc;
  const lac = integer(3, 'area', 0, 0xffffffff);
  if (typeof lac !== 'number') return lac;
  const cid = integer(4, 'cell', 0, Number.MAX_SAFE_INTEGER);
  if (typeof cid !== 'number') return cid;
  const lon = real(6, 'lon', -180, 180);
  if (typeof lon !== 'number') return lon;
  const lat = real(7, 'lat', -90, 90);
  if (typeof lat !== 'number') return lat;
  const rangeM = integer(8, 'range', 0, 100_000_000);
  if (typeof rangeM !== 'number') return rangeM;

  const tower: CellTowerRow = { radio: radio as RadioType, mcc, mnc, lac, cid, lat, lon, rangeM, line };
  // Optional columns: tolerated when empty, reported when present but malformed.
  if (fields[9] !== undefined && fields[9] !== '') {
    const samples = integer(9, 'samples', 0, Number.MAX_SAFE_INTEGER);
    if (typeof samples !== 'number') return samples;
    tower.samples = samples;
  }
  if (fields[12] !== undefined && fields[12] !== '') {
    const updated = integer(12, 'updated', 0, Number.MAX_SAFE_INTEGER);
    if (typeof updated !== 'number') return updated;
    tower.updatedAt = updated;
  }
  return tower;
}

function unquote(field: string): string {
  const trimmed = field.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
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
    return { code: 'invalid-number', line, column, message: `${column} "${text}" is not ${integer ? 'an integer' : 'a number'}` };
  }
  if (value < min || value > max) {
    return { code: 'out-of-range', line, column, message: `${column} ${value} is outside ${min}..${max}` };
  }
  return value;
}
