// The check-in decision of one device, in the pure core: desired (a compiled snapshot) against reported.
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSnapshot, effectiveConfig, type SecretVault } from '../../engine/config/index.ts';
import {
  INITIAL_FIRMWARE_STATE,
  type CheckInRequest,
  type DeviceFirmwareState,
  type DeviceIdentity,
  type FirmwareVersions,
  type Snapshot,
  type SourceTree,
} from '../../engine/model/index.ts';
import { answerCheckIn, assessCheckIn, type CheckInInput, type RolloutRuntime } from '../../engine/reconcile/index.ts';
import { fixtureFleet, type RolloutOptions } from '../support/fleet.ts';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const APP_1: FirmwareVersions = { mcu: '1.0.0', ble: '1.0.0' };
const APP_2: FirmwareVersions = { mcu: '1.1.0', ble: '1.0.0' };
const APP_3: FirmwareVersions = { mcu: '1.1.0', ble: '2.0.0' };
const device: DeviceIdentity = { id: 'trk-0001', profile: 'tracker', site: 'plant-1', labels: {} };
const noRuntime = (): RolloutRuntime => ({ autoPausedReason: null, waves: [] });

async function compile(files: Record<string, string>): Promise<{ snapshot: Snapshot; secrets: SecretVault }> {
  const tree: SourceTree = {
    revision: 'r1',
    files: Object.entries(files).map(([path, text]) => ({ path, type: 'file' as const, content: new TextEncoder().encode(text) })),
  };
  const result = await compileSnapshot(tree);
  if (!result.snapshot) throw new Error(result.issues.map((i) => `${i.file}:${i.line} ${i.message}`).join('\n'));
  return { snapshot: result.snapshot, secrets: result.secrets };
}

function request(firmware: FirmwareVersions, extra: Partial<CheckInRequest['reported']> = {}, configHash: string | null = null): CheckInRequest {
  return {
    reported: { firmware, configHash, ...extra },
    telemetry: { time: new Date(NOW).toISOString(), battery: 80, cell: { mcc: 310, mnc: 410, lac: 1, cid: 11 } },
  };
}

let fleet: { snapshot: Snapshot; secrets: SecretVault };
beforeAll(async () => {
  fleet = await compile(fixtureFleet({ target: 'app-3' }));
});

function input(req: CheckInRequest, state: DeviceFirmwareState = INITIAL_FIRMWARE_STATE, overrides: Partial<CheckInInput> = {}): CheckInInput {
  const snapshot = overrides.snapshot ?? fleet.snapshot;
  return {
    snapshot,
    device,
    request: req,
    firmwareState: state,
    config: effectiveConfig(snapshot, device, fleet.secrets),
    pendingCommands: [],
    rolloutRuntime: noRuntime,
    now: NOW,
    random: () => 0.5,
    ...overrides,
  };
}

/** One check-in with the slot granted whenever a step is due. */
function checkIn(req: CheckInRequest, state?: DeviceFirmwareState, overrides: Partial<CheckInInput> = {}) {
  const i = input(req, state, overrides);
  const assessment = assessCheckIn(i);
  const decision = answerCheckIn(i, assessment, assessment.candidate ? { stepId: 'step-1' } : null);
  return { assessment, decision };
}

