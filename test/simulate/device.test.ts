// The virtual device as a state machine: what it reports, how it reacts to answers. No engine, no clock.
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckInAnswer, Snapshot } from '../../engine/model/index.ts';
import { DEFAULT_BEHAVIOUR, VirtualDevice, planFleet, seededRandom, type DeviceBehaviour, type DevicePlan } from '../../engine/simulate/index.ts';
import { fixtureFleet } from '../support/fleet.ts';
import { exampleSnapshot, snapshotOf } from './support.ts';

const T0 = Date.parse('2026-11-22T08:00:00Z');
const WALL = '2026-11-22T08:00:00.000Z';
const CALM: DeviceBehaviour = { ...DEFAULT_BEHAVIOUR, failureRate: 0, silenceProbability: 0, movementProbability: 0, gpsMissingProbability: 0 };

let fixture: Snapshot;
let plans: DevicePlan[];

beforeAll(async () => {
  fixture = await snapshotOf(fixtureFleet());
  plans = planFleet(fixture, { devices: 10, towersPerSite: 2, prefix: 'dev-', random: seededRandom(3) }).devices;
});

function answer(extra: Partial<CheckInAnswer> = {}): CheckInAnswer {
  return { revision: 'r1', configHash: 'sha256:aaa', commands: [], firmware: null, nextCheckInSeconds: 600, ...extra };
}

function device(behaviour: Partial<DeviceBehaviour> = {}, seed = 1, plan = plans[0] as DevicePlan): VirtualDevice {
  return new VirtualDevice(plan, { ...CALM, ...behaviour }, seededRandom(seed), T0);
}

const step = { stepId: 'step-1', component: 'mcu', version: '1.1.0', url: 'https://fw.example/mcu.bin', sha256: 'b'.repeat(64), size: 1110, remainingSteps: 1 };

describe('config', () => {
  it('reports no config hash before its first answer, then echoes the hash of the config it applied', () => {
    const d = device();
    expect(d.checkInRequest(T0, WALL).reported.configHash).toBeNull();
    d.receiveAnswer(answer({ configHash: 'sha256:one', config: { movementLock: true } }), T0, 0);
    const next = d.checkInRequest(T0 + 600_000, WALL);
    expect(next.reported.configHash).toBe('sha256:one');
    expect(next.reported.state).toEqual({ movementLock: true });
  });
});

describe('commands', () => {
  it('runs a command once and reports its result until an answer acknowledges it', () => {
    const d = device();
    d.checkInRequest(T0, WALL);
    d.receiveAnswer(answer({ commands: [{ id: 'c1', type: 'lock-movement', params: { locked: true } }, { id: 'c2', type: 'self-destruct', params: {} }] }), T0, 0);
    const report = d.checkInRequest(T0 + 1000, WALL);
    expect(report.reported.commandResults).toEqual([
      { id: 'c1', status: 'succeeded', output: { movementLock: true } },
      { id: 'c2', status: 'rejected', output: { error: 'unknown command self-destruct' } },
    ]);
    // The engine did not get it (e.g. 503): the same results go again.
    d.requestLost();
    expect(d.checkInRequest(T0 + 2000, WALL).reported.commandResults).toHaveLength(2);
    d.receiveAnswer(answer(), T0 + 2000, 0);
    expect(d.checkInRequest(T0 + 3000, WALL).reported.commandResults).toBeUndefined();
  });

  it('answers a redelivered command with its first result instead of running it again', () => {
    const d = device();
    d.checkInRequest(T0, WALL);
    d.receiveAnswer(answer({ commands: [{ id: 'c1', type: 'lock-movement', params: { locked: true } }] }), T0, 0);
    d.checkInRequest(T0 + 1000, WALL);
    // The engine sends it again in the same answer that acknowledges the result (at-least-once delivery).
    d.receiveAnswer(answer({ commands: [{ id: 'c1', type: 'lock-movement', params: { locked: false } }] }), T0 + 1000, 0);
    const again = d.checkInRequest(T0 + 2000, WALL);
    expect(again.reported.commandResults).toEqual([{ id: 'c1', status: 'succeeded', output: { movementLock: true } }]);
    expect(again.reported.state).toEqual({ movementLock: true });
  });
});

