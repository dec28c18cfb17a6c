// Waves, throttles, step timeouts, maintenance windows and the automatic pause: pure rules, clock passed in.
import { describe, expect, it } from 'vitest';
import {
  deviceWave,
  isDeviceEligible,
  isStepTimedOut,
  DEFAULT_STEP_TIMEOUT_SECONDS,
  maintenanceWindowOpen,
  rolloutCampaign,
  shouldPauseRollout,
  throttleAllows,
  waveBucket,
  waveOfDevice,
  wavePauseDecision,
} from '../../engine/firmware/index.ts';
import type { InFlightStep, MaintenanceWindow } from '../../engine/model/index.ts';
import { rollout } from './builders.ts';

const devices = Array.from({ length: 4000 }, (_, i) => `dev-${String(i).padStart(5, '0')}`);

describe('waves', () => {
  it('a device keeps its bucket: same rollout and device, same bucket in [0, 100)', () => {
    for (const id of devices.slice(0, 200)) {
      const bucket = waveBucket('tracker-app-3.3.0', id);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(100);
      expect(waveBucket('tracker-app-3.3.0', id)).toBe(bucket);
    }
  });

  it('buckets spread devices evenly, and differ between rollouts', () => {
    const buckets = devices.map((id) => waveBucket('r', id));
    const canary = buckets.filter((b) => b < 5).length / devices.length;
    expect(canary).toBeGreaterThan(0.03);
    expect(canary).toBeLessThan(0.07);
    const other = devices.map((id) => waveBucket('other', id));
    expect(other.filter((b, i) => b !== buckets[i]).length).toBeGreaterThan(devices.length * 0.99);
  });

  it('a device is eligible exactly when its bucket is below the open wave percent', () => {
    const r = rollout('r', { activeWave: 'wider' });
    for (const id of devices.slice(0, 500)) expect(isDeviceEligible(r, id)).toBe(waveBucket('r', id) < 25);
  });

  it('widening the rollout never drops anyone already in it', () => {
    const stages = ['canary', 'wider', 'all'].map((activeWave) => rollout('r', { activeWave }));
    const members = stages.map((r) => new Set(devices.filter((id) => isDeviceEligible(r, id))));
    for (let i = 1; i < members.length; i++) {
      for (const id of members[i - 1] as Set<string>) expect((members[i] as Set<string>).has(id)).toBe(true);
      expect((members[i] as Set<string>).size).toBeGreaterThan((members[i - 1] as Set<string>).size);
    }
    expect(members[2]?.size).toBe(devices.length);
  });

  it('a device belongs to the first wave whose percent exceeds its bucket, open or not', () => {
    const r = rollout('r', { activeWave: 'canary' });
    for (const id of devices.slice(0, 500)) {
      const bucket = waveBucket('r', id);
      const expected = bucket < 5 ? 'canary' : bucket < 25 ? 'wider' : 'all';
      expect(deviceWave(r, id)?.name).toBe(expected);
      // Only the open waves give a device its wave for hand-outs.
      expect(waveOfDevice(r, id)?.name ?? null).toBe(bucket < 5 ? 'canary' : null);
    }
  });

  it('an activeWave that names no wave opens none', () => {
    const r = rollout('r', { activeWave: 'nope' });
    expect(devices.slice(0, 100).some((id) => isDeviceEligible(r, id) || waveOfDevice(r, id) !== null)).toBe(false);
  });
});

describe('throttles and step timeouts', () => {
  const counts = (total: number, perCell: Record<string, number> = {}) => ({ total, perCell: new Map(Object.entries(perCell)) });

  it('allows a step while both the total and the per-cell counts are below their limits', () => {
    expect(throttleAllows({ maxInFlight: 500, maxInFlightPerCell: 20 }, counts(499, { a: 19 }), 'a')).toEqual({ allowed: true });
  });

  it('refuses at the total limit', () => {
    expect(throttleAllows({ maxInFlight: 500 }, counts(500), 'a')).toMatchObject({ allowed: false, code: 'max-in-flight', limit: 500, inFlight: 500 });
  });

  it('refuses at the per-cell limit, counting only the device’s own tower', () => {
    const throttle = { maxInFlight: 500, maxInFlightPerCell: 20 };
    expect(throttleAllows(throttle, counts(100, { a: 20, b: 3 }), 'a')).toMatchObject({ allowed: false, code: 'max-in-flight-per-cell', inFlight: 20 });
    expect(throttleAllows(throttle, counts(100, { a: 20, b: 3 }), 'b')).toEqual({ allowed: true });
    // A device that reports no cell is limited by the total only.
    expect(throttleAllows(throttle, counts(100, { a: 20 }), null)).toEqual({ allowed: true });
  });

  it('no declared throttle: no limit', () => {
    expect(throttleAllows(undefined, counts(1_000_000), 'a')).toEqual({ allowed: true });
  });

  it('a step times out at its declared deadline, not before; without one at the default deadline', () => {
    const step: InFlightStep = { id: 's', rollout: 'r', component: 'mcu', from: '1', to: '2', cell: null, issuedAt: 1_000_000 };
    expect(isStepTimedOut(step, { stepTimeoutSeconds: 60 }, 1_059_999)).toBe(false);
    expect(isStepTimedOut(step, { stepTimeoutSeconds: 60 }, 1_060_000)).toBe(true);
    // No declared timeout: the default still ends the step, so a dark device cannot hold its slot forever.
    expect(isStepTimedOut(step, {}, 1_000_000 + DEFAULT_STEP_TIMEOUT_SECONDS * 1000 - 1)).toBe(false);
    expect(isStepTimedOut(step, undefined, 1_000_000 + DEFAULT_STEP_TIMEOUT_SECONDS * 1000)).toBe(true);
  });
});

