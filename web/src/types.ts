// What the console reads from the operator API (docs/engine.md, docs/alerts.md, docs/provisioning.md).
// Only the fields a page shows; the engine's views are the source.

/** GET /v1/fleet/summary (engine/http/overview-routes.ts). */
export interface FleetSummary {
  devices: number;
  byStatus: Record<string, number>;
  bySite: Record<string, number>;
  byProfile: Record<string, number>;
}

export const DEVICE_STATUSES = [
  'pending',
  'converged',
  'drifted',
  'upgrading',
  'retrying',
  'cooling-down',
  'quarantined',
  'off-matrix',
  'blocked',
  'offline',
] as const;

export interface Issue {
  code: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  path?: string;
  message: string;
}

export interface Revision {
  sha: string;
  status: string;
  author: string | null;
  message: string | null;
  committedAt: string | null;
  recordedAt: string | null;
  appliedAt: string | null;
  issueCount: number;
  issues?: Issue[];
}

export interface RevisionList {
  active: string | null;
  revisions: Revision[];
}

export interface DeviceSummary {
  id: string;
  tenant: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  status: string;
  registeredAt: string | null;
  lastCheckInAt: string | null;
  nextExpectedAt: string | null;
  tokenRevoked: boolean;
  reported: { firmware: Record<string, string> | null; configHash: string | null };
}

export interface FirmwareStep {
  id: string;
  component: string;
  from: string;
  to: string;
  cell?: string | null;
  issuedAt?: number;
}

export interface StepEvent {
  type: string;
  at: string | null;
  rollout: string | null;
  wave: string | null;
  stepId: string | null;
  component: string | null;
  from: string | null;
  to: string | null;
  cell: string | null;
  error: string | null;
}

export interface Command {
  id: string;
  type: string;
  params: unknown;
  status: string;
  createdBy: string | null;
  createdAt: string | null;
  deliveredAt: string | null;
  completedAt: string | null;
  output: unknown;
}

export interface Location {
  source: 'gps' | 'ble' | 'cell' | 'unknown';
  lat?: number;
  lon?: number;
  accuracyM?: number;
}

export interface DeviceDetail extends Omit<DeviceSummary, 'reported'> {
  desired: { revision: string | null; configHash: string | null; rollout: string | null };
  reported: { firmware: Record<string, string> | null; configHash: string | null; state: unknown; revision: string | null };
  drift: { config: boolean; firmware: boolean };
  firmware: {
    phase: string;
    step: FirmwareStep | null;
    cycle: number;
    failuresInCycle: number;
    nextAttemptAt: string | null;
    lastError: string | null;
    history: StepEvent[];
  };
  /** The serving cell's key, `mcc-mnc-lac-cid`. */
  lastCell: string | null;
  lastLocation: Location | null;
  commands: Command[];
}

export interface Wave {
  name: string;
  percent: number;
  open: boolean;
  succeeded: number;
  failed: number;
  maxFailureRatio: number | null;
  /** Detail view only. */
  devices?: number;
  eligible?: number;
  inFlight?: number;
  byStatus?: Record<string, number>;
}

export interface Rollout {
  name: string;
  target: Record<string, unknown>;
  activeWave: string;
  paused: boolean;
  pausedReason: string | null;
  inFlight: number;
  throttle: { maxInFlight?: number; maxInFlightPerCell?: number; stepTimeoutSeconds?: number };
  waves: Wave[];
  /** Detail view only: devices this rollout governs, by status, and steps in flight per cell. */
  devices?: Record<string, number>;
  inFlightPerCell?: Record<string, number>;
}

export interface RolloutList {
  revision: string | null;
  rollouts: Rollout[];
}

export interface Alert {
  id: string;
  rule: string;
  scope: string;
  severity: string;
  status: string;
  dedupeKey: string;
  summary: string;
  tenant: string | null;
  site: string | null;
  deviceId: string | null;
  openedAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  inHoldDownSince: string | null;
  holdDownSeconds: number | null;
  details: unknown;
}

export interface Delivery {
  id: string;
  event: string;
  target: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string | null;
  deliveredAt: string | null;
  history: { attempt: number; at: string | null; statusCode: number | null; error: string | null; durationMs: number | null }[];
}

export interface AlertDetail extends Alert {
  deliveries: Delivery[];
}

export interface ProvisioningFailure {
  log: string;
  row: number;
  line: number | null;
  deviceId: string | null;
  task: string | null;
  code: string;
  reason: string;
}

export interface ProvisioningJob {
  id: string;
  status: string;
  createdBy: string;
  createdAt: string;
  completedAt: string | null;
  carrier: string | null;
  rows: { total: number; pending: number; done: number; failed: number };
  tasks: Record<string, Record<string, number>>;
  batches: { total: number; pending: number; running: number; done: number };
  credentialsWaiting: number;
  failures: ProvisioningFailure[];
}

export interface Readiness {
  status: string;
  checks: Record<string, boolean | string>;
}
