// What devices report and what the engine answers: the check-in contract.
import type { FirmwareVersions, JsonObject, JsonValue } from './resources.ts';

export interface FirmwareStepReport {
  id: string;
  status: 'succeeded' | 'failed';
  error?: string;
}

export interface CommandResult {
  id: string;
  status: 'succeeded' | 'failed' | 'rejected';
  output?: JsonValue;
}

export interface ReportedState {
  /** Installed firmware per component. */
  firmware: FirmwareVersions;
  /** Hash of the config the device runs, as the engine gave it; null before the first config. */
  configHash: string | null;
  firmwareStep?: FirmwareStepReport;
  commandResults?: CommandResult[];
  /** Free-form device state, e.g. { movementLock: true }. */
  state?: JsonObject;
}

export interface GpsFix {
  lat: number;
  lon: number;
  accuracyM?: number;
}

export interface BleSighting {
  id: string;
  rssi: number;
}

export interface ServingCell {
  mcc: number;
  mnc: number;
  lac: number;
  cid: number;
  rssi?: number;
}

export interface Telemetry {
  /** Device clock, ISO 8601. */
  time: string;
  /** Percent 0..100. */
  battery?: number;
  uptimeMs?: number;
  gps?: GpsFix;
  ble?: BleSighting[];
  cell?: ServingCell;
  /** Whether the device moved since the last check-in. */
  movement?: boolean;
  temperatureC?: number;
}

export interface CheckInRequest {
  reported: ReportedState;
  telemetry: Telemetry;
}

export interface Command {
  id: string;
  type: string;
  params: JsonObject;
}

export interface FirmwareStepOrder {
  stepId: string;
  component: string;
  version: string;
  url: string;
  sha256: string;
  size: number;
  /** Steps left after this one. */
  remainingSteps: number;
}

export interface CheckInAnswer {
  revision: string;
  configHash: string;
  /** Only when the device's configHash differs. */
  config?: JsonObject;
  commands: Command[];
  firmware: FirmwareStepOrder | null;
  nextCheckInSeconds: number;
}

export const DEVICE_STATUSES = [
  'converged',
  'drifted',
  'upgrading',
  'retrying',
  'cooling-down',
  'quarantined',
  'off-matrix',
  'blocked',
  'offline',
  'pending',
] as const;
/** `pending`: registered, never checked in. */
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** A device as the fleet knows it: what the core needs to compute its desired state. */
export interface DeviceIdentity {
  id: string;
  profile: string;
  site: string;
  labels: Readonly<Record<string, string>>;
  /** Per-device config override, last in the merge order. */
  configOverride?: JsonObject;
}

export type ResolvedLocationSource = 'gps' | 'ble' | 'cell' | 'unknown';

export interface ResolvedLocation {
  source: ResolvedLocationSource;
  lat?: number;
  lon?: number;
  accuracyM?: number;
}

/** Stable key of a serving cell, used for per-tower throttles and grouping: `mcc-mnc-lac-cid`. */
export function cellKey(cell: ServingCell): string {
  return `${cell.mcc}-${cell.mnc}-${cell.lac}-${cell.cid}`;
}

// ── Firmware rollout state of one device (persisted by the store, transformed by the core) ──

/** The failure-policy state machine's states. */
export type FirmwarePhase = 'idle' | 'in-flight' | 'retrying' | 'cooling-down' | 'quarantined';

export interface InFlightStep {
  id: string;
  rollout: string;
  component: string;
  from: string;
  to: string;
  /** cellKey of the serving cell when the step was handed out; null when unknown. */
  cell: string | null;
  /** Epoch milliseconds. */
  issuedAt: number;
}

export interface DeviceFirmwareState {
  phase: FirmwarePhase;
  /** The rollout the device is following, if any. */
  rollout: string | null;
  /** Set while phase is `in-flight`. */
  step: InFlightStep | null;
  /** Failed attempts in the current cycle. */
  failuresInCycle: number;
  /** 1-based number of the current cycle. */
  cycle: number;
  /** Epoch ms before which no new step is handed out (retry spacing, cool-down). */
  nextAttemptAt: number | null;
  lastError: string | null;
}

export const INITIAL_FIRMWARE_STATE: DeviceFirmwareState = {
  phase: 'idle',
  rollout: null,
  step: null,
  failuresInCycle: 0,
  cycle: 1,
  nextAttemptAt: null,
  lastError: null,
};

/** Steps of one rollout in flight right now, counted across all engine processes. */
export interface InFlightCounts {
  total: number;
  perCell: ReadonlyMap<string, number>;
}

/** Finished steps of one wave of a rollout: the input of the automatic pause. */
export interface WaveProgress {
  wave: string;
  succeeded: number;
  failed: number;
}
