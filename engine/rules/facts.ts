// The facts a device-scoped rule sees at one check-in: telemetry, reported and
// desired state, device metadata, and facts derived from the previous check-in.
import type {
  DeviceStatus,
  FirmwareVersions,
  JsonObject,
  Labels,
  ResolvedLocation,
  ResolvedLocationSource,
  ReportedState,
  Telemetry,
} from '../model/index.ts';
import { cellKey } from '../model/index.ts';

export const MS_PER_DAY = 86_400_000;

export interface PreviousCheckIn {
  /** Server time of the previous check-in, epoch ms. */
  at: number;
  /** A battery percent reported earlier, if any: the reading the drop rate is measured from. */
  battery?: number;
  /** When `battery` was read, epoch ms (default `at`); may be older than the previous check-in. */
  batteryAt?: number;
}

/**
 * Shortest span a battery drop rate is measured over. Batteries report whole percents: one point lost
 * between check-ins ten minutes apart would read as 144 % a day; over six hours it is 4 % a day.
 */
export const MIN_BATTERY_RATE_WINDOW_MS = 6 * 3_600_000;

export interface DeviceFactsInput {
  device: { id: string; profile: string; site: string; labels?: Labels };
  telemetry: Telemetry;
  reported: ReportedState;
  /** Hash of the config the engine wants the device to run; null when none is computed. */
  desiredConfigHash: string | null;
  /** The check-in before this one; null for a first check-in. */
  previous: PreviousCheckIn | null;
  location: ResolvedLocation;
  status: DeviceStatus;
  /** Server time of this check-in, epoch ms. */
  now: number;
}

/**
 * What a device-scoped rule can reference. Absent values stay `undefined`, which no comparison matches.
 * A type alias, not an interface, so it is assignable to the rules' `Facts` record.
 */
export type DeviceFacts = {
  deviceId: string;
  device: { id: string; profile: string; site: string; labels: Labels };
  battery: number | undefined;
  uptimeMs: number | undefined;
  uptimeDays: number | undefined;
  secondsSinceLastCheckIn: number | undefined;
  batteryDropPerDay: number | undefined;
  movement: boolean | undefined;
  movementLock: boolean;
  movedWhileLocked: boolean;
  locationSource: ResolvedLocationSource;
  locationAccuracyM: number | undefined;
  location: ResolvedLocation;
  gpsAccuracyM: number | undefined;
  temperatureC: number | undefined;
  cell: string | undefined;
  firmware: FirmwareVersions;
  firmwareStepStatus: 'succeeded' | 'failed' | undefined;
  configDrift: boolean;
  status: DeviceStatus;
  profile: string;
  site: string;
  labels: Labels;
  state: JsonObject;
};

export type DeviceFactName = keyof DeviceFacts;

/** Every fact name with what it means: the table in docs/rules.md, and what `checkRuleFacts` accepts. */
export const DEVICE_FACT_DESCRIPTIONS: Readonly<Record<DeviceFactName, string>> = {
  deviceId: 'device id (string)',
  device: 'object {id, profile, site, labels}; for dedupe keys like {{device.id}}',
  battery: 'battery percent 0..100 from this check-in',
  uptimeMs: 'uptime in milliseconds from this check-in',
  uptimeDays: 'uptimeMs / 86 400 000 (2^32 ms ≈ 49.71 days)',
  secondsSinceLastCheckIn: 'seconds between the previous check-in and this one (server clock); undefined at the first',
  batteryDropPerDay: 'percentage points lost per day, measured against a battery reading at least 6 h old (negative while charging); undefined without one',
  movement: 'whether the device reports it moved since the last check-in',
  movementLock: 'reported state.movementLock === true',
  movedWhileLocked: 'movement is true while reported state.movementLock is true',
  locationSource: "resolved location source: 'gps' | 'ble' | 'cell' | 'unknown'",
  locationAccuracyM: 'accuracy of the resolved location in metres',
  location: 'the resolved location object {source, lat, lon, accuracyM}',
  gpsAccuracyM: 'accuracy the GPS fix reported, metres; undefined without a fix',
  temperatureC: 'temperature in °C from this check-in',
  cell: 'serving cell key mcc-mnc-lac-cid',
  firmware: 'installed firmware per component, e.g. path "$.mcu"',
  firmwareStepStatus: "status of the firmware step reported in this check-in: 'succeeded' | 'failed'",
  configDrift: 'the config hash the device reports differs from the desired one',
  status: 'device status (converged, drifted, upgrading, retrying, cooling-down, quarantined, off-matrix, blocked, offline, pending)',
  profile: 'device profile name',
  site: 'site name',
  labels: 'device labels object, e.g. path "$.dealer"',
  state: 'free-form reported state object, e.g. path "$.movementLock"',
};

export const KNOWN_DEVICE_FACTS: ReadonlySet<string> = new Set(Object.keys(DEVICE_FACT_DESCRIPTIONS));

export function deriveDeviceFacts(input: DeviceFactsInput): DeviceFacts {
  const { telemetry, reported, previous, location, device } = input;
  const labels = device.labels ?? {};
  const state = reported.state ?? {};
  const battery = finite(telemetry.battery);
  const uptimeMs = finite(telemetry.uptimeMs);
  const movementLock = state['movementLock'] === true;
  const movement = typeof telemetry.movement === 'boolean' ? telemetry.movement : undefined;

  let secondsSinceLastCheckIn: number | undefined;
  let batteryDropPerDay: number | undefined;
  if (previous) {
    const elapsedMs = input.now - previous.at;
    secondsSinceLastCheckIn = elapsedMs / 1000;
    const previousBattery = finite(previous.battery);
    const batteryElapsedMs = input.now - (previous.batteryAt ?? previous.at);
    if (battery !== undefined && previousBattery !== undefined && batteryElapsedMs >= MIN_BATTERY_RATE_WINDOW_MS) {
      batteryDropPerDay = ((previousBattery - battery) * MS_PER_DAY) / batteryElapsedMs;
    }
  }

  return {
    deviceId: device.id,
    device: { id: device.id, profile: device.profile, site: device.site, labels },
    battery,
    uptimeMs,
    uptimeDays: uptimeMs === undefined ? undefined : uptimeMs / MS_PER_DAY,
    secondsSinceLastCheckIn,
    batteryDropPerDay,
    movement,
    movementLock,
    movedWhileLocked: movement === true && movementLock,
    locationSource: location.source,
    locationAccuracyM: location.accuracyM,
    location,
    gpsAccuracyM: finite(telemetry.gps?.accuracyM),
    temperatureC: finite(telemetry.temperatureC),
    cell: telemetry.cell ? cellKey(telemetry.cell) : undefined,
    firmware: reported.firmware,
    firmwareStepStatus: reported.firmwareStep?.status,
    configDrift: input.desiredConfigHash !== null && reported.configHash !== input.desiredConfigHash,
    status: input.status,
    profile: device.profile,
    site: device.site,
    labels,
    state,
  };
}

function finite(value: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