describe('firmware steps', () => {
  it('installs a step: one component changes, and the next check-in reports the step and the new version', () => {
    const d = device();
    const before = { ...d.firmware };
    d.checkInRequest(T0, WALL);
    const outcome = d.receiveAnswer(answer({ firmware: step }), T0, 0);
    expect(outcome.newStep?.stepId).toBe('step-1');
    expect(outcome.change).toEqual({ stepId: 'step-1', component: 'mcu', from: before, to: { ...before, mcu: '1.1.0' } });
    const report = d.checkInRequest(T0 + 120_000, WALL);
    expect(report.reported.firmware.mcu).toBe('1.1.0');
    expect(report.reported.firmwareStep).toEqual({ id: 'step-1', status: 'succeeded' });
    // Acknowledged: reported once; the same order sent again is not a new step.
    const resent = d.receiveAnswer(answer({ firmware: step }), T0 + 120_000, 0);
    expect(resent.newStep).toBeNull();
    expect(d.checkInRequest(T0 + 240_000, WALL).reported.firmwareStep).toBeUndefined();
  });

  it('a failed install leaves the firmware as it was and reports the failure with a reason', () => {
    const d = device({ failureRate: 1 });
    const before = { ...d.firmware };
    d.checkInRequest(T0, WALL);
    const outcome = d.receiveAnswer(answer({ firmware: step }), T0, 0);
    expect(outcome.change).toBeNull();
    const report = d.checkInRequest(T0 + 120_000, WALL);
    expect(report.reported.firmware).toEqual(before);
    expect(report.reported.firmwareStep?.status).toBe('failed');
    expect(report.reported.firmwareStep?.error).toMatch(/mcu 1\.1\.0/);
  });

  it('fails more often when its tower carries many downloads at once', () => {
    const failures = (towerDownloads: number): number => {
      let failed = 0;
      for (let seed = 1; seed <= 2000; seed++) {
        const d = device({ failureRate: 0.05, congestionFactor: 0.25 }, seed);
        d.checkInRequest(T0, WALL);
        if (d.receiveAnswer(answer({ firmware: step }), T0, towerDownloads).change === null) failed += 1;
      }
      return failed;
    };
    expect(failures(12)).toBeGreaterThan(2 * failures(0));
  });
});

describe('telemetry', () => {
  it('drains its battery while parked and reports uptime that grows', () => {
    const d = device();
    const first = d.checkInRequest(T0, WALL).telemetry;
    d.receiveAnswer(answer(), T0, 0);
    const later = d.checkInRequest(T0 + 10 * 3_600_000, WALL).telemetry;
    expect(later.battery ?? 0).toBeLessThan(first.battery ?? 0);
    expect(later.uptimeMs ?? 0).toBe((first.uptimeMs ?? 0) + 10 * 3_600_000);
    expect(later.movement).toBe(false);
  });

  it('without a GPS fix it reports BLE sightings of its site’s beacons, and without those only the cell', async () => {
    const example = await exampleSnapshot();
    const plan = planFleet(example, { devices: 40, towersPerSite: 2, prefix: 'x-', random: seededRandom(9) }).devices.find(
      (p) => p.site === 'northstar-denver' && p.profile === 'locator',
    ) as DevicePlan;
    // Parked right at a beacon.
    const atBeacon: DevicePlan = { ...plan, home: { lat: plan.beacons[0]?.lat ?? 0, lon: plan.beacons[0]?.lon ?? 0 } };
    const indoors = device({ gpsMissingProbability: 1, bleMissingProbability: 0 }, 1, atBeacon).checkInRequest(T0, WALL).telemetry;
    expect(indoors.gps).toBeUndefined();
    expect(indoors.ble?.map((b) => b.id)).toContain(plan.beacons[0]?.id);
    expect(indoors.cell).toMatchObject(plan.towers[0]?.cell ?? {});
    const nothing = device({ gpsMissingProbability: 1, bleMissingProbability: 1 }, 1, atBeacon).checkInRequest(T0, WALL).telemetry;
    expect(nothing.gps).toBeUndefined();
    expect(nothing.ble).toBeUndefined();
    expect(nothing.cell).toBeDefined();
    const outdoors = device({}, 1, atBeacon).checkInRequest(T0, WALL).telemetry;
    expect(outdoors.gps).toBeDefined();
  });

  it('turns its GPS off when its config says so', () => {
    const d = device();
    d.checkInRequest(T0, WALL);
    d.receiveAnswer(answer({ config: { gps: { mode: 'off' } } }), T0, 0);
    expect(d.checkInRequest(T0 + 1000, WALL).telemetry.gps).toBeUndefined();
  });
});

describe('silence', () => {
  it('goes silent for longer than the answer asked, and is silent until then', () => {
    const d = device({ silenceProbability: 1 });
    d.checkInRequest(T0, WALL);
    const outcome = d.receiveAnswer(answer({ nextCheckInSeconds: 60 }), T0, 0);
    expect(outcome.silent).toBe(true);
    expect(outcome.nextCheckInMs).toBeGreaterThan(60_000);
    expect(d.isSilent(T0 + outcome.nextCheckInMs - 1)).toBe(true);
    expect(d.isSilent(T0 + outcome.nextCheckInMs)).toBe(false);
  });
});
