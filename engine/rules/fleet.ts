// Fleet-level rules: offline detection, aggregates over groups of devices (one alert
// for a site going dark, not one per device), and offline cohort analysis.
import type { AlertAction, CheckInPolicy, DeviceStatus, FirmwareVersions, FleetAggregate, Severity } from '../model/index.ts';
import { MS_PER_DAY } from './facts.ts';
import type { RuleSet } from './ruleset.ts';

/** Missed check-ins before a device is offline when its profile declares none. */
export const DEFAULT_OFFLINE_AFTER_MISSED = 3;

/** When a device that last checked in at `lastCheckInAt` becomes offline (epoch ms): index this, sweep on it. */
export function offlineDeadline(lastCheckInAt: number, intervalSeconds: number, factor: number = DEFAULT_OFFLINE_AFTER_MISSED): number {
  return lastCheckInAt + intervalSeconds * factor * 1000;
}

/** Whether a device missed `factor` expected check-ins. A device that never checked in is pending, not offline. */
export function isOffline(
  lastCheckInAt: number | null,
  intervalSeconds: number,
  factor: number,
  now: number,
): boolean {
  return lastCheckInAt !== null && now > offlineDeadline(lastCheckInAt, intervalSeconds, factor);
}

/** A device as the fleet index knows it. */
export interface FleetDevice {
  id: string;
  site: string;
  /** cellKey of the last serving cell; null when unknown. */
  cell: string | null;
  firmware: FirmwareVersions;
  profile: string;
  status: DeviceStatus;
  /** Epoch ms; null when the device never checked in. */
  lastCheckInAt: number | null;
  /** Uptime reported at the last check-in, for cohort analysis. */
  lastUptimeMs?: number | null;
}

/** Stable key of a firmware combination: components sorted, `ble=1.4.0,mcu=2.3.1`. */
export function firmwareKey(firmware: FirmwareVersions): string {
  return Object.keys(firmware)
    .sort()
    .map((component) => `${component}=${firmware[component]}`)
    .join(',');
}

export function groupKey(device: FleetDevice, by: FleetAggregate['groupBy']): string | null {
  switch (by) {
    case 'site':
      return device.site;
    case 'cell':
      return device.cell;
    case 'firmware':
      return firmwareKey(device.firmware);
    case 'profile':
      return device.profile;
  }
}

/** Firmware-policy states that count as failing (quarantined counts as failing too). */
export const FAILING_STATUSES: ReadonlySet<DeviceStatus> = new Set(['retrying', 'cooling-down', 'quarantined']);

export interface FleetAggregateOptions {
  /**
   * The check-in policy of a profile. When given, a device is also offline once it missed its
   * expected check-ins (before the sweep marked it); otherwise only status `offline` counts.
   */
  checkInPolicy?: (profile: string) => CheckInPolicy | undefined;
}

/** One group's measure under one fleet rule: a candidate alert when `holds`. */
export interface FleetAggregateResult {
  rule: string;
  severity: Severity;
  groupBy: FleetAggregate['groupBy'];
  group: string;
  measure: FleetAggregate['measure'];
  /** Devices of the group in service (pending devices do not count). */
  total: number;
  /** Of those, how many are measured (offline / failing / quarantined). */
  affected: number;
  share: number;
  threshold: number;
  minDevices: number;
  holds: boolean;
  /** Alerts are deduplicated by (rule, dedupeKey); default `<groupBy>:<group>`. */
  dedupeKey: string;
  holdDownSeconds: number;
  actions: readonly AlertAction[];
  /** E.g. "widespread comms failure at site dealer-munich: 12 of 40 devices offline (30 %)". */
  summary: string;
  /** Up to 20 affected device ids, for the alert's detail. */
  sampleDeviceIds: string[];
}

const SAMPLE_SIZE = 20;

/**
 * Evaluate every fleet rule over the devices: one result per rule and group, holding or not
 * (the caller resolves open alerts whose group no longer holds or no longer exists).
 */
