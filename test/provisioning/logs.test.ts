// Factory logs as spreadsheets and factories really write them: quoted fields with newlines,
// `;` and tab delimiters, a BOM, gzip, bytes that are not UTF-8, NUL characters and lone
// surrogates — every bad row fails alone, with the line it starts on, and the rest are read.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { CsvRecordReader, LineSplitter, csvItemsOfText } from '../../engine/csv/index.ts';
import { LogFileError, parseManufacturingLog, parseShipmentLog, readLog, type ManufacturingRow } from '../../engine/provisioning/index.ts';

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readAll(bytes: Buffer, options: { format: 'csv' | 'jsonl'; delimiter?: ',' | ';' | '\t' }, chunkSize = 7) {
  const rows: ManufacturingRow[] = [];
  const failures: { row: number; line: number; reason: string }[] = [];
  const state = { delimiter: null as string | null, rows: 0, lines: 0 };
  for await (const parsed of readLog('manufacturing', chunks(bytes, chunkSize), options, state as never)) {
    rows.push(...(parsed.rows as ManufacturingRow[]));
    failures.push(...parsed.failures);
  }
  return { rows, failures, delimiter: state.delimiter };
}

describe('CSV logs', () => {
  const spreadsheet = [
    'id,hardware,notes,fw.mcu,fw.ble',
    'A-1,tr,"first line',
    'second line, with a comma",1.0.0,1.0.0',
    'A-2,tr,plain,1.0.0,1.0.0',
    'A-3,tr,"she said ""ok""",1.0.0,1.0.0',
    '',
  ].join('\r\n');

  it('reads quoted fields that hold newlines, keeping the line each row starts on', () => {
    const { rows, failures } = parseManufacturingLog(spreadsheet, 'csv');
    expect(failures).toEqual([]);
    expect(rows.map((r) => [r.id, r.row, r.line])).toEqual([
      ['A-1', 1, 2],
      ['A-2', 2, 4],
      ['A-3', 3, 5],
    ]);
    expect(rows[0]?.firmware).toEqual({ mcu: '1.0.0', ble: '1.0.0' });
  });

  it('detects `;` and tab delimiters from the header, or takes the one given', () => {
    const semicolon = 'id;hardware;fw.mcu;fw.ble\nB-1;tr;1,0;1.0.0\n';
    expect(parseManufacturingLog(semicolon, 'csv').rows[0]).toMatchObject({ id: 'B-1', firmware: { mcu: '1,0', ble: '1.0.0' } });
    const tab = 'id\thardware\tfw.mcu\nB-2\ttr\t1.0.0\n';
    expect(parseManufacturingLog(tab, 'csv').rows[0]).toMatchObject({ id: 'B-2', hardware: 'tr' });
    // A header with commas inside a quoted name, but `;` between columns.
    const given = '"id";"hardware, model"\nB-3;tr\n';
    expect(parseManufacturingLog(given, { format: 'csv', delimiter: ';' }).rows[0]?.id).toBe('B-3');
  });

  it('refuses a file read with the wrong delimiter as a whole, naming the header line, instead of giving empty ids', () => {
    expect(() => parseManufacturingLog('id;hardware\nB-1;tr\n', { format: 'csv', delimiter: ',' })).toThrow(LogFileError);
    expect(() => parseManufacturingLog('id;hardware\nB-1;tr\n', { format: 'csv', delimiter: ',' })).toThrow(/line 1: the header has no device id column/);
  });

  it('drops a UTF-8 BOM and refuses UTF-16 with a clear message', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,hardware\nC-1,tr\n')]);
    expect(parseManufacturingLog(withBom.toString('utf8'), 'csv').rows[0]?.id).toBe('C-1');
    const lines = new LineSplitter();
    expect(() => lines.push(Buffer.from([0xff, 0xfe, 0x69, 0x00]))).toThrow(/UTF-16/);
  });

  it('reads gzip as it streams, in any chunking, with the same rows and lines', async () => {
    const plain = Buffer.from(spreadsheet);
    for (const size of [1, 3, 64, 1 << 20]) {
      const { rows, delimiter } = await readAll(gzipSync(plain), { format: 'csv' }, size);
      expect(rows.map((r) => [r.id, r.line])).toEqual([
        ['A-1', 2],
        ['A-2', 4],
        ['A-3', 5],
      ]);
      expect(delimiter).toBe(',');
    }
  });

  it('a corrupt gzip file is refused as a whole, not read as garbage rows', async () => {
    const broken = gzipSync(Buffer.from(spreadsheet)).subarray(0, 30);
    await expect(readAll(broken, { format: 'csv' })).rejects.toThrow(/gzip/);
  });

  it('a line that is not UTF-8 fails alone, naming its line and the byte', async () => {
    const bytes = Buffer.concat([Buffer.from('id,hardware\nD-1,tr\nD-2,caf'), Buffer.from([0xe9]), Buffer.from(',x\nD-3,tr\n')]);
    const { rows, failures } = await readAll(bytes, { format: 'csv' });
    expect(rows.map((r) => r.id)).toEqual(['D-1', 'D-3']);
    expect(failures).toMatchObject([{ row: 2, line: 3 }]);
    expect(failures[0]?.reason).toMatch(/not valid UTF-8 \(byte 0xe9 at byte 8\)/);
  });

  it('an unclosed quote spoils its own line only: the rows after it are read', () => {
    const csv = ['id,hardware,fw.mcu', 'E-1,tr,1.0.0', 'E-2,"tr,1.0.0', ...Array.from({ length: 150 }, (_, i) => `E-${i + 3},tr,1.0.0`)].join('\n');
    const { rows, failures } = parseManufacturingLog(csv, 'csv');
    expect(failures).toMatchObject([{ row: 2, line: 3, code: 'malformed-row' }]);
    expect(failures[0]?.reason).toContain('not closed');
    expect(rows).toHaveLength(151);
    expect(rows[1]).toMatchObject({ id: 'E-3', row: 3, line: 4 });
  });

  it('a quote that never closes before the end of the file fails its line; the lines after it are rows', () => {
    const { rows, failures } = parseManufacturingLog('id,hardware\nF-1,"tr\nF-2,tr\nF-3,tr\n', 'csv');
    expect(failures).toMatchObject([{ row: 1, line: 2 }]);
    expect(rows.map((r) => [r.id, r.row, r.line])).toEqual([
      ['F-2', 2, 3],
      ['F-3', 3, 4],
    ]);
  });

  it('a NUL character fails its row alone', () => {
    const { rows, failures } = parseManufacturingLog('id,hardware\nG-1,t\0r\nG-2,tr\n', 'csv');
    expect(rows.map((r) => r.id)).toEqual(['G-2']);
    expect(failures).toMatchObject([{ row: 1, line: 2, code: 'malformed-row' }]);
    expect(failures[0]?.reason).toContain('NUL');
  });

  it('a row with a wrong number of fields or a broken quote fails alone', () => {
    const { rows, failures } = parseManufacturingLog('id,hardware\nH-1,tr,extra\nH-2,"tr"x\nH-3,tr\n', 'csv');
    expect(rows.map((r) => r.id)).toEqual(['H-3']);
    expect(failures.map((f) => [f.row, f.line])).toEqual([
      [1, 2],
      [2, 3],
    ]);
  });

  it('a shipment log needs a site column; rows without a site fail alone', () => {
    expect(() => parseShipmentLog('id,date\nX,2026\n', 'csv')).toThrow(/no site column/);
    const { rows, failures } = parseShipmentLog('id;site\nS-1;plant-1\nS-2;\n', 'csv');
    expect(rows).toMatchObject([{ id: 'S-1', site: 'plant-1', line: 2 }]);
    expect(failures).toMatchObject([{ code: 'invalid-shipment', line: 3, deviceId: 'S-2' }]);
  });

  it('splits quote-free records exactly as csv-parse does (the fast path is only faster)', () => {
    const cell = fc.stringMatching(/^[^"\n\r]*$/).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.constantFrom(',', ';', '\t'), fc.array(fc.array(cell, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), (delimiter, records) => {
        const lines = records.map((cells) => cells.join(delimiter)).filter((l) => l.trim() !== '' && !l.startsWith('#'));
        if (lines.length === 0) return;
        const { items } = csvItemsOfText(lines.join('\n'), { delimiter: delimiter as ',' | ';' | '\t' });
        const expected = parse(lines.join('\n'), { delimiter, trim: true, relax_column_count: true, record_delimiter: '\n', skip_empty_lines: true }) as string[][];
        expect(items.map((i) => i.record?.cells)).toEqual(expected);
      }),
    );
  });

  it('never throws on any bytes and numbers every item by a line it has', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const lines = new LineSplitter();
        const reader = new CsvRecordReader({ maxRecordLines: 3 });
        let items;
        try {
          items = [...reader.push(lines.push(Buffer.concat([Buffer.from('id,x\n'), bytes]))), ...reader.push(lines.end()), ...reader.end()];
        } catch (error) {
          // Only a whole-file refusal (UTF-16 BOM) may throw.
          expect((error as { code?: string }).code).toBe('invalid-file');
          return;
        }
        for (const item of items) {
          const line = item.record?.line ?? item.bad!.line;
          expect(line).toBeGreaterThan(0);
          expect(line).toBeLessThanOrEqual(lines.lines);
        }
      }),
    );
  });
});