describe('a device checking in', () => {
  it('gets the first step of its fewest-step path, one component, and its config when it has none', () => {
    const { decision } = checkIn(request(APP_1));
    expect(decision.answer.firmware).toMatchObject({ stepId: 'step-1', component: 'mcu', version: '1.1.0', remainingSteps: 1 });
    expect(decision.answer.config).toBeDefined();
    expect(decision.status).toBe('upgrading');
    expect(decision.firmwareState).toMatchObject({ phase: 'in-flight', step: { component: 'mcu', from: '1.0.0', to: '1.1.0' } });
  });

  it('gets no config when it echoes the current hash', () => {
    const hash = effectiveConfig(fleet.snapshot, device, fleet.secrets).hash;
    const { decision } = checkIn(request(APP_3, {}, hash));
    expect(decision.answer.config).toBeUndefined();
    expect(decision.answer.configHash).toBe(hash);
    expect(decision.status).toBe('converged');
    expect(decision.answer.firmware).toBeNull();
  });

  it('counts a step as succeeded only when the reported firmware shows the new version, then gets the next', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const { assessment, decision } = checkIn(request(APP_2), first);
    expect(assessment.events.map((e) => e.type)).toEqual(['step-succeeded']);
    expect(assessment.releasedStep?.id).toBe('step-1');
    expect(decision.answer.firmware).toMatchObject({ component: 'ble', version: '2.0.0', remainingSteps: 0 });
  });

  it('treats a reported success whose firmware still shows the old version as a failure', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const { assessment, decision } = checkIn(request(APP_1, { firmwareStep: { id: 'step-1', status: 'succeeded' } }), first);
    expect(assessment.events[0]).toMatchObject({ type: 'step-failed' });
    expect(decision.firmwareState.phase).toBe('retrying');
    expect(decision.answer.firmware).toBeNull();
    expect(decision.status).toBe('retrying');
  });

  it('waits out the retry spacing before the next attempt', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const failed = checkIn(request(APP_1, { firmwareStep: { id: 'step-1', status: 'failed', error: 'flash write' } }), first).decision.firmwareState;
    expect(failed.nextAttemptAt).toBe(NOW + 60_000);
    expect(checkIn(request(APP_1), failed, { now: NOW + 59_000 }).decision.answer.firmware).toBeNull();
    expect(checkIn(request(APP_1), failed, { now: NOW + 61_000 }).decision.answer.firmware).toMatchObject({ component: 'mcu' });
  });

  it('gets the same step again when it lost the answer that carried it', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const i = input(request(APP_1), first, { now: NOW + 30_000 });
    const assessment = assessCheckIn(i);
    expect(assessment.candidate).toBeNull();
    const decision = answerCheckIn(i, assessment, null);
    expect(decision.answer.firmware).toMatchObject({ stepId: 'step-1', component: 'mcu', version: '1.1.0' });
  });

  it('counts a step that never reports back as failed after the step timeout, not before', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const before = checkIn(request(APP_1), first, { now: NOW + 3_599_000 });
    expect(before.assessment.events).toEqual([]);
    expect(before.assessment.releasedStep).toBeNull();
    expect(before.decision.firmwareState.phase).toBe('in-flight');
    const { assessment, decision } = checkIn(request(APP_1), first, { now: NOW + 3_601_000 });
    expect(assessment.events.map((e) => e.type)).toEqual(['step-timed-out']);
    expect(assessment.releasedStep?.id).toBe('step-1');
    expect(decision.firmwareState).toMatchObject({ phase: 'retrying', failuresInCycle: 1, lastError: 'step timed out' });
  });

  it('gets no step while the throttle slot is refused, and checks in sooner than normal when it has one', () => {
    const i = input(request(APP_1));
    const refused = answerCheckIn(i, assessCheckIn(i), null);
    expect(refused.answer.firmware).toBeNull();
    expect(refused.firmwareState.phase).toBe('idle');
    // interval 600 s ±10 %; upgrading interval 120 s ±10 %; random 0.5 → the middle.
    expect(refused.answer.nextCheckInSeconds).toBe(600);
    expect(checkIn(request(APP_1)).decision.answer.nextCheckInSeconds).toBe(120);
  });

  it('gets no step while the rollout is paused by itself, and is not counted as upgrading', () => {
    const paused = (): RolloutRuntime => ({ autoPausedReason: 'wave all: 5 of 10 failed', waves: [] });
    const { decision, assessment } = checkIn(request(APP_1), INITIAL_FIRMWARE_STATE, { rolloutRuntime: paused });
    expect(assessment.candidate).toBeNull();
    expect(decision.answer.firmware).toBeNull();
    expect(decision.firmwareState.phase).toBe('idle');
    expect(decision.status).not.toBe('upgrading');
  });

  it('a device waiting out a retry while its rollout is paused says it is retrying', () => {
    const first = checkIn(request(APP_1)).decision.firmwareState;
    const failed = checkIn(request(APP_1, { firmwareStep: { id: 'step-1', status: 'failed' } }), first).decision.firmwareState;
    const paused = (): RolloutRuntime => ({ autoPausedReason: 'wave all: 5 of 10 failed', waves: [] });
    const { decision } = checkIn(request(APP_1), failed, { rolloutRuntime: paused, now: NOW + 3_600_000 });
    expect(decision.answer.firmware).toBeNull();
    expect(decision.status).toBe('retrying');
  });

  it('is quarantined after the last cycle of retries and gets nothing more', async () => {
    let state = checkIn(request(APP_1)).decision.firmwareState;
    let now = NOW;
    const phases: string[] = [];
    for (let attempt = 0; attempt < 20 && state.phase !== 'quarantined'; attempt++) {
      const step = state.step;
      if (!step) {
        now = Math.max(now, state.nextAttemptAt ?? now) + 1000;
        state = checkIn(request(APP_1), state, { now }).decision.firmwareState;
        continue;
      }
      state = checkIn(request(APP_1, { firmwareStep: { id: step.id, status: 'failed', error: 'crc' } }), state, { now }).decision.firmwareState;
      phases.push(state.phase);
    }
    // maxRetries 3, maxCycles 2 in the fixture: retry, retry, retry, cool down, retry ×3, quarantine.
    expect(phases).toContain('cooling-down');
    expect(state.phase).toBe('quarantined');
    const after = checkIn(request(APP_1), state, { now: now + 365 * 86_400_000 }).decision;
    expect(after.answer.firmware).toBeNull();
    expect(after.status).toBe('quarantined');
  });

  it('is blocked when no known-good path reaches the target', async () => {
    const files = fixtureFleet({ target: 'app-3' });
    // Without app-2, app-1 → app-3 would change two components at once.
    files['firmware-manifests/tr-matrix.yaml'] = files['firmware-manifests/tr-matrix.yaml']!.replace(/^.*app-2.*\n/m, '');
    const blocked = await compile(files);
    const { decision } = checkIn(request(APP_1), INITIAL_FIRMWARE_STATE, {
      snapshot: blocked.snapshot,
      config: effectiveConfig(blocked.snapshot, device, blocked.secrets),
    });
    expect(decision.status).toBe('blocked');
    expect(decision.answer.firmware).toBeNull();
  });

  it('plans from an untested mix to the nearest known-good state and says it is off-matrix', () => {
    const { assessment } = checkIn(request({ mcu: '1.0.0', ble: '2.0.0' }));
    expect(assessment.status).toBe('off-matrix');
    expect(assessment.candidate).not.toBeNull();
  });

  it('gives the same answer for the same input (level-based, idempotent)', () => {
    const a = checkIn(request(APP_1)).decision;
    const b = checkIn(request(APP_1)).decision;
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });
});

