// The simulated fleet, planned from a compiled snapshot: which devices exist, at which site, with which
// profile, labels, cell tower and starting firmware, and where each one should end up.
import {
  cellKey,
  type BeaconPosition,
  type FirmwareVersions,
  type GeoPoint,
  type Rollout,
  type ServingCell,
  type Site,
  type Snapshot,
} from '../model/index.ts';
import { CompatibilityModel, FirmwarePlanner, compareVersions, waveOfDevice } from '../firmware/index.ts';
import { rolloutForDevice } from '../reconcile/index.ts';
import { pick } from './random.ts';

export interface SimulatedTower {
  site: string;
  cell: ServingCell;
  key: string;
  position: GeoPoint;
  /** Declared in the site's `cellTowers` (false: made up by the simulator to reach --towers). */
  declared: boolean;
}

export interface DevicePlan {
  id: string;
  index: number;
  profile: string;
  site: string;
  hardware: string;
  labels: Record<string, string>;
  /** The firmware the device starts from: the oldest known-good combination of its hardware. */
  firmware: FirmwareVersions;
  /** Towers of its site; the device starts on the first. */
  towers: readonly SimulatedTower[];
  home: GeoPoint;
  beacons: readonly BeaconPosition[];
  /** Seconds between check-ins when nothing happens (the profile's interval): the device's own fallback. */
  intervalSeconds: number;
  /** The rollout that governs it (null: none). */
  rollout: string | null;
}

export interface FleetPlan {
  devices: DevicePlan[];
  towers: SimulatedTower[];
}

export interface FleetPlanOptions {
  devices: number;
  /** Cell towers per site (declared ones first, then made-up ones near the site). */
  towersPerSite: number;
  /** Device ids are `${prefix}${index, 6 digits}`. */
  prefix: string;
  random: () => number;
}

/** Roughly metres → degrees near the site, for scattering devices and made-up towers. */
function offset(point: GeoPoint, metresNorth: number, metresEast: number): GeoPoint {
  const lat = point.lat + metresNorth / 111_320;
  const lon = point.lon + metresEast / (111_320 * Math.max(0.1, Math.cos((point.lat * Math.PI) / 180)));
  return { lat: Math.max(-90, Math.min(90, lat)), lon: ((((lon + 180) % 360) + 360) % 360) - 180 };
}

function siteCentre(site: Site, index: number): GeoPoint {
  if (site.spec.location) return { lat: site.spec.location.lat, lon: site.spec.location.lon };
  const tower = site.spec.cellTowers?.[0];
  if (tower) return { lat: tower.lat, lon: tower.lon };
  const beacon = site.spec.beacons?.[0];
  if (beacon) return { lat: beacon.lat, lon: beacon.lon };
  // A site with no position at all: somewhere stable, apart from the other sites.
  return { lat: 40 + index * 0.1, lon: -100 - index * 0.1 };
}

/** The site's declared towers, then made-up ones (same operator, cid above the declared ones) until `count`. */
export function siteTowers(site: Site, siteIndex: number, count: number): SimulatedTower[] {
  const centre = siteCentre(site, siteIndex);
  const towers: SimulatedTower[] = (site.spec.cellTowers ?? []).slice(0, count).map((t) => {
    const cell: ServingCell = { mcc: t.mcc, mnc: t.mnc, lac: t.lac, cid: t.cid };
    return { site: site.metadata.name, cell, key: cellKey(cell), position: { lat: t.lat, lon: t.lon }, declared: true };
  });
  const first = site.spec.cellTowers?.[0];
  for (let i = towers.length; i < count; i++) {
    const cell: ServingCell = {
      mcc: first?.mcc ?? 310,
      mnc: first?.mnc ?? 260,
      lac: first?.lac ?? 40_000 + siteIndex,
      cid: 900_000_000 + siteIndex * 1000 + i,
    };
    const angle = (2 * Math.PI * i) / Math.max(1, count);
    towers.push({
      site: site.metadata.name,
      cell,
      key: cellKey(cell),
      position: offset(centre, 1200 * Math.sin(angle), 1200 * Math.cos(angle)),
      declared: false,
    });
  }
  return towers;
}

/**
 * The oldest known-good combination of a hardware model: the bundle with the lowest application version
 * (strategy `bundles`), or else the stable combination with the oldest versions (lowest sum of version ranks).
 */
export function oldestKnownGood(model: CompatibilityModel): FirmwareVersions | null {
  if (model.strategy === 'bundles' && model.bundles.length > 0) {
    const oldest = [...model.bundles].sort((a, b) => compareVersions(a.version, b.version) || (a.name < b.name ? -1 : 1))[0];
    if (oldest) return { ...oldest.components };
  }
  // Enumerate combinations in order of total rank; hardware has few components and releases.
  const ranks = model.versions.map((v) => v.length);
  if (ranks.some((n) => n === 0)) return null;
  const maxTotal = ranks.reduce((sum, n) => sum + n - 1, 0);
  for (let total = 0; total <= maxTotal; total++) {
    const found = combinationsWithTotal(ranks, total).find((indices) => model.isStable(stateOf(model, indices)));
    if (found) return stateOf(model, found);
  }
  return null;
}

function stateOf(model: CompatibilityModel, indices: readonly number[]): FirmwareVersions {
  const state: Record<string, string> = {};
  model.components.forEach((c, i) => (state[c] = model.versions[i]?.[indices[i] ?? 0] ?? ''));
  return state;
}

