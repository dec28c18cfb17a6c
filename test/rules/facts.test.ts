import { describe, expect, it } from 'vitest';
import { deriveDeviceFacts, KNOWN_DEVICE_FACTS, type DeviceFactsInput } from '../../engine/rules/index.ts';

const now = Date.parse('2026-11-22T08:00:00Z');
const input: DeviceFactsInput = {
  device: { id: 'trk-0001', profile: 'tracker-v2', site: 'dealer-munich', labels: { tracking: 'required' } },
  telemetry: {
    time: '2026-11-22T07:59:58Z',
    battery: 40,
    uptimeMs: 2 ** 32,
    movement: true,
    gps: { lat: 48.1, lon: 11.5, accuracyM: 12 },
    cell: { mcc: 262, mnc: 1, lac: 4711, cid: 99 },
    temperatureC: 21.5,
  },
  reported: { firmware: { mcu: '2.3.1', ble: '1.4.0' }, configHash: 'old', state: { movementLock: true } },
  desiredConfigHash: 'new',
  previous: { at: now - 12 * 3600_000, battery: 50 },
  location: { source: 'gps', lat: 48.1, lon: 11.5, accuracyM: 12 },
  status: 'drifted',
  now,
};

describe('deriveDeviceFacts', () => {
  it('derives rates and durations from the previous check-in', () => {
    const facts = deriveDeviceFacts(input);
    expect(facts.secondsSinceLastCheckIn).toBe(12 * 3600);
    // 10 points in half a day.
    expect(facts.batteryDropPerDay).toBeCloseTo(20);
    expect(facts.uptimeDays).toBeCloseTo(49.71, 2);
  });

  it('measures the battery drop over at least six hours, from the reading it is given', () => {
    const tenMinutesAgo = now - 600_000;
    // One whole percent lost in ten minutes is a rounding step, not 144 % a day.
    expect(deriveDeviceFacts({ ...input, telemetry: { ...input.telemetry, battery: 49 }, previous: { at: tenMinutesAgo, battery: 50 } }).batteryDropPerDay).toBeUndefined();
    // The same check-in measured against a reading six hours old: 1 point in a quarter day.
    const facts = deriveDeviceFacts({ ...input, telemetry: { ...input.telemetry, battery: 49 }, previous: { at: tenMinutesAgo, battery: 50, batteryAt: now - 6 * 3600_000 } });
    expect(facts.batteryDropPerDay).toBeCloseTo(4);
    expect(facts.secondsSinceLastCheckIn).toBe(600);
  });

  it('knows a locked device that moved', () => {
    expect(deriveDeviceFacts(input).movedWhileLocked).toBe(true);
    expect(deriveDeviceFacts({ ...input, reported: { ...input.reported, state: { movementLock: false } } }).movedWhileLocked).toBe(false);
    expect(deriveDeviceFacts({ ...input, telemetry: { ...input.telemetry, movement: false } }).movedWhileLocked).toBe(false);
  });

  it('flags config drift only against a known desired hash', () => {
    expect(deriveDeviceFacts(input).configDrift).toBe(true);
    expect(deriveDeviceFacts({ ...input, desiredConfigHash: 'old' }).configDrift).toBe(false);
    expect(deriveDeviceFacts({ ...input, desiredConfigHash: null }).configDrift).toBe(false);
  });

  it('leaves rate facts undefined at a first check-in rather than inventing zeros', () => {
    const facts = deriveDeviceFacts({ ...input, previous: null });
    expect(facts.secondsSinceLastCheckIn).toBeUndefined();
    expect(facts.batteryDropPerDay).toBeUndefined();
  });

  it('carries location, metadata and reported state through', () => {
    const facts = deriveDeviceFacts(input);
    expect(facts.locationSource).toBe('gps');
    expect(facts.gpsAccuracyM).toBe(12);
    expect(facts.cell).toBe('262-1-4711-99');
    expect(facts.firmware).toEqual({ mcu: '2.3.1', ble: '1.4.0' });
    expect([facts.profile, facts.site, facts.status, facts.device.id]).toEqual(['tracker-v2', 'dealer-munich', 'drifted', 'trk-0001']);
  });

  it('produces exactly the facts that validation knows, so no rule is checked against a fact that never comes', () => {
    expect(new Set(Object.keys(deriveDeviceFacts(input)))).toEqual(KNOWN_DEVICE_FACTS);
  });

  it('includes the fact names the example rules are written with', () => {
    for (const name of ['battery', 'uptimeMs', 'uptimeDays', 'secondsSinceLastCheckIn', 'batteryDropPerDay', 'movement', 'movedWhileLocked', 'locationSource', 'gpsAccuracyM', 'temperatureC', 'firmware', 'configDrift', 'status', 'profile', 'site', 'labels', 'state']) {
      expect(KNOWN_DEVICE_FACTS.has(name), name).toBe(true);
    }
  });
});
