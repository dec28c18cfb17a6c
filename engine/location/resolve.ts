// Resolve a check-in's location from the best source it carries: GPS, then BLE
// beacons with known positions, then the serving cell tower, else unknown.
import type { BeaconPosition, CellTower, GeoPoint, ResolvedLocation, ServingCell, Telemetry } from '../model/index.ts';
import { cellKey } from '../model/index.ts';

/** Measured RSSI at 1 m when a beacon declares none (a common iBeacon calibration). */
export const DEFAULT_BEACON_TX_POWER = -59;
/** Log-distance path-loss exponent: 2 is free space; indoors 2–4. */
export const DEFAULT_PATH_LOSS_EXPONENT = 2;
/** Only the strongest sightings count: far beacons add noise, not information. */
export const DEFAULT_MAX_BEACONS = 6;
/** Below this, a BLE estimate claims more precision than RSSI can give. */
export const MIN_BLE_ACCURACY_M = 1;

const EARTH_RADIUS_M = 6_371_008.8;

export interface LocationSources {
  /** Beacons with known positions: the site's declared beacons and fixed beacon devices. */
  beacons: readonly BeaconPosition[] | ReadonlyMap<string, BeaconPosition>;
  /** Look up the serving cell in the tower table. */
  cellTower(cell: ServingCell): CellTower | undefined;
}

export interface LocationModel {
  pathLossExponent?: number;
  maxBeacons?: number;
}

export function resolveLocation(
  telemetry: Telemetry,
  sources: LocationSources,
  model: LocationModel = {},
): ResolvedLocation {
  const gps = telemetry.gps;
  if (gps && isUsableFix(gps)) {
    return gps.accuracyM !== undefined && Number.isFinite(gps.accuracyM)
      ? { source: 'gps', lat: gps.lat, lon: gps.lon, accuracyM: gps.accuracyM }
      : { source: 'gps', lat: gps.lat, lon: gps.lon };
  }
  if (telemetry.ble && telemetry.ble.length > 0) {
    const estimate = estimateFromBeacons(telemetry.ble, beaconIndex(sources.beacons), model);
    if (estimate) return estimate;
  }
  if (telemetry.cell) {
    const tower = sources.cellTower(telemetry.cell);
    if (tower && isUsableFix(tower)) {
      return tower.rangeM !== undefined
        ? { source: 'cell', lat: tower.lat, lon: tower.lon, accuracyM: tower.rangeM }
        : { source: 'cell', lat: tower.lat, lon: tower.lon };
    }
  }
  return { source: 'unknown' };
}

/** Distance in metres at which a beacon of this calibration is heard at `rssi` (log-distance path loss). */
export function rssiToDistanceM(rssi: number, txPower: number, pathLossExponent = DEFAULT_PATH_LOSS_EXPONENT): number {
  return 10 ** ((txPower - rssi) / (10 * pathLossExponent));
}