describe('maintenance windows in the site timezone', () => {
  const at = (iso: string) => Date.parse(iso);
  const night: MaintenanceWindow = { start: '22:00', end: '04:00' };

  it('opens at the local start and closes at the local end', () => {
    const day: MaintenanceWindow = { start: '09:00', end: '17:00' };
    // Europe/Berlin is UTC+1 in winter.
    expect(maintenanceWindowOpen(day, 'Europe/Berlin', at('2026-01-14T07:59:00Z'))).toBe(false);
    expect(maintenanceWindowOpen(day, 'Europe/Berlin', at('2026-01-14T08:00:00Z'))).toBe(true);
    expect(maintenanceWindowOpen(day, 'Europe/Berlin', at('2026-01-14T15:59:00Z'))).toBe(true);
    expect(maintenanceWindowOpen(day, 'Europe/Berlin', at('2026-01-14T16:00:00Z'))).toBe(false);
  });

  it('crossing midnight: 21:59 closed, 22:00 open, 03:59 open, 04:00 closed (local)', () => {
    const tz = 'America/New_York';
    expect(maintenanceWindowOpen(night, tz, at('2026-01-15T02:59:00Z'))).toBe(false); // 21:59
    expect(maintenanceWindowOpen(night, tz, at('2026-01-15T03:00:00Z'))).toBe(true); // 22:00
    expect(maintenanceWindowOpen(night, tz, at('2026-01-15T08:59:00Z'))).toBe(true); // 03:59
    expect(maintenanceWindowOpen(night, tz, at('2026-01-15T09:00:00Z'))).toBe(false); // 04:00
  });

  it('the early-morning part of a window belongs to the day it opened', () => {
    const fridayNight: MaintenanceWindow = { days: ['fri'], start: '22:00', end: '04:00' };
    const tz = 'Europe/Berlin';
    // 2026-01-16 is a Friday.
    expect(maintenanceWindowOpen(fridayNight, tz, at('2026-01-16T21:30:00Z'))).toBe(true); // Fri 22:30
    expect(maintenanceWindowOpen(fridayNight, tz, at('2026-01-17T02:00:00Z'))).toBe(true); // Sat 03:00
    expect(maintenanceWindowOpen(fridayNight, tz, at('2026-01-15T21:30:00Z'))).toBe(false); // Thu 22:30
    expect(maintenanceWindowOpen(fridayNight, tz, at('2026-01-16T02:00:00Z'))).toBe(false); // Fri 03:00 (Thursday's night)
  });

  it('days restrict a window that does not cross midnight', () => {
    const weekdays: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '01:00', end: '05:00' };
    expect(maintenanceWindowOpen(weekdays, 'UTC', at('2026-01-16T02:00:00Z'))).toBe(true); // Friday
    expect(maintenanceWindowOpen(weekdays, 'UTC', at('2026-01-17T02:00:00Z'))).toBe(false); // Saturday
  });

  it('follows local wall-clock time across daylight-saving changes', () => {
    const tz = 'Europe/Berlin';
    const window: MaintenanceWindow = { start: '02:30', end: '05:00' };
    // Winter (UTC+1): 02:30 local is 01:30Z. Summer (UTC+2): 02:30 local is 00:30Z.
    expect(maintenanceWindowOpen(window, tz, at('2026-01-10T01:30:00Z'))).toBe(true);
    expect(maintenanceWindowOpen(window, tz, at('2026-01-10T00:30:00Z'))).toBe(false);
    expect(maintenanceWindowOpen(window, tz, at('2026-07-10T00:30:00Z'))).toBe(true);
    expect(maintenanceWindowOpen(window, tz, at('2026-07-10T03:00:00Z'))).toBe(false);
    // The spring-forward night (29 March 2026): the clock jumps 02:00 → 03:00; at 01:00Z it is 03:00 local.
    expect(maintenanceWindowOpen(window, tz, at('2026-03-29T01:00:00Z'))).toBe(true);
    // The fall-back night (25 October 2026): 02:30 local happens twice, and both are inside.
    expect(maintenanceWindowOpen(window, tz, at('2026-10-25T00:30:00Z'))).toBe(true);
    expect(maintenanceWindowOpen(window, tz, at('2026-10-25T01:30:00Z'))).toBe(true);
  });

  it('an unknown timezone or a malformed time keeps the window closed', () => {
    expect(maintenanceWindowOpen(night, 'Mars/Olympus_Mons', at('2026-01-15T03:00:00Z'))).toBe(false);
    expect(maintenanceWindowOpen({ start: '25:00', end: '04:00' }, 'UTC', at('2026-01-15T03:00:00Z'))).toBe(false);
  });

  it('equal start and end mean the whole day', () => {
    expect(maintenanceWindowOpen({ start: '00:00', end: '00:00', days: ['thu'] }, 'UTC', at('2026-01-15T13:00:00Z'))).toBe(true);
    expect(maintenanceWindowOpen({ start: '00:00', end: '00:00', days: ['fri'] }, 'UTC', at('2026-01-15T13:00:00Z'))).toBe(false);
  });
});

