// The failure policy of one device's firmware step, as an explicit state machine:
//
//   idle ──issued──▶ in-flight ──succeeded──▶ idle (counters reset)
//                      │
//                      ├─failed / timed-out, retries left ──────────▶ retrying ──retry-due──▶ idle
//                      ├─failed / timed-out, retries spent, cycles left ▶ cooling-down ──cool-down-over──▶ idle (next cycle)
//                      └─failed / timed-out, last cycle spent ──────▶ quarantined (notification due)
//   retrying / cooling-down ──issued (once due)──▶ in-flight   (the due transition is taken on the way)
//   any but in-flight ──reset──▶ idle (new rollout, or a person released the quarantine)
//
// Every transition is a function of (state, event, policy, now). A step succeeds only when the device's
// next report shows the new version: see `stepOutcome`.
import type { DeviceFirmwareState, FailurePolicy, FirmwarePhase, InFlightStep, ReportedState, RolloutThrottle } from '../model/index.ts';
import { isStepTimedOut } from './rollout.ts';

export type FirmwarePolicyEvent =
  | { type: 'issued'; step: InFlightStep }
  | { type: 'succeeded' }
  | { type: 'failed'; error: string }
  | { type: 'timed-out' }
  | { type: 'retry-due' }
  | { type: 'cool-down-over' }
  | { type: 'reset' };

export interface FirmwareTransition {
  state: DeviceFirmwareState;
  /** False when the event does not apply in this state (the state is returned unchanged). */
  accepted: boolean;
  /** `from→to` phases, or why the event was refused. */
  transition: string;
  /** The device entered quarantine at this transition. */
  quarantined: boolean;
  /** Someone must be told (set with `quarantined`). */
  notificationDue: boolean;
}

/** Used when a step's rollout is gone from the snapshot: the domain's usual figures. */
export const DEFAULT_FAILURE_POLICY: FailurePolicy = { maxRetries: 10, retryDelaySeconds: 1800, coolDownSeconds: 86_400, maxCycles: 3 };

function moved(from: FirmwarePhase, state: DeviceFirmwareState, extra: Partial<Pick<FirmwareTransition, 'quarantined' | 'notificationDue'>> = {}): FirmwareTransition {
  return { state, accepted: true, transition: `${from}→${state.phase}`, quarantined: extra.quarantined ?? false, notificationDue: extra.notificationDue ?? false };
}

function refused(state: DeviceFirmwareState, why: string): FirmwareTransition {
  return { state, accepted: false, transition: why, quarantined: false, notificationDue: false };
}

const due = (state: DeviceFirmwareState, now: number): boolean => state.nextAttemptAt === null || now >= state.nextAttemptAt;

function failure(state: DeviceFirmwareState, error: string, policy: FailurePolicy, now: number): FirmwareTransition {
  const failures = state.failuresInCycle + 1;
  const base = { ...state, step: null, failuresInCycle: failures, lastError: error };
  // One attempt plus maxRetries retries per cycle.
  if (failures <= Math.max(0, policy.maxRetries)) {
    return moved('in-flight', { ...base, phase: 'retrying', nextAttemptAt: now + policy.retryDelaySeconds * 1000 });
  }
  if (state.cycle < Math.max(1, policy.maxCycles)) {
    return moved('in-flight', { ...base, phase: 'cooling-down', nextAttemptAt: now + policy.coolDownSeconds * 1000 });
  }
  return moved('in-flight', { ...base, phase: 'quarantined', nextAttemptAt: null }, { quarantined: true, notificationDue: true });
}

/** Applies one event to a device's firmware state. Pure: the same inputs give the same transition. */
export function applyFirmwareEvent(
  state: DeviceFirmwareState,
  event: FirmwarePolicyEvent,
  policy: FailurePolicy | undefined,
  now: number,
): FirmwareTransition {
  const rules = policy ?? DEFAULT_FAILURE_POLICY;
  switch (event.type) {
    case 'issued': {
      if (state.phase === 'in-flight') return refused(state, 'a step is already in flight');
      if (state.phase === 'quarantined') return refused(state, 'the device is quarantined');
      if (!due(state, now)) return refused(state, `not due before ${new Date(state.nextAttemptAt as number).toISOString()}`);
      // Issuing after a cool-down starts the next cycle.
      const nextCycle = state.phase === 'cooling-down';
      return moved(state.phase, {
        ...state,
        phase: 'in-flight',
        rollout: event.step.rollout,
        step: event.step,
        cycle: nextCycle ? state.cycle + 1 : state.cycle,
        failuresInCycle: nextCycle ? 0 : state.failuresInCycle,
        nextAttemptAt: null,
      });
    }
    case 'succeeded':
      if (state.phase !== 'in-flight') return refused(state, 'no step in flight');
      return moved('in-flight', { ...state, phase: 'idle', step: null, failuresInCycle: 0, cycle: 1, nextAttemptAt: null, lastError: null });
    case 'failed':
      if (state.phase !== 'in-flight') return refused(state, 'no step in flight');
      return failure(state, event.error, rules, now);
    case 'timed-out':
      if (state.phase !== 'in-flight') return refused(state, 'no step in flight');
      return failure(state, 'step timed out', rules, now);
    case 'retry-due':
      if (state.phase !== 'retrying') return refused(state, 'not retrying');
      if (!due(state, now)) return refused(state, 'retry not due yet');
      return moved('retrying', { ...state, phase: 'idle', nextAttemptAt: null });
    case 'cool-down-over':
      if (state.phase !== 'cooling-down') return refused(state, 'not cooling down');
      if (!due(state, now)) return refused(state, 'cool-down not over yet');
      return moved('cooling-down', { ...state, phase: 'idle', cycle: state.cycle + 1, failuresInCycle: 0, nextAttemptAt: null });
    case 'reset':
      if (state.phase === 'in-flight') return refused(state, 'a step is in flight');
      return moved(state.phase, { ...state, phase: 'idle', step: null, failuresInCycle: 0, cycle: 1, nextAttemptAt: null, lastError: null });
  }
}

/** Takes the time-driven transitions that are due at `now` (retry due, cool-down over); otherwise the state unchanged. */
export function advanceFirmwareState(state: DeviceFirmwareState, policy: FailurePolicy | undefined, now: number): DeviceFirmwareState {
  if (state.phase === 'retrying') return applyFirmwareEvent(state, { type: 'retry-due' }, policy, now).state;
  if (state.phase === 'cooling-down') return applyFirmwareEvent(state, { type: 'cool-down-over' }, policy, now).state;
  return state;
}

/**
 * What the device's report says about the step in flight. Success only when the reported firmware shows the
 * new version, whatever the step report says: a device reporting `succeeded` while still running another
 * version did not end up on the new firmware (e.g. its bootloader rolled back), and that counts as a failure.
 * No word about the step and the version not shown: a timeout once the deadline passed, else still in flight (null).
 */
export function stepOutcome(
  step: InFlightStep,
  reported: ReportedState,
  throttle: RolloutThrottle | undefined,
  now: number,
): Extract<FirmwarePolicyEvent, { type: 'succeeded' | 'failed' | 'timed-out' }> | null {
  const installed = reported.firmware[step.component];
  if (installed === step.to) return { type: 'succeeded' };
  const report = reported.firmwareStep;
  if (report && report.id === step.id) {
    return {
      type: 'failed',
      error:
        report.status === 'failed'
          ? (report.error ?? 'device reported failure')
          : `device reported success but runs ${step.component} ${installed ?? '(none)'}, not ${step.to}`,
    };
  }
  return isStepTimedOut(step, throttle, now) ? { type: 'timed-out' } : null;
}