describe('JSON Lines logs', () => {
  it('reads nested firmware; a line that is not JSON, holds a NUL or a lone surrogate, or nests too deep fails alone', () => {
    const jsonl = [
      '{"id":"J-1","hardware":"tr","firmware":{"mcu":"1.0.0","ble":"1.0.0"},"iccid":"89"}',
      'not json',
      '{"id":"J-3","hardware":"t\\u0000r"}',
      '{"id":"J-4","hardware":"\\ud800"}',
      `{"id":"J-5","x":${'['.repeat(40)}${']'.repeat(40)}}`,
      '',
      '{"id":"J-6","hardware":"tr"}',
    ].join('\n');
    const { rows, failures } = parseManufacturingLog(jsonl, 'jsonl');
    expect(rows.map((r) => [r.id, r.row, r.line])).toEqual([
      ['J-1', 1, 1],
      ['J-6', 6, 7],
    ]);
    expect(rows[0]?.firmware).toEqual({ mcu: '1.0.0', ble: '1.0.0' });
    expect(failures.map((f) => [f.row, f.line, f.code])).toEqual([
      [2, 2, 'malformed-row'],
      [3, 3, 'malformed-row'],
      [4, 4, 'malformed-row'],
      [5, 5, 'malformed-row'],
    ]);
    expect(failures.map((f) => f.reason)).toEqual([
      expect.stringContaining('not valid JSON'),
      expect.stringContaining('NUL'),
      expect.stringContaining('surrogate'),
      expect.stringContaining('nested deeper'),
    ]);
  });
});
