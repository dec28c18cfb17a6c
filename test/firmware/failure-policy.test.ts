// Retry, cool down, quarantine: each transition of the failure-policy state machine, with the clock passed in.
import { describe, expect, it } from 'vitest';
import { DEFAULT_STEP_TIMEOUT_SECONDS, advanceFirmwareState, applyFirmwareEvent, stepOutcome } from '../../engine/firmware/index.ts';
import { INITIAL_FIRMWARE_STATE, type DeviceFirmwareState, type FailurePolicy, type InFlightStep } from '../../engine/model/index.ts';

const policy: FailurePolicy = { maxRetries: 2, retryDelaySeconds: 600, coolDownSeconds: 86_400, maxCycles: 2 };
const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const MIN = 60_000;
const step = (id: string, issuedAt = T0): InFlightStep => ({ id, rollout: 'r', component: 'mcu', from: '2.0.0', to: '2.1.0', cell: '262-1-10-20', issuedAt });

function issue(state: DeviceFirmwareState, now: number): DeviceFirmwareState {
  const t = applyFirmwareEvent(state, { type: 'issued', step: step(`s-${now}`, now) }, policy, now);
  expect(t.accepted).toBe(true);
  return t.state;
}

function fail(state: DeviceFirmwareState, now: number) {
  return applyFirmwareEvent(state, { type: 'failed', error: 'flash write error' }, policy, now);
}

