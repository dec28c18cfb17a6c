// The simulated fleet as planned from a snapshot, and the audit the simulator applies to the engine.
import { beforeAll, describe, expect, it } from 'vitest';
import { FirmwarePlanner, type CompatibilityModel } from '../../engine/firmware/index.ts';
import type { Snapshot } from '../../engine/model/index.ts';
import {
  StepAuditor,
  TowerThrottleMonitor,
  convergenceTarget,
  oldestKnownGood,
  planFleet,
  seededRandom,
} from '../../engine/simulate/index.ts';
import { fixtureFleet } from '../support/fleet.ts';
import { exampleSnapshot, snapshotOf } from './support.ts';

let fixture: Snapshot;
let example: Snapshot;

beforeAll(async () => {
  fixture = await snapshotOf(fixtureFleet());
  example = await exampleSnapshot();
});

describe('planning the fleet', () => {
  it('spreads devices over every site, with the requested number of towers per site', () => {
    const plan = planFleet(example, { devices: 400, towersPerSite: 3, prefix: 'p-', random: seededRandom(1) });
    const sites = new Set(plan.devices.map((d) => d.site));
    expect(sites).toEqual(new Set(example.sites.keys()));
    for (const site of example.sites.keys()) {
      const towers = plan.towers.filter((t) => t.site === site);
      expect(towers).toHaveLength(3);
      // Declared towers come first, so the engine can locate devices by them.
      const declared = example.sites.get(site)?.spec.cellTowers ?? [];
      expect(towers.filter((t) => t.declared)).toHaveLength(Math.min(3, declared.length));
      expect(new Set(towers.map((t) => t.key)).size).toBe(3);
    }
    expect(new Set(plan.devices.map((d) => d.id)).size).toBe(400);
    expect(new Set(plan.devices.map((d) => d.profile))).toEqual(new Set(['locator', 'beacon']));
  });

  it('starts every device on the oldest known-good firmware of its hardware', () => {
    const planner = new FirmwarePlanner(example);
    const tracker = planner.model('tracker') as CompatibilityModel;
    const beacon = planner.model('beacon') as CompatibilityModel;
    // Bundles: the lowest application version.
    const lowest = [...tracker.bundles].sort((a, b) => (a.version < b.version ? -1 : 1))[0];
    expect(oldestKnownGood(tracker)).toEqual(lowest?.components);
    // Constraints: a stable combination no other stable one is older than, component by component.
    const start = oldestKnownGood(beacon) ?? {};
    expect(beacon.isStable(start)).toBe(true);
    beacon.components.forEach((c, i) => {
      const older = (beacon.versions[i] ?? []).filter((v) => (beacon.versionIndex[i]?.get(v) ?? 0) < (beacon.versionIndex[i]?.get(start[c] ?? '') ?? 0));
      for (const v of older) expect(beacon.isStable({ ...start, [c]: v })).toBe(false);
    });
    const plan = planFleet(example, { devices: 50, towersPerSite: 1, prefix: 'p-', random: seededRandom(2) });
    for (const d of plan.devices) expect(d.firmware).toEqual(d.hardware === 'tracker' ? lowest?.components : start);
  });

  it('a device converges to its rollout’s destination only when the rollout governs it and its wave is open', () => {
    const [device] = planFleet(fixture, { devices: 1, towersPerSite: 1, prefix: 'p-', random: seededRandom(3) }).devices;
    if (!device) throw new Error('no device');
    const model = new FirmwarePlanner(fixture).model('tr') as CompatibilityModel;
    expect(device.rollout).toBe('tr-upgrade');
    expect(convergenceTarget(fixture, device)).toEqual(model.bundle('app-3')?.components);
    expect(convergenceTarget(fixture, { ...device, rollout: null })).toEqual(device.firmware);
  });

  it('is the same fleet for the same seed', () => {
    const a = planFleet(example, { devices: 30, towersPerSite: 2, prefix: 'p-', random: seededRandom(11) });
    const b = planFleet(example, { devices: 30, towersPerSite: 2, prefix: 'p-', random: seededRandom(11) });
    expect(a).toEqual(b);
  });
});

describe('auditing steps', () => {
  it('accepts one component onto a known-good combination, and rejects two at once or a bad landing', () => {
    const auditor = new StepAuditor(fixture);
    const app1 = { mcu: '1.0.0', ble: '1.0.0' };
    expect(auditor.record('d', 'tr', { stepId: 's1', component: 'mcu', from: app1, to: { mcu: '1.1.0', ble: '1.0.0' } })).toBeNull();
    expect(auditor.record('d', 'tr', { stepId: 's2', component: 'mcu', from: app1, to: { mcu: '1.1.0', ble: '2.0.0' } })?.reason).toBe('not-one-component');
    // ble 2.0.0 with mcu 1.0.0 is no bundle.
    expect(auditor.record('d', 'tr', { stepId: 's3', component: 'ble', from: app1, to: { mcu: '1.0.0', ble: '2.0.0' } })?.reason).toBe('not-known-good');
    expect(auditor.record('d', 'tr', { stepId: 's4', component: 'ble', from: app1, to: { mcu: '1.0.0', ble: '9.9.9' } })?.reason).toBe('unknown-release');
    expect(auditor.violations.map((v) => v.stepId)).toEqual(['s2', 's3', 's4']);
    expect(auditor.steps.get('d')?.map((s) => s.stepId)).toEqual(['s1']);
  });
});

describe('the per-tower throttle monitor', () => {
  it('counts a download from the answer that issues it until its outcome is sent, and flags a tower over its limit', () => {
    const monitor = new TowerThrottleMonitor(new Map([['r', 2]]));
    monitor.issued('a', 's1', 'r', 'tower-1');
    monitor.issued('b', 's2', 'r', 'tower-1');
    monitor.issued('c', 's3', 'r', 'tower-2');
    // The same step resent in a later answer is not a second download.
    monitor.issued('a', 's1', 'r', 'tower-1');
    expect(monitor.count('r', 'tower-1')).toBe(2);
    expect(monitor.breaches).toEqual([]);
    const held = monitor.release('a');
    expect(monitor.count('r', 'tower-1')).toBe(1);
    // The report was refused unprocessed: the engine still holds the slot.
    if (held) monitor.restore('a', held);
    expect(monitor.count('r', 'tower-1')).toBe(2);
    monitor.issued('d', 's4', 'r', 'tower-1');
    expect(monitor.breaches).toEqual([{ rollout: 'r', tower: 'tower-1', inFlight: 3, limit: 2, device: 'd' }]);
    expect(monitor.peak.get(TowerThrottleMonitor.key('r', 'tower-1'))).toBe(3);
    expect(monitor.onTower('tower-1')).toBe(3);
  });
});
