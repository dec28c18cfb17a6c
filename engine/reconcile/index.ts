// One device at check-in: desired (the active snapshot) against reported (the request) → the answer.
// Level-based and idempotent: the same input gives the same assessment; nothing here reads a clock,
// the database or the network. The store takes the throttle slot in between (see types.ts).
import {
  cellKey,
  type CheckInAnswer,
  type DeviceFirmwareState,
  type DeviceIdentity,
  type DeviceStatus,
  type FirmwarePhase,
  type FirmwareStepOrder,
  type FirmwareVersions,
  type InFlightStep,
  type Rollout,
  type Snapshot,
} from '../model/index.ts';
import { matchesRolloutSelector } from '../config/index.ts';
import {
  FirmwarePlanner,
  applyFirmwareEvent,
  maintenanceWindowOpen,
  shouldPauseRollout,
  stepOutcome,
  waveOfDevice,
  type FirmwarePlan,
} from '../firmware/index.ts';
import type {
  CandidateStep,
  CheckInAssessment,
  CheckInDecision,
  CheckInInput,
  FirmwareEvent,
} from './types.ts';

export type * from './types.ts';

/**
 * The status of a device whose firmware state holds it back from a new step: quarantined, or waiting
 * out a retry or a cool-down; null for any other phase. The check-in and the step-timeout sweep share it.
 */
export function heldStatus(phase: FirmwarePhase): DeviceStatus | null {
  return phase === 'quarantined' ? 'quarantined' : phase === 'retrying' ? 'retrying' : phase === 'cooling-down' ? 'cooling-down' : null;
}

/** The rollout that governs a device: the first by priority (then name) whose selector matches its profile's hardware. */
export function rolloutForDevice(snapshot: Snapshot, device: DeviceIdentity): Rollout | null {
  const profile = snapshot.profiles.get(device.profile);
  if (!profile) return null;
  for (const rollout of snapshot.rollouts) {
    if (matchesRolloutSelector(snapshot, rollout.spec.selector, device)) return rollout;
  }
  return null;
}

/** Plans are shared by all devices of a revision: a fleet has few distinct reported states. */
const planners = new WeakMap<Snapshot, FirmwarePlanner>();
export function plannerFor(snapshot: Snapshot): FirmwarePlanner {
  let planner = planners.get(snapshot);
  if (!planner) {
    planner = new FirmwarePlanner(snapshot);
    planners.set(snapshot, planner);
  }
  return planner;
}

/** The firmware plan of a device under a rollout, from what it reports now. */
export function planForDevice(snapshot: Snapshot, device: DeviceIdentity, rollout: Rollout, reported: FirmwareVersions): FirmwarePlan | null {
  const profile = snapshot.profiles.get(device.profile);
  if (!profile) return null;
  return plannerFor(snapshot).plan({ hardware: profile.spec.hardware, from: reported, rollout });
}

function stepOrder(plan: FirmwarePlan): Omit<FirmwareStepOrder, 'stepId'> | null {
  const first = plan.steps[0];
  if (!first) return null;
  return {
    component: first.component,
    version: first.to,
    url: first.release.spec.artifact.url,
    sha256: first.release.spec.artifact.sha256,
    size: first.release.spec.artifact.size,
    remainingSteps: plan.steps.length - 1,
  };
}

function waveName(rollout: Rollout | undefined, deviceId: string): string | null {
  return rollout ? (waveOfDevice(rollout, deviceId)?.name ?? null) : null;
}

/**
 * What the report means for the step in flight (success only when the reported firmware shows the new
 * version), which step is due next, and the device's status if none is handed out.
 */