function combinationsWithTotal(ranks: readonly number[], total: number): number[][] {
  const out: number[][] = [];
  const walk = (i: number, left: number, prefix: number[]): void => {
    if (i === ranks.length) {
      if (left === 0) out.push(prefix);
      return;
    }
    for (let r = 0; r < (ranks[i] ?? 0) && r <= left; r++) walk(i + 1, left - r, [...prefix, r]);
  };
  walk(0, total, []);
  return out;
}

/** Label sets the fleet's groups select on, per profile: devices get one at random, so groups have members. */
function labelChoices(snapshot: Snapshot, profile: string): Record<string, string>[] {
  const choices: Record<string, string>[] = [];
  for (const group of snapshot.groups) {
    if (group.spec.profiles && !group.spec.profiles.includes(profile)) continue;
    const labels = group.spec.selector?.matchLabels;
    if (labels && Object.keys(labels).length > 0) choices.push({ ...labels });
  }
  return choices;
}

/**
 * Plans `devices` devices over the snapshot's sites (round robin, so every site gets some) and profiles
 * (beacons are fixed infrastructure: one in seven devices at most). Only profiles whose hardware has a
 * compatibility matrix are used, since the point is to upgrade them.
 */
export function planFleet(snapshot: Snapshot, options: FleetPlanOptions): FleetPlan {
  const planner = new FirmwarePlanner(snapshot);
  const sites = [...snapshot.sites.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  if (sites.length === 0) throw new Error('the fleet declares no Site: nowhere to put devices');
  const profiles = [...snapshot.profiles.values()]
    .filter((p) => planner.model(p.spec.hardware) !== null)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  if (profiles.length === 0) throw new Error('no DeviceProfile has a CompatibilityMatrix for its hardware');
  const starting = new Map<string, FirmwareVersions>();
  for (const p of profiles) {
    const model = planner.model(p.spec.hardware);
    const oldest = model ? oldestKnownGood(model) : null;
    if (oldest) starting.set(p.metadata.name, oldest);
  }
  const usable = profiles.filter((p) => starting.has(p.metadata.name));
  if (usable.length === 0) throw new Error('no hardware has a known-good firmware combination to start from');
  const beaconLike = usable.filter((p) => p.spec.role === 'beacon');
  const others = usable.filter((p) => p.spec.role !== 'beacon');

  const towersBySite = new Map<string, SimulatedTower[]>();
  sites.forEach((site, i) => towersBySite.set(site.metadata.name, siteTowers(site, i, Math.max(1, options.towersPerSite))));

  const devices: DevicePlan[] = [];
  for (let index = 0; index < options.devices; index++) {
    const siteIndex = index % sites.length;
    const site = sites[siteIndex] as Site;
    const profile =
      others.length === 0 ? pick(beaconLike, options.random) : beaconLike.length > 0 && options.random() < 1 / 7 ? pick(beaconLike, options.random) : pick(others, options.random);
    const id = `${options.prefix}${String(index + 1).padStart(6, '0')}`;
    const choices = labelChoices(snapshot, profile.metadata.name);
    const labels: Record<string, string> = choices.length > 0 && options.random() < 0.8 ? pick(choices, options.random) : {};
    const allTowers = towersBySite.get(site.metadata.name) ?? [];
    // Each device mostly hears one tower; it may hop to the others when it moves.
    const first = Math.floor(options.random() * allTowers.length);
    const towers = [...allTowers.slice(first), ...allTowers.slice(0, first)];
    const identity = { id, profile: profile.metadata.name, site: site.metadata.name, labels };
    devices.push({
      id,
      index,
      profile: profile.metadata.name,
      site: site.metadata.name,
      hardware: profile.spec.hardware,
      labels,
      firmware: { ...(starting.get(profile.metadata.name) as FirmwareVersions) },
      towers,
      home: offset(siteCentre(site, siteIndex), (options.random() - 0.5) * 300, (options.random() - 0.5) * 300),
      beacons: site.spec.beacons ?? [],
      intervalSeconds: profile.spec.checkIn?.intervalSeconds ?? 900,
      rollout: rolloutForDevice(snapshot, identity)?.metadata.name ?? null,
    });
  }
  return { devices, towers: [...towersBySite.values()].flat() };
}

/**
 * Where a device should end up under the snapshot: the destination of its rollout's plan when the rollout
 * governs it, is not paused and its wave is open; else where it starts. (Maintenance windows and automatic
 * pauses are the engine's business: a run during a closed window simply does not converge.)
 */
export function convergenceTarget(snapshot: Snapshot, device: DevicePlan, planner = new FirmwarePlanner(snapshot)): FirmwareVersions {
  const rollout: Rollout | undefined = snapshot.rollouts.find((r) => r.metadata.name === device.rollout);
  if (!rollout || rollout.spec.paused === true || waveOfDevice(rollout, device.id) === null) return device.firmware;
  const plan = planner.plan({ hardware: device.hardware, from: device.firmware, rollout });
  return plan.destination && plan.status !== 'blocked' ? { ...plan.destination } : device.firmware;
}

/** `mcu 2.0.0, ble 1.2.0` of the components the state names, sorted: a stable label for summaries. */
export function firmwareLabel(hardware: string, firmware: FirmwareVersions): string {
  const parts = Object.keys(firmware)
    .sort()
    .map((c) => `${c} ${firmware[c]}`);
  return `${hardware}: ${parts.join(', ')}`;
}