describe('waves', () => {
  it('a device outside the open wave keeps its firmware and counts as converged', async () => {
    const options: RolloutOptions = { target: 'app-3' };
    const files = fixtureFleet(options);
    files['firmware-manifests/tr-rollout.yaml'] = files['firmware-manifests/tr-rollout.yaml']!
      .replace('- { name: all, percent: 100 }', '- { name: canary, percent: 0 }\n    - { name: all, percent: 100 }')
      .replace('activeWave: all', 'activeWave: canary');
    const canary = await compile(files);
    const config = effectiveConfig(canary.snapshot, device, canary.secrets);
    const { decision } = checkIn(request(APP_1, {}, config.hash), INITIAL_FIRMWARE_STATE, { snapshot: canary.snapshot, config });
    expect(decision.answer.firmware).toBeNull();
    expect(decision.status).toBe('converged');
  });
});

describe('automatic pause', () => {
  it('a failure that takes the wave over its failure ratio pauses the rollout, and nobody gets a step after it', async () => {
    const files = fixtureFleet({ target: 'app-3' });
    files['firmware-manifests/tr-rollout.yaml'] = files['firmware-manifests/tr-rollout.yaml']!.replace(
      '- { name: all, percent: 100 }',
      '- { name: all, percent: 100, maxFailureRatio: 0.5, minDevices: 2 }',
    );
    const guarded = await compile(files);
    const config = effectiveConfig(guarded.snapshot, device, guarded.secrets);
    const base = { snapshot: guarded.snapshot, config };
    const inFlight = checkIn(request(APP_1), INITIAL_FIRMWARE_STATE, base).decision.firmwareState;
    const oneFailedBefore = (): RolloutRuntime => ({ autoPausedReason: null, waves: [{ wave: 'all', succeeded: 0, failed: 1 }] });
    const { assessment, decision } = checkIn(request(APP_1, { firmwareStep: { id: 'step-1', status: 'failed' } }), inFlight, {
      ...base,
      rolloutRuntime: oneFailedBefore,
      now: NOW + 120_000,
    });
    expect(assessment.events.map((e) => e.type)).toEqual(['step-failed', 'rollout-paused']);
    expect(decision.answer.firmware).toBeNull();

    const cleanRecord = (): RolloutRuntime => ({ autoPausedReason: null, waves: [{ wave: 'all', succeeded: 5, failed: 0 }] });
    const healthy = checkIn(request(APP_1, { firmwareStep: { id: 'step-1', status: 'failed' } }), inFlight, {
      ...base,
      rolloutRuntime: cleanRecord,
      now: NOW + 120_000,
    });
    expect(healthy.assessment.events.map((e) => e.type)).toEqual(['step-failed']);
  });

  it('a success that brings the wave up to its minimum devices pauses it when the failures already dominate', async () => {
    const files = fixtureFleet({ target: 'app-3' });
    files['firmware-manifests/tr-rollout.yaml'] = files['firmware-manifests/tr-rollout.yaml']!.replace(
      '- { name: all, percent: 100 }',
      '- { name: all, percent: 100, maxFailureRatio: 0.5, minDevices: 4 }',
    );
    const guarded = await compile(files);
    const config = effectiveConfig(guarded.snapshot, device, guarded.secrets);
    const inFlight = checkIn(request(APP_1), INITIAL_FIRMWARE_STATE, { snapshot: guarded.snapshot, config }).decision.firmwareState;
    const threeFailed = (): RolloutRuntime => ({ autoPausedReason: null, waves: [{ wave: 'all', succeeded: 0, failed: 3 }] });
    const { assessment } = checkIn(request(APP_2), inFlight, { snapshot: guarded.snapshot, config, rolloutRuntime: threeFailed });
    expect(assessment.events.map((e) => e.type)).toEqual(['step-succeeded', 'rollout-paused']);
    expect(assessment.candidate).toBeNull();
  });
});