export function evaluateFleetAggregates(
  rules: RuleSet | RuleSet['fleetRules'],
  devices: readonly FleetDevice[],
  now: number,
  options: FleetAggregateOptions = {},
): FleetAggregateResult[] {
  const fleetRules = 'fleetRules' in rules ? rules.fleetRules : rules;
  const results: FleetAggregateResult[] = [];
  const policyCache = new Map<string, CheckInPolicy | undefined>();
  const offline = (device: FleetDevice): boolean => {
    if (device.status === 'offline') return true;
    if (!options.checkInPolicy) return false;
    let policy = policyCache.get(device.profile);
    if (!policyCache.has(device.profile)) {
      policy = options.checkInPolicy(device.profile);
      policyCache.set(device.profile, policy);
    }
    return policy !== undefined && isOffline(device.lastCheckInAt, policy.intervalSeconds, policy.offlineAfterMissed ?? DEFAULT_OFFLINE_AFTER_MISSED, now);
  };
  const measured: Record<FleetAggregate['measure'], (device: FleetDevice) => boolean> = {
    offline,
    failing: (device) => FAILING_STATUSES.has(device.status),
    quarantined: (device) => device.status === 'quarantined',
  };

  for (const rule of fleetRules) {
    const { groupBy, measure, threshold } = rule.aggregate;
    const minDevices = rule.aggregate.minDevices ?? 1;
    const groups = new Map<string, { total: number; affected: string[] }>();
    for (const device of devices) {
      if (device.status === 'pending') continue;
      const key = groupKey(device, groupBy);
      if (key === null) continue;
      let group = groups.get(key);
      if (!group) {
        group = { total: 0, affected: [] };
        groups.set(key, group);
      }
      group.total++;
      if (measured[measure](device)) group.affected.push(device.id);
    }
    for (const [group, { total, affected }] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const share = affected.length / total;
      const holds = total >= minDevices && affected.length > 0 && share >= threshold;
      const context = { rule: rule.name, groupBy, group, measure, [groupBy]: group };
      results.push({
        rule: rule.name,
        severity: rule.severity,
        groupBy,
        group,
        measure,
        total,
        affected: affected.length,
        share,
        threshold,
        minDevices,
        holds,
        dedupeKey: rule.dedupeKey ? rule.dedupeKey(context) : `${groupBy}:${group}`,
        holdDownSeconds: rule.holdDownSeconds,
        actions: rule.actions,
        summary: `${SUMMARY[measure]} at ${groupBy} ${group}: ${affected.length} of ${total} devices ${measure} (${Math.round(share * 100)} %)`,
        sampleDeviceIds: affected.slice().sort().slice(0, SAMPLE_SIZE),
      });
    }
  }
  return results;
}

const SUMMARY: Record<FleetAggregate['measure'], string> = {
  offline: 'widespread comms failure',
  failing: 'widespread firmware failures',
  quarantined: 'widespread quarantine',
};

// ── Offline cohorts: what the devices that went dark have in common ────────

export type CohortDimension = 'uptime' | 'firmware' | 'site' | 'cell';

/** Uptimes at which 32-bit millisecond counters overflow: the classic firmware time bombs. */
export const UPTIME_OVERFLOWS = [
  { marker: 'int32-ms-overflow', ms: 2 ** 31, label: '2^31 ms ≈ 24.86 days' },
  { marker: 'uint32-ms-overflow', ms: 2 ** 32, label: '2^32 ms ≈ 49.71 days' },
] as const;

export interface OfflineCohort {
  /** Uptime: the whole day `49`; firmware: `ble=1.4.0,mcu=2.3.1`; site / cell: its name or key. `unknown` when missing. */
  key: string;
  label: string;
  count: number;
  /** Share of the analysed devices. */
  share: number;
  deviceIds: string[];
  /** Uptime cohorts only: the day bucket that contains a 32-bit millisecond overflow. */
  marker?: (typeof UPTIME_OVERFLOWS)[number]['marker'];
  /** Uptime cohorts only: the bucket's range in days [from, to). */
  uptimeDays?: [number, number];
}

/**
 * Group the given offline devices (the caller picks them, e.g. offline within the last week)
 * by one dimension, largest cohort first. Uptime uses the last reported uptime in whole days.
 */
export function groupOfflineCohorts(devices: readonly FleetDevice[], by: CohortDimension): OfflineCohort[] {
  const cohorts = new Map<string, OfflineCohort>();
  for (const device of devices) {
    const { key, label, day } = cohortOf(device, by);
    let cohort = cohorts.get(key);
    if (!cohort) {
      cohort = { key, label, count: 0, share: 0, deviceIds: [] };
      if (day !== undefined) {
        cohort.uptimeDays = [day, day + 1];
        const overflow = UPTIME_OVERFLOWS.find((o) => o.ms >= day * MS_PER_DAY && o.ms < (day + 1) * MS_PER_DAY);
        if (overflow) {
          cohort.marker = overflow.marker;
          cohort.label = `${label} (${overflow.label})`;
        }
      }
      cohorts.set(key, cohort);
    }
    cohort.count++;
    cohort.deviceIds.push(device.id);
  }
  const total = devices.length;
  return [...cohorts.values()]
    .map((cohort) => ({ ...cohort, share: total === 0 ? 0 : cohort.count / total, deviceIds: cohort.deviceIds.sort() }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key, 'en', { numeric: true }));
}

function cohortOf(device: FleetDevice, by: CohortDimension): { key: string; label: string; day?: number } {
  switch (by) {
    case 'uptime': {
      const uptime = device.lastUptimeMs;
      if (uptime === null || uptime === undefined || !Number.isFinite(uptime)) return { key: 'unknown', label: 'uptime unknown' };
      const day = Math.floor(uptime / MS_PER_DAY);
      return { key: String(day), label: `${day}–${day + 1} days`, day };
    }
    case 'firmware': {
      const key = firmwareKey(device.firmware);
      return { key: key || 'unknown', label: key || 'firmware unknown' };
    }
    case 'site':
      return { key: device.site, label: `site ${device.site}` };
    case 'cell':
      return device.cell ? { key: device.cell, label: `cell ${device.cell}` } : { key: 'unknown', label: 'cell unknown' };
  }
}