export function assessCheckIn(input: CheckInInput): CheckInAssessment {
  const { snapshot, device, request, now } = input;
  const reported = request.reported.firmware;
  const events: FirmwareEvent[] = [];
  let state: DeviceFirmwareState = input.firmwareState;
  let releasedStep: InFlightStep | null = null;

  // 1. The step in flight, if any, ends here or keeps its slot.
  if (state.phase === 'in-flight' && state.step) {
    const step = state.step;
    const stepRollout = snapshot.rollouts.find((r) => r.metadata.name === step.rollout);
    const policy = stepRollout?.spec.failurePolicy;
    const wave = waveName(stepRollout, device.id);
    const outcome = stepOutcome(step, request.reported, stepRollout?.spec.throttle, now);
    if (outcome) {
      const next = applyFirmwareEvent(state, outcome, policy, now);
      state = next.state;
      releasedStep = step;
      if (outcome.type === 'succeeded') events.push({ type: 'step-succeeded', step, wave });
      else if (outcome.type === 'failed') events.push({ type: 'step-failed', step, wave, error: outcome.error });
      else events.push({ type: 'step-timed-out', step, wave });
      if (next.quarantined) events.push({ type: 'quarantined', rollout: step.rollout, reason: outcome.type === 'failed' ? outcome.error : 'step timed out' });
    }
    // A rollout whose wave now crosses its failure threshold pauses itself. A success counts too: it may be
    // the step that brings the wave up to its minimum number of finished devices.
    if (outcome && stepRollout && wave) {
      const progress = input.rolloutRuntime(stepRollout.metadata.name);
      if (!progress.autoPausedReason) {
        const succeeded = outcome.type === 'succeeded' ? 1 : 0;
        const pause = shouldPauseRollout(stepRollout, progress.waves, { wave, succeeded, failed: 1 - succeeded });
        if (pause) events.push({ type: 'rollout-paused', rollout: stepRollout.metadata.name, wave, reason: pause });
      }
    }
  }

  const status = (s: DeviceStatus, candidate: CandidateStep | null = null): CheckInAssessment => ({
    firmwareState: state,
    candidate,
    releasedStep,
    events,
    status: s,
  });
  const drifted = request.reported.configHash !== input.config.hash;
  const settled: DeviceStatus = drifted ? 'drifted' : 'converged';

  if (state.phase === 'in-flight') return status('upgrading');
  if (state.phase === 'quarantined') return status('quarantined');

  // 2. The rollout that governs the device, and where its plan leads.
  const rollout = rolloutForDevice(snapshot, device);
  if (!rollout) return status(settled);
  if (state.rollout !== rollout.metadata.name) {
    state = { ...state, rollout: rollout.metadata.name };
  }
  const plan = planForDevice(snapshot, device, rollout, reported);
  if (!plan) return status(settled);
  if (plan.status === 'blocked') return status('blocked');
  if (plan.status === 'up-to-date') return status(settled);

  // 3. Whether a step may start now: wave, pause, failure policy, maintenance window.
  const wave = waveOfDevice(rollout, device.id);
  const inActiveWave = wave !== null;
  const offMatrix = plan.status === 'off-matrix';
  if (!inActiveWave) return status(offMatrix ? 'off-matrix' : settled);
  const runtime = input.rolloutRuntime(rollout.metadata.name);
  const paused = rollout.spec.paused === true || runtime.autoPausedReason !== null || events.some((e) => e.type === 'rollout-paused' && e.rollout === rollout.metadata.name);
  const waiting: DeviceStatus = heldStatus(state.phase) ?? (offMatrix ? 'off-matrix' : 'upgrading');
  if (paused) return status(waiting === 'upgrading' ? settled : waiting);
  if (state.nextAttemptAt !== null && now < state.nextAttemptAt) return status(waiting);
  const site = snapshot.sites.get(device.site);
  if (rollout.spec.useMaintenanceWindow && site?.spec.maintenanceWindow) {
    if (!maintenanceWindowOpen(site.spec.maintenanceWindow, site.spec.timezone, now)) return status(waiting);
  }
  const order = stepOrder(plan);
  if (!order) return status(settled);
  const cell = request.telemetry.cell ? cellKey(request.telemetry.cell) : null;
  const candidate: CandidateStep = {
    rollout: rollout.metadata.name,
    wave: wave.name,
    order,
    cell,
    maxInFlight: rollout.spec.throttle?.maxInFlight ?? null,
    maxInFlightPerCell: rollout.spec.throttle?.maxInFlightPerCell ?? null,
  };
  return status(waiting, candidate);
}

function jittered(seconds: number, jitterPercent: number, random: () => number): number {
  const spread = (seconds * jitterPercent) / 100;
  return Math.max(1, Math.round(seconds - spread + 2 * spread * random()));
}

/** The answer the device gets, given whether the store granted a throttle slot to the candidate step. */
export function answerCheckIn(input: CheckInInput, assessment: CheckInAssessment, grant: { stepId: string } | null): CheckInDecision {
  const { snapshot, device, request, now } = input;
  let state = assessment.firmwareState;
  let status = assessment.status;
  let firmware: FirmwareStepOrder | null = null;

  if (grant && assessment.candidate) {
    const { order, rollout, cell } = assessment.candidate;
    firmware = { stepId: grant.stepId, ...order };
    const from = request.reported.firmware[order.component] ?? '';
    const step: InFlightStep = { id: grant.stepId, rollout, component: order.component, from, to: order.version, cell, issuedAt: now };
    state = applyFirmwareEvent(state, { type: 'issued', step }, undefined, now).state;
    status = 'upgrading';
  } else if (state.phase === 'in-flight' && state.step) {
    // The device may have lost the answer that carried its step: hand out the same order again.
    const step = state.step;
    const release = snapshot.releases
      .get(snapshot.profiles.get(device.profile)?.spec.hardware ?? '')
      ?.get(step.component)
      ?.find((r) => r.spec.version === step.to);
    if (release) {
      firmware = {
        stepId: step.id,
        component: step.component,
        version: step.to,
        url: release.spec.artifact.url,
        sha256: release.spec.artifact.sha256,
        size: release.spec.artifact.size,
        remainingSteps: 0,
      };
      const rollout = snapshot.rollouts.find((r) => r.metadata.name === step.rollout);
      const plan = rollout ? planForDevice(snapshot, device, rollout, request.reported.firmware) : null;
      if (plan && plan.steps.length > 0) firmware.remainingSteps = plan.steps.length - 1;
    }
  }

  const profile = snapshot.profiles.get(device.profile);
  const checkIn = profile?.spec.checkIn;
  const interval = checkIn?.intervalSeconds ?? 900;
  const upgrading = checkIn?.upgradingIntervalSeconds ?? Math.max(60, Math.round(interval / 4));
  const base = firmware ? upgrading : interval;
  const answer: CheckInAnswer = {
    revision: snapshot.revision,
    configHash: input.config.hash,
    ...(request.reported.configHash !== input.config.hash ? { config: input.config.config } : {}),
    commands: [...input.pendingCommands],
    firmware,
    nextCheckInSeconds: jittered(base, checkIn?.jitterPercent ?? 10, input.random),
  };
  return { answer, firmwareState: state, status };
}