describe('the failure policy', () => {
  it('idle → in-flight when a step is issued, remembering the step and the rollout', () => {
    const t = applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'issued', step: step('s1') }, policy, T0);
    expect(t).toMatchObject({ accepted: true, transition: 'idle→in-flight', quarantined: false });
    expect(t.state).toMatchObject({ phase: 'in-flight', rollout: 'r', step: { id: 's1' } });
  });

  it('in-flight → idle on success, with the cycle and failure counters reset', () => {
    let state = issue(INITIAL_FIRMWARE_STATE, T0);
    state = fail(state, T0 + MIN).state;
    state = issue(state, T0 + 11 * MIN);
    const t = applyFirmwareEvent(state, { type: 'succeeded' }, policy, T0 + 12 * MIN);
    expect(t.transition).toBe('in-flight→idle');
    expect(t.state).toMatchObject({ phase: 'idle', step: null, failuresInCycle: 0, cycle: 1, nextAttemptAt: null, lastError: null });
  });

  it('in-flight → retrying on failure while retries are left, spaced by retryDelaySeconds', () => {
    const t = fail(issue(INITIAL_FIRMWARE_STATE, T0), T0 + MIN);
    expect(t.transition).toBe('in-flight→retrying');
    expect(t.state).toMatchObject({ phase: 'retrying', step: null, failuresInCycle: 1, nextAttemptAt: T0 + MIN + 600_000, lastError: 'flash write error' });
  });

  it('a timed-out step fails like a reported failure', () => {
    const t = applyFirmwareEvent(issue(INITIAL_FIRMWARE_STATE, T0), { type: 'timed-out' }, policy, T0 + 60 * MIN);
    expect(t.state).toMatchObject({ phase: 'retrying', failuresInCycle: 1, lastError: 'step timed out' });
  });

  it('a retry is not issued before it is due, and is once it is', () => {
    const retrying = fail(issue(INITIAL_FIRMWARE_STATE, T0), T0).state;
    const early = applyFirmwareEvent(retrying, { type: 'issued', step: step('s2') }, policy, T0 + 9 * MIN);
    expect(early.accepted).toBe(false);
    expect(early.state).toBe(retrying);
    const onTime = applyFirmwareEvent(retrying, { type: 'issued', step: step('s2') }, policy, T0 + 10 * MIN);
    expect(onTime).toMatchObject({ accepted: true, transition: 'retrying→in-flight' });
    expect(onTime.state.failuresInCycle).toBe(1);
  });

  it('retrying → idle when the retry is due (retry-due), not before', () => {
    const retrying = fail(issue(INITIAL_FIRMWARE_STATE, T0), T0).state;
    expect(applyFirmwareEvent(retrying, { type: 'retry-due' }, policy, T0 + 5 * MIN).accepted).toBe(false);
    const t = applyFirmwareEvent(retrying, { type: 'retry-due' }, policy, T0 + 10 * MIN);
    expect(t.transition).toBe('retrying→idle');
    expect(t.state).toMatchObject({ phase: 'idle', failuresInCycle: 1, nextAttemptAt: null });
  });

  it('in-flight → cooling-down once maxRetries retries of a cycle failed too', () => {
    let state = INITIAL_FIRMWARE_STATE;
    let now = T0;
    // One attempt plus two retries.
    for (let attempt = 0; attempt < 2; attempt++) {
      state = fail(issue(state, now), now).state;
      expect(state.phase).toBe('retrying');
      now += 10 * MIN;
    }
    const t = fail(issue(state, now), now);
    expect(t.transition).toBe('in-flight→cooling-down');
    expect(t.state).toMatchObject({ phase: 'cooling-down', failuresInCycle: 3, cycle: 1, nextAttemptAt: now + 86_400_000 });
  });

  it('cooling-down → idle with the next cycle when the cool-down is over (cool-down-over), not before', () => {
    const cooling: DeviceFirmwareState = { ...INITIAL_FIRMWARE_STATE, phase: 'cooling-down', failuresInCycle: 3, nextAttemptAt: T0 + 86_400_000 };
    expect(applyFirmwareEvent(cooling, { type: 'cool-down-over' }, policy, T0 + 86_399_999).accepted).toBe(false);
    const t = applyFirmwareEvent(cooling, { type: 'cool-down-over' }, policy, T0 + 86_400_000);
    expect(t.transition).toBe('cooling-down→idle');
    expect(t.state).toMatchObject({ phase: 'idle', cycle: 2, failuresInCycle: 0 });
  });

  it('issuing a step after the cool-down starts the next cycle', () => {
    const cooling: DeviceFirmwareState = { ...INITIAL_FIRMWARE_STATE, phase: 'cooling-down', failuresInCycle: 3, nextAttemptAt: T0 };
    const t = applyFirmwareEvent(cooling, { type: 'issued', step: step('s9') }, policy, T0);
    expect(t.transition).toBe('cooling-down→in-flight');
    expect(t.state).toMatchObject({ cycle: 2, failuresInCycle: 0 });
  });

  it('quarantines after the last cycle fails, with a notification due — never an endless loop', () => {
    let state = INITIAL_FIRMWARE_STATE;
    let now = T0;
    const phases: string[] = [];
    let last: ReturnType<typeof fail> | undefined;
    for (let attempt = 0; attempt < 20 && state.phase !== 'quarantined'; attempt++) {
      last = fail(issue(state, now), now);
      state = last.state;
      phases.push(state.phase);
      if (state.nextAttemptAt !== null) now = state.nextAttemptAt;
    }
    // maxCycles 2 × (1 attempt + maxRetries 2) = 6 failed attempts.
    expect(phases).toEqual(['retrying', 'retrying', 'cooling-down', 'retrying', 'retrying', 'quarantined']);
    expect(last).toMatchObject({ transition: 'in-flight→quarantined', quarantined: true, notificationDue: true });
    expect(state).toMatchObject({ phase: 'quarantined', cycle: 2, nextAttemptAt: null });
    expect(applyFirmwareEvent(state, { type: 'issued', step: step('again') }, policy, now + 365 * 86_400_000).accepted).toBe(false);
  });

  it('a notification is due only on the transition into quarantine', () => {
    const t = fail(issue(INITIAL_FIRMWARE_STATE, T0), T0);
    expect(t.notificationDue).toBe(false);
  });

  it('reset releases a quarantined device to idle with fresh counters, but never drops a step in flight', () => {
    const quarantined: DeviceFirmwareState = { ...INITIAL_FIRMWARE_STATE, phase: 'quarantined', cycle: 2, failuresInCycle: 3, lastError: 'x' };
    const t = applyFirmwareEvent(quarantined, { type: 'reset' }, policy, T0);
    expect(t.transition).toBe('quarantined→idle');
    expect(t.state).toMatchObject({ phase: 'idle', cycle: 1, failuresInCycle: 0, lastError: null });
    const inFlight = issue(INITIAL_FIRMWARE_STATE, T0);
    expect(applyFirmwareEvent(inFlight, { type: 'reset' }, policy, T0).accepted).toBe(false);
  });

  it('refuses events that do not apply, leaving the state as it was', () => {
    expect(applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'succeeded' }, policy, T0)).toMatchObject({ accepted: false, state: INITIAL_FIRMWARE_STATE });
    expect(applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'failed', error: 'x' }, policy, T0).accepted).toBe(false);
    expect(applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'timed-out' }, policy, T0).accepted).toBe(false);
    expect(applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'retry-due' }, policy, T0).accepted).toBe(false);
    expect(applyFirmwareEvent(INITIAL_FIRMWARE_STATE, { type: 'cool-down-over' }, policy, T0).accepted).toBe(false);
    const inFlight = issue(INITIAL_FIRMWARE_STATE, T0);
    expect(applyFirmwareEvent(inFlight, { type: 'issued', step: step('s2') }, policy, T0).accepted).toBe(false);
  });

  it('advanceFirmwareState takes only the time-driven transitions that are due', () => {
    const retrying = fail(issue(INITIAL_FIRMWARE_STATE, T0), T0).state;
    expect(advanceFirmwareState(retrying, policy, T0 + MIN)).toBe(retrying);
    expect(advanceFirmwareState(retrying, policy, T0 + 10 * MIN).phase).toBe('idle');
  });
});

