import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  beaconPositionIndex,
  cellTowerIndex,
  distanceM,
  resolveLocation,
  rssiToDistanceM,
  type LocationSources,
} from '../../engine/location/index.ts';
import type { BeaconPosition, CellTower, GeoPoint, Telemetry } from '../../engine/model/index.ts';

// An equilateral triangle of beacons, ~30 m a side, in a dealership lot.
const origin = { lat: 48.1372, lon: 11.5756 };
const metresPerDegLat = 111_195;
const metresPerDegLon = metresPerDegLat * Math.cos((origin.lat * Math.PI) / 180);
function at(eastM: number, northM: number): GeoPoint {
  return { lat: origin.lat + northM / metresPerDegLat, lon: origin.lon + eastM / metresPerDegLon };
}
const beacons: BeaconPosition[] = [
  { id: 'AA:00:00:00:00:01', ...at(0, 0), txPower: -59 },
  { id: 'AA:00:00:00:00:02', ...at(30, 0), txPower: -59 },
  { id: 'AA:00:00:00:00:03', ...at(15, 30 * Math.sin(Math.PI / 3)), txPower: -59 },
];
const tower: CellTower = { mcc: 262, mnc: 1, lac: 4711, cid: 123456, lat: 48.14, lon: 11.58, rangeM: 1500 };
const sources: LocationSources = { beacons, cellTower: cellTowerIndex([tower]) };
const base: Telemetry = { time: '2026-11-22T08:00:00Z' };

/** Barycentric inside test in a local metric plane. */
function insideTriangle(p: GeoPoint, [a, b, c]: readonly GeoPoint[]): boolean {
  const xy = (g: GeoPoint) => [(g.lon - origin.lon) * metresPerDegLon, (g.lat - origin.lat) * metresPerDegLat] as const;
  const [px, py] = xy(p);
  const [ax, ay] = xy(a!);
  const [bx, by] = xy(b!);
  const [cx, cy] = xy(c!);
  const d = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy);
  const u = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / d;
  const v = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / d;
  return u >= -1e-9 && v >= -1e-9 && u + v <= 1 + 1e-9;
}

describe('resolveLocation', () => {
  it('uses the GPS fix when present, even when beacons and a cell are heard', () => {
    const location = resolveLocation(
      {
        ...base,
        gps: { lat: 48.2, lon: 11.6, accuracyM: 8 },
        ble: [{ id: beacons[0]!.id, rssi: -60 }],
        cell: { mcc: 262, mnc: 1, lac: 4711, cid: 123456 },
      },
      sources,
    );
    expect(location).toEqual({ source: 'gps', lat: 48.2, lon: 11.6, accuracyM: 8 });
  });

  it('ignores the 0/0 "no fix" sentinel and falls back to the next source', () => {
    const location = resolveLocation({ ...base, gps: { lat: 0, lon: 0 }, cell: { mcc: 262, mnc: 1, lac: 4711, cid: 123456 } }, sources);
    expect(location.source).toBe('cell');
  });

  it('puts a three-beacon estimate inside their triangle, closest to the strongest beacon', () => {
    const location = resolveLocation(
      {
        ...base,
        ble: [
          { id: 'aa:00:00:00:00:01', rssi: -62 }, // ids match case-insensitively
          { id: beacons[1]!.id, rssi: -75 },
          { id: beacons[2]!.id, rssi: -78 },
        ],
      },
      sources,
    );
    expect(location.source).toBe('ble');
    const point = { lat: location.lat!, lon: location.lon! };
    expect(insideTriangle(point, beacons)).toBe(true);
    const [toStrongest, toB, toC] = beacons.map((b) => distanceM(point, b));
    expect(toStrongest!).toBeLessThan(toB!);
    expect(toStrongest!).toBeLessThan(toC!);
    expect(location.accuracyM).toBeGreaterThan(0);
  });

  it('for any three readings, the estimate lies in the triangle and nearest the loudest beacon', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: -100, max: -54 }) /* above -53 dBm all read as "within 0.5 m" */, { minLength: 3, maxLength: 3 }),
        (rssis) => {
          const location = resolveLocation(
            { ...base, ble: beacons.map((b, i) => ({ id: b.id, rssi: rssis[i]! })) },
            { beacons: beaconPositionIndex(beacons), cellTower: () => undefined },
          );
          const point = { lat: location.lat!, lon: location.lon! };
          const distances = beacons.map((b) => distanceM(point, b));
          const loudest = rssis.indexOf(Math.max(...rssis));
          const nearest = distances.indexOf(Math.min(...distances));
          return location.source === 'ble' && insideTriangle(point, beacons) && nearest === loudest;
        },
      ),
    );
  });

  it('a single beacon gives its position with the modelled distance as accuracy', () => {
    const location = resolveLocation({ ...base, ble: [{ id: beacons[0]!.id, rssi: -79 }] }, sources);
    expect(location.source).toBe('ble');
    expect(location.lat).toBeCloseTo(beacons[0]!.lat, 9);
    expect(location.accuracyM).toBeCloseTo(rssiToDistanceM(-79, -59), 0);
  });

  it('falls back to the serving cell, carrying the tower range as accuracy', () => {
    const location = resolveLocation(
      { ...base, ble: [{ id: 'ff:ff:ff:ff:ff:ff', rssi: -50 }], cell: { mcc: 262, mnc: 1, lac: 4711, cid: 123456, rssi: -90 } },
      sources,
    );
    expect(location).toEqual({ source: 'cell', lat: tower.lat, lon: tower.lon, accuracyM: tower.rangeM });
  });

  it('is unknown when no source resolves', () => {
    expect(resolveLocation(base, sources)).toEqual({ source: 'unknown' });
    expect(resolveLocation({ ...base, cell: { mcc: 262, mnc: 2, lac: 1, cid: 1 } }, sources)).toEqual({ source: 'unknown' });
  });
});

describe('rssiToDistanceM (log-distance path loss)', () => {
  it('is 1 m at the calibrated power and grows tenfold per 10·n dB', () => {
    expect(rssiToDistanceM(-59, -59)).toBeCloseTo(1);
    expect(rssiToDistanceM(-79, -59, 2)).toBeCloseTo(10);
    expect(rssiToDistanceM(-89, -59, 3)).toBeCloseTo(10);
  });
});
