// The check-in decision, split in two so the core stays pure while the store
// enforces throttles atomically across engine processes:
//   1. assessCheckIn: what the device reported means, and which step it could get next;
//   2. the store tries to take a throttle slot for that step (total and per cell tower);
//   3. answerCheckIn: the answer, given whether the slot was granted.
import type {
  CheckInAnswer,
  CheckInRequest,
  Command,
  DeviceFirmwareState,
  DeviceIdentity,
  DeviceStatus,
  FirmwareStepOrder,
  InFlightStep,
  JsonObject,
  Snapshot,
  WaveProgress,
} from '../model/index.ts';

/** What the store knows about a rollout at check-in time. */
export interface RolloutRuntime {
  /** Set when the rollout paused itself (failure ratio crossed); resuming takes a commit. */
  autoPausedReason: string | null;
  waves: readonly WaveProgress[];
}

export interface CheckInInput {
  snapshot: Snapshot;
  device: DeviceIdentity;
  request: CheckInRequest;
  /** Persisted firmware state before this check-in. */
  firmwareState: DeviceFirmwareState;
  /** The device's effective config and its hash for this snapshot (resolved by the config module). */
  config: { config: JsonObject; hash: string };
  /** Commands queued for the device, oldest first. */
  pendingCommands: readonly Command[];
  rolloutRuntime(rollout: string): RolloutRuntime;
  /** Epoch milliseconds. */
  now: number;
  /** Uniform [0,1): check-in jitter. */
  random(): number;
}

/** A step the device may start if the store grants a throttle slot. */
export interface CandidateStep {
  rollout: string;
  wave: string;
  order: Omit<FirmwareStepOrder, 'stepId'>;
  /** cellKey of the serving cell, null when the device reported none. */
  cell: string | null;
  maxInFlight: number | null;
  maxInFlightPerCell: number | null;
}

/** Things that happened at this check-in, for step history and wave statistics. */
export type FirmwareEvent =
  | { type: 'step-succeeded'; step: InFlightStep; wave: string | null }
  | { type: 'step-failed'; step: InFlightStep; wave: string | null; error: string }
  | { type: 'step-timed-out'; step: InFlightStep; wave: string | null }
  | { type: 'quarantined'; rollout: string; reason: string }
  | { type: 'rollout-paused'; rollout: string; wave: string; reason: string };

export interface CheckInAssessment {
  firmwareState: DeviceFirmwareState;
  /** The step to hand out if a slot is granted; null when none is due. */
  candidate: CandidateStep | null;
  /** Slot held by a step that ended at this check-in and must be released. */
  releasedStep: InFlightStep | null;
  events: FirmwareEvent[];
  /** Status if no step is handed out. */
  status: DeviceStatus;
}

export interface CheckInDecision {
  answer: CheckInAnswer;
  firmwareState: DeviceFirmwareState;
  status: DeviceStatus;
}