/** Great-circle distance (haversine) in metres. */
export function distanceM(a: GeoPoint, b: GeoPoint): number {
  const toRad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * toRad;
  const dLon = (b.lon - a.lon) * toRad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * toRad) * Math.cos(b.lat * toRad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Tower lookup by `cellKey` over a list, e.g. a site's declared towers plus an imported table. */
export function cellTowerIndex(towers: Iterable<CellTower>): (cell: ServingCell) => CellTower | undefined {
  const byKey = new Map<string, CellTower>();
  for (const tower of towers) byKey.set(cellKey({ mcc: tower.mcc, mnc: tower.mnc, lac: tower.lac, cid: tower.cid }), tower);
  return (cell) => byKey.get(cellKey(cell));
}

// lat 0 / lon 0 exactly is the usual "no fix" sentinel of GPS modules, not a position in the Gulf of Guinea.
function isUsableFix(point: GeoPoint): boolean {
  return (
    Number.isFinite(point.lat) &&
    Number.isFinite(point.lon) &&
    Math.abs(point.lat) <= 90 &&
    Math.abs(point.lon) <= 180 &&
    !(point.lat === 0 && point.lon === 0)
  );
}

function beaconIndex(beacons: LocationSources['beacons']): ReadonlyMap<string, BeaconPosition> {
  if (!Array.isArray(beacons)) {
    // A map the caller built once: assume its keys are already normalised.
    return beacons as ReadonlyMap<string, BeaconPosition>;
  }
  const index = new Map<string, BeaconPosition>();
  for (const beacon of beacons as readonly BeaconPosition[]) index.set(normaliseBeaconId(beacon.id), beacon);
  return index;
}

/** Build once per revision and pass as `beacons`: ids are matched case-insensitively (MAC addresses). */
export function beaconPositionIndex(beacons: Iterable<BeaconPosition>): ReadonlyMap<string, BeaconPosition> {
  const index = new Map<string, BeaconPosition>();
  for (const beacon of beacons) index.set(normaliseBeaconId(beacon.id), beacon);
  return index;
}

function normaliseBeaconId(id: string): string {
  return id.trim().toLowerCase();
}

interface WeightedBeacon {
  beacon: BeaconPosition;
  distanceM: number;
  weight: number;
}

function estimateFromBeacons(
  sightings: NonNullable<Telemetry['ble']>,
  beacons: ReadonlyMap<string, BeaconPosition>,
  model: LocationModel,
): ResolvedLocation | undefined {
  const n = model.pathLossExponent ?? DEFAULT_PATH_LOSS_EXPONENT;
  const maxBeacons = model.maxBeacons ?? DEFAULT_MAX_BEACONS;
  // Strongest reading per known beacon: a scan may hear the same beacon several times.
  const strongest = new Map<string, { beacon: BeaconPosition; rssi: number }>();
  for (const sighting of sightings) {
    if (!Number.isFinite(sighting.rssi)) continue;
    const key = normaliseBeaconId(sighting.id);
    const beacon = beacons.get(key);
    if (!beacon || !isUsableFix(beacon)) continue;
    const seen = strongest.get(key);
    if (!seen || sighting.rssi > seen.rssi) strongest.set(key, { beacon, rssi: sighting.rssi });
  }
  if (strongest.size === 0) return undefined;

  const used: WeightedBeacon[] = [...strongest.values()]
    .sort((a, b) => b.rssi - a.rssi || a.beacon.id.localeCompare(b.beacon.id))
    .slice(0, maxBeacons)
    .map(({ beacon, rssi }) => {
      const d = rssiToDistanceM(rssi, beacon.txPower ?? DEFAULT_BEACON_TX_POWER, n);
      // Closer than 1 m is within the model's noise: cap the weight so one beacon cannot dominate infinitely.
      const clamped = Math.max(d, 0.5);
      return { beacon, distanceM: d, weight: 1 / (clamped * clamped) };
    });

  // Weighted centroid. Equirectangular projection is linear in lat/lon, so the centroid
  // can be taken directly on the coordinates (beacons of one site span metres, not degrees).
  let sumW = 0;
  let lat = 0;
  let lon = 0;
  for (const { beacon, weight } of used) {
    sumW += weight;
    lat += weight * beacon.lat;
    lon += weight * beacon.lon;
  }
  const estimate = { lat: lat / sumW, lon: lon / sumW };

  // Accuracy: weighted RMS disagreement between the modelled distance to each beacon and the
  // estimate's actual distance to it. One beacon → the modelled distance itself (a circle around it).
  let residual = 0;
  for (const { beacon, distanceM: modelled, weight } of used) {
    const diff = distanceM(estimate, beacon) - modelled;
    residual += weight * diff * diff;
  }
  const accuracyM = Math.max(MIN_BLE_ACCURACY_M, Math.round(Math.sqrt(residual / sumW) * 10) / 10);
  return { source: 'ble', lat: estimate.lat, lon: estimate.lon, accuracyM };
}