describe('automatic pause', () => {
  const r = rollout('r', {
    waves: [
      { name: 'canary', percent: 5, maxFailureRatio: 0.1, minDevices: 20 },
      { name: 'all', percent: 100 },
    ],
  });

  it('does not pause before minDevices of the wave finished, however bad the ratio', () => {
    expect(shouldPauseRollout(r, [{ wave: 'canary', succeeded: 9, failed: 10 }])).toBeNull();
  });

  it('pauses once minDevices finished and the failed share is above the threshold, saying why', () => {
    const reason = shouldPauseRollout(r, [{ wave: 'canary', succeeded: 17, failed: 3 }]);
    expect(reason).toContain("wave 'canary'");
    expect(reason).toContain('3 of 20');
  });

  it('a share exactly at the threshold does not pause', () => {
    expect(shouldPauseRollout(r, [{ wave: 'canary', succeeded: 18, failed: 2 }])).toBeNull();
  });

  it('counts the step that ends now, before the store has recorded it', () => {
    expect(shouldPauseRollout(r, [{ wave: 'canary', succeeded: 17, failed: 2 }])).toBeNull();
    expect(shouldPauseRollout(r, [{ wave: 'canary', succeeded: 17, failed: 2 }], { wave: 'canary', succeeded: 0, failed: 1 })).not.toBeNull();
  });

  it('a wave without maxFailureRatio never pauses the rollout', () => {
    expect(shouldPauseRollout(r, [{ wave: 'all', succeeded: 0, failed: 1000 }])).toBeNull();
    expect(wavePauseDecision({ name: 'x', percent: 10 }, { wave: 'x', succeeded: 0, failed: 5 })).toEqual({ pause: false });
  });
});

describe('rollout campaigns (the key of wave counts and automatic pauses)', () => {
  it('is the same for the same rollout written in another key order, and with paused toggled', () => {
    const base = rollout('tracker', { target: { bundle: 'app-3' } });
    const reordered = rollout('tracker', { activeWave: 'canary', target: { bundle: 'app-3' } });
    expect(rolloutCampaign(reordered)).toBe(rolloutCampaign(base));
    expect(rolloutCampaign(rollout('tracker', { target: { bundle: 'app-3' }, paused: true }))).toBe(rolloutCampaign(base));
    expect(rolloutCampaign(base)).toMatch(/^tracker#[0-9a-f]{16}$/);
  });

  it('changes with the target, the waves, the thresholds or the name', () => {
    const base = rolloutCampaign(rollout('tracker', { target: { bundle: 'app-3' } }));
    expect(rolloutCampaign(rollout('tracker', { target: { bundle: 'app-4' } }))).not.toBe(base);
    expect(rolloutCampaign(rollout('tracker', { target: { bundle: 'app-3' }, activeWave: 'wider' }))).not.toBe(base);
    expect(rolloutCampaign(rollout('tracker', { target: { bundle: 'app-3' }, waves: [{ name: 'all', percent: 100, maxFailureRatio: 0.2 }] }))).not.toBe(base);
    expect(rolloutCampaign(rollout('beacons', { target: { bundle: 'app-3' } }))).not.toBe(base);
  });
});
