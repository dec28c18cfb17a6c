// The resource kinds as they are declared in YAML (after schema validation).
// Every document: apiVersion fleetform/v1, kind, metadata.name, spec.

export const API_VERSION = 'fleetform/v1';

export const RESOURCE_KINDS = [
  'Tenant',
  'DeviceProfile',
  'Site',
  'DeviceGroup',
  'FirmwareRelease',
  'CompatibilityMatrix',
  'Rollout',
  'AlertRule',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export type Labels = Readonly<Record<string, string>>;

/** Plain JSON data: device configs, rule params, command params. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** JSON with object keys sorted at every level: the same value gives the same text whatever the key order. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value).sort();
  return '{' + keys.map((key) => JSON.stringify(key) + ':' + canonicalJson(value[key] as JsonValue)).join(',') + '}';
}

export interface Metadata {
  name: string;
  labels?: Labels;
  annotations?: Readonly<Record<string, string>>;
}

interface Resource<K extends ResourceKind, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: Metadata;
  spec: S;
}

/**
 * A secret in git: never plaintext. Either age-encrypted armored text, or a
 * reference to a secret the engine holds (environment variable or file).
 */
export type SecretValue =
  | { encrypted: string }
  | { secretRef: { env: string } }
  | { secretRef: { file: string } };

// ── Tenant ────────────────────────────────────────────────────────────────
export interface TenantSpec {
  displayName?: string;
}
export type Tenant = Resource<'Tenant', TenantSpec>;

// ── DeviceProfile ─────────────────────────────────────────────────────────
export type DeviceRole = 'locator' | 'beacon' | 'gateway' | 'controller';

export interface CheckInPolicy {
  /** Normal check-in interval. */
  intervalSeconds: number;
  /** Random spread added to each interval, in percent of it (default 10). */
  jitterPercent?: number;
  /** Interval while a firmware step is in flight (default: interval / 4, at least 60 s). */
  upgradingIntervalSeconds?: number;
  /** A device that missed this many expected check-ins is `offline` (default 3). */
  offlineAfterMissed?: number;
}

export interface DeviceProfileSpec {
  /** Hardware model; a CompatibilityMatrix and FirmwareReleases are declared per hardware. */
  hardware: string;
  /** Firmware components of the hardware, e.g. mcu, ble, lte. */
  components: string[];
  role: DeviceRole;
  services?: string[];
  checkIn: CheckInPolicy;
  /** JSON Schema (2020-12) the effective config must satisfy. Fields with `x-secret: true` hold SecretValues. */
  configSchema?: JsonObject;
  /** Default config; overridden by site, groups, then device. */
  defaults?: JsonObject;
  /** Name of the CompatibilityMatrix that applies (default: the one for `hardware`). */
  matrix?: string;
}
export type DeviceProfile = Resource<'DeviceProfile', DeviceProfileSpec>;

// ── Site ──────────────────────────────────────────────────────────────────
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface MaintenanceWindow {
  /** Days the window opens on (default: every day). */
  days?: Weekday[];
  /** Local time HH:MM in the site's timezone. A window may cross midnight (22:00–04:00). */
  start: string;
  end: string;
}

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface BeaconPosition extends GeoPoint {
  /** Beacon id as devices report it in BLE scans (MAC or iBeacon id). */
  id: string;
  /** Measured RSSI at 1 m, dBm (default -59). */
  txPower?: number;
  floor?: number;
}

export interface CellTower extends GeoPoint {
  mcc: number;
  mnc: number;
  lac: number;
  cid: number;
  /** Approximate coverage radius in metres: the accuracy of a cell-based location. */
  rangeM?: number;
}

export interface WifiNetwork {
  ssid: string;
  security?: 'wpa2-psk' | 'wpa3-sae' | 'open';
  password?: SecretValue;
  priority?: number;
}

export interface SiteSpec {
  tenant: string;
  timezone: string;
  location?: GeoPoint & { address?: string };
  maintenanceWindow?: MaintenanceWindow;
  beacons?: BeaconPosition[];
  cellTowers?: CellTower[];
  wifi?: WifiNetwork[];
  /** Config overrides for every device at the site. */
  config?: JsonObject;
}
export type Site = Resource<'Site', SiteSpec>;

// ── DeviceGroup ───────────────────────────────────────────────────────────
export interface LabelSelector {
  matchLabels?: Labels;
  /** Each expression must hold: label `key` is one of / none of `values`, or exists / does not. */
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface DeviceGroupSpec {
  selector?: LabelSelector;
  /** Restrict to devices of these profiles. */
  profiles?: string[];
  /** Restrict to devices at these sites. */
  sites?: string[];
  /** Explicit members, in addition to the selector's. */
  devices?: string[];
  /** Higher priority groups apply later (win). Ties break by name. */
  priority: number;
  config?: JsonObject;
}
export type DeviceGroup = Resource<'DeviceGroup', DeviceGroupSpec>;

// ── FirmwareRelease ───────────────────────────────────────────────────────
export interface FirmwareArtifact {
  url: string;
  /** 64 lowercase hex digits. */
  sha256: string;
  /** Bytes the device downloads for this step. */
  size: number;
}

export interface FirmwareReleaseSpec {
  hardware: string;
  component: string;
  /** Semver. */
  version: string;
  artifact: FirmwareArtifact;
  /** Component-based compatibility: semver ranges this release requires of the other components. */
  requires?: Readonly<Record<string, string>>;
  releaseNotes?: string;
}
export type FirmwareRelease = Resource<'FirmwareRelease', FirmwareReleaseSpec>;

// ── CompatibilityMatrix ───────────────────────────────────────────────────
/** A firmware combination: component → exact version. */
export type FirmwareVersions = Readonly<Record<string, string>>;

export interface Bundle {
  /** Bundle name, e.g. app-3.2.0. */
  name: string;
  /** Application version the bundle ships as (semver). */
  version: string;
  components: FirmwareVersions;
}

export interface CompatibilityMatrixSpec {
  hardware: string;
  components: string[];
  strategy: 'bundles' | 'constraints';
  /** Strategy `bundles`: the known-good combinations. */
  bundles?: Bundle[];
  /** Combinations allowed as intermediate states only (either strategy). */
  transitional?: FirmwareVersions[];
  /** Allow steps to a lower version of a component (default false). */
  allowDowngrade?: boolean;
}
export type CompatibilityMatrix = Resource<'CompatibilityMatrix', CompatibilityMatrixSpec>;

// ── Rollout ───────────────────────────────────────────────────────────────
export interface RolloutSelector extends LabelSelector {
  profiles?: string[];
  sites?: string[];
  groups?: string[];
}

/** Either a bundle by name / application version, or component versions (exact or semver ranges). */
export type RolloutTarget = { bundle: string } | { components: Readonly<Record<string, string>> };

export interface RolloutWave {
  name: string;
  /** Share of the selected devices, by stable hash bucket: eligible when bucket < percent. */
  percent: number;
  /** Pause the rollout when this share of the wave's finished steps failed (0..1). */
  maxFailureRatio?: number;
  /** …but only once at least this many devices of the wave have finished a step. */
  minDevices?: number;
}

export interface RolloutThrottle {
  /** Steps in flight at once across the rollout. */
  maxInFlight?: number;
  /** Steps in flight at once per serving cell tower. */
  maxInFlightPerCell?: number;
  /** A step not reported back within this time counts as failed. */
  stepTimeoutSeconds?: number;
}

export interface FailurePolicy {
  /** Retries of a failed step within one cycle (e.g. 10). */
  maxRetries: number;
  /** Spacing between retries. */
  retryDelaySeconds: number;
  /** Pause between cycles (e.g. 24 h). */
  coolDownSeconds: number;
  /** Cycles before quarantine. */
  maxCycles: number;
}

export interface RolloutSpec {
  selector: RolloutSelector;
  target: RolloutTarget;
  waves: RolloutWave[];
  /** Name of the wave now open; raising it in git widens the rollout. */
  activeWave: string;
  throttle?: RolloutThrottle;
  failurePolicy: FailurePolicy;
  /** Hand out steps only inside the site's maintenance window. */
  useMaintenanceWindow?: boolean;
  allowDowngrade?: boolean;
  paused?: boolean;
  /** Lower wins when several rollouts select a device; ties break by name. */
  priority?: number;
}
export type Rollout = Resource<'Rollout', RolloutSpec>;

// ── AlertRule ─────────────────────────────────────────────────────────────
export type Severity = 'info' | 'warning' | 'critical';

/** json-rules-engine condition syntax: { all: [...] } | { any: [...] } | { not: ... } with { fact, operator, value, path? } leaves. */
export type RuleCondition =
  | { all: RuleCondition[] }
  | { any: RuleCondition[] }
  | { not: RuleCondition }
  | { fact: string; operator: string; value: JsonValue | { fact: string }; path?: string };

export type AlertAction =
  | { type: 'webhook'; url: string; secret?: SecretValue }
  | { type: 'command'; command: string; params?: JsonObject };

export interface FleetAggregate {
  /** Devices are grouped by this dimension. */
  groupBy: 'site' | 'cell' | 'firmware' | 'profile';
  /** What share of a group's devices is measured. */
  measure: 'offline' | 'failing' | 'quarantined';
  /** Open when the measured share reaches this ratio (0..1)… */
  threshold: number;
  /** …in a group of at least this many devices. */
  minDevices?: number;
}

export interface AlertRuleSpec {
  scope: 'device' | 'fleet';
  severity: Severity;
  description?: string;
  /** Scope `device`: conditions over check-in facts. */
  conditions?: RuleCondition;
  /** Scope `fleet`: the aggregate. */
  aggregate?: FleetAggregate;
  /** Template of the dedupe key, e.g. "{{device.id}}" or "{{site}}". */
  dedupeKey?: string;
  /** The condition must stay false this long before the alert resolves. */
  holdDownSeconds?: number;
  actions?: AlertAction[];
}
export type AlertRule = Resource<'AlertRule', AlertRuleSpec>;

export type ResourceDocument =
  | Tenant
  | DeviceProfile
  | Site
  | DeviceGroup
  | FirmwareRelease
  | CompatibilityMatrix
  | Rollout
  | AlertRule;
