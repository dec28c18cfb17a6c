import { describe, expect, it } from 'vitest';
import { parseOpenCellIdCsv } from '../../engine/location/index.ts';

const header = 'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal';

describe('parseOpenCellIdCsv', () => {
  it('reads towers with or without the header line', () => {
    const rows = ['LTE,262,1,4711,123456,0,11.58,48.14,1500,12,1,1459814400,1700000000,0', 'GSM,262,2,100,200,,11.6,48.2,800,3,1,1459814400,1459814400,-85'];
    for (const text of [[header, ...rows].join('\n'), rows.join('\r\n') + '\r\n']) {
      const { towers, issues } = parseOpenCellIdCsv(text);
      expect(issues).toEqual([]);
      expect(towers.map((t) => [t.radio, t.mcc, t.mnc, t.lac, t.cid, t.lat, t.lon, t.rangeM])).toEqual([
        ['LTE', 262, 1, 4711, 123456, 48.14, 11.58, 1500],
        ['GSM', 262, 2, 100, 200, 48.2, 11.6, 800],
      ]);
    }
  });

  it('reports each bad row with its line number and keeps the good ones', () => {
    const text = [
      header,
      'LTE,262,1,4711,123456,0,11.58,48.14,1500,12,1,1459814400,1700000000,0',
      'LTE,262,1,4711',
      'WIMAX,262,1,1,1,0,11,48,100,1,1,0,0,0',
      '',
      'UMTS,262,x,1,1,0,11,48,100,1,1,0,0,0',
      'UMTS,262,1,1,1,0,11,95,100,1,1,0,0,0',
      'NR,262,1,1,2,0,11,48,100,1,1,0,0,0',
    ].join('\n');
    const { towers, issues } = parseOpenCellIdCsv(text);
    expect(towers.map((t) => t.line)).toEqual([2, 8]);
    expect(issues.map((i) => [i.line, i.code, i.column])).toEqual([
      [3, 'column-count', undefined],
      [4, 'unknown-radio', 'radio'],
      [6, 'invalid-number', 'net'],
      [7, 'out-of-range', 'lat'],
    ]);
  });

  it('holds rows to the bounds the engine accepts, so a row the engine would refuse fails alone here, not its batch', () => {
    const text = ['LTE,262,1,3000000000,1,0,11,48,100', 'LTE,262,1,1,1099511627777,0,11,48,100', 'LTE,262,1,1,1,0,11,48,2000000', 'LTE,262,1,1,1,0,11,48,100'].join('\n');
    const { towers, issues } = parseOpenCellIdCsv(text);
    expect(towers.map((t) => t.line)).toEqual([4]);
    expect(issues.map((i) => [i.line, i.code, i.column])).toEqual([
      [1, 'out-of-range', 'area'],
      [2, 'out-of-range', 'cell'],
      [3, 'out-of-range', 'range'],
    ]);
  });
});