describe('a step succeeds only when the next report shows the new version', () => {
  const s = step('s1');
  const reported = (mcu: string, report?: { status: 'succeeded' | 'failed'; error?: string }) => ({
    firmware: { mcu, ble: '1.3.0' },
    configHash: null,
    ...(report ? { firmwareStep: { id: 's1', ...report } } : {}),
  });

  it('the reported firmware shows the new version: succeeded', () => {
    expect(stepOutcome(s, reported('2.1.0'), undefined, T0 + MIN)).toEqual({ type: 'succeeded' });
  });

  it('the device says succeeded but still runs the old version: a failure, not a success', () => {
    const outcome = stepOutcome(s, reported('2.0.0', { status: 'succeeded' }), undefined, T0 + MIN);
    expect(outcome?.type).toBe('failed');
    expect(outcome && 'error' in outcome ? outcome.error : '').toContain('runs mcu 2.0.0, not 2.1.0');
  });

  it('the device reports a failure: failed, with its error', () => {
    expect(stepOutcome(s, reported('2.0.0', { status: 'failed', error: 'bad signature' }), undefined, T0 + MIN)).toEqual({ type: 'failed', error: 'bad signature' });
  });

  it('no word yet: still in flight until the timeout (declared, else the default), then timed out', () => {
    const throttle = { stepTimeoutSeconds: 7200 };
    expect(stepOutcome(s, reported('2.0.0'), throttle, T0 + 7_199_999)).toBeNull();
    expect(stepOutcome(s, reported('2.0.0'), throttle, T0 + 7_200_000)).toEqual({ type: 'timed-out' });
    expect(stepOutcome(s, reported('2.0.0'), undefined, T0 + DEFAULT_STEP_TIMEOUT_SECONDS * 1000 - 1)).toBeNull();
    expect(stepOutcome(s, reported('2.0.0'), undefined, T0 + DEFAULT_STEP_TIMEOUT_SECONDS * 1000)).toEqual({ type: 'timed-out' });
  });
});
