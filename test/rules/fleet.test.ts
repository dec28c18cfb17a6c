import { describe, expect, it } from 'vitest';
import {
  buildRuleSet,
  evaluateFleetAggregates,
  groupOfflineCohorts,
  isOffline,
  offlineDeadline,
  type FleetDevice,
} from '../../engine/rules/index.ts';
import { alertRule, EXAMPLE_RULES } from './example-rules.ts';

const now = Date.parse('2026-11-22T08:00:00Z');
const DAY = 86_400_000;

function device(id: string, over: Partial<FleetDevice> = {}): FleetDevice {
  return {
    id,
    site: 'dealer-munich',
    cell: '262-1-4711-1',
    firmware: { mcu: '2.3.1', ble: '1.4.0' },
    profile: 'tracker-v2',
    status: 'converged',
    lastCheckInAt: now - 10 * 60_000,
    lastUptimeMs: 5 * DAY,
    ...over,
  };
}

/** Three sites of 40 devices; `silent` of the first site's devices stopped checking in a day ago. */
function fleet(silent: number): FleetDevice[] {
  const devices: FleetDevice[] = [];
  for (const site of ['dealer-munich', 'dealer-hamburg', 'plant-berlin']) {
    for (let i = 0; i < 40; i++) {
      const dark = site === 'dealer-munich' && i < silent;
      devices.push(device(`${site}-${i}`, { site, ...(dark ? { lastCheckInAt: now - DAY } : {}) }));
    }
  }
  return devices;
}

const siteRule = buildRuleSet(EXAMPLE_RULES.filter((r) => r.metadata.name === 'site-comms-failure'));
const hourlyPolicy = () => ({ intervalSeconds: 3600, offlineAfterMissed: 3 });

describe('isOffline', () => {
  it('turns offline only after the declared number of missed check-ins', () => {
    const last = now - 3 * 3600_000;
    expect(isOffline(last, 3600, 3, now)).toBe(false);
    expect(isOffline(last, 3600, 3, now + 1)).toBe(true);
    expect(offlineDeadline(last, 3600, 3)).toBe(now);
  });

  it('never calls a device that never checked in offline', () => {
    expect(isOffline(null, 60, 3, now)).toBe(false);
  });
});

describe('evaluateFleetAggregates', () => {
  it('30 % of one site going silent gives exactly one site-level candidate', () => {
    const results = evaluateFleetAggregates(siteRule, fleet(12), now, { checkInPolicy: hourlyPolicy });
    const holding = results.filter((r) => r.holds);
    expect(holding).toHaveLength(1);
    expect(holding[0]).toMatchObject({ rule: 'site-comms-failure', group: 'dealer-munich', dedupeKey: 'dealer-munich', affected: 12, total: 40, share: 0.3 });
    expect(holding[0]!.summary).toContain('widespread comms failure at site dealer-munich');
    // The other sites are evaluated too, so their open alerts can resolve.
    expect(results.map((r) => r.group)).toEqual(['dealer-hamburg', 'dealer-munich', 'plant-berlin']);
  });

  it('stays quiet below the threshold and in groups smaller than minDevices', () => {
    expect(evaluateFleetAggregates(siteRule, fleet(8), now, { checkInPolicy: hourlyPolicy }).some((r) => r.holds)).toBe(false);
    const tiny = [device('a', { site: 'kiosk', status: 'offline' }), device('b', { site: 'kiosk', status: 'offline' })];
    expect(evaluateFleetAggregates(siteRule, tiny, now).some((r) => r.holds)).toBe(false);
  });

  it('counts status offline without a policy, and leaves never-seen devices out of the denominator', () => {
    const devices = [
      ...Array.from({ length: 10 }, (_, i) => device(`on-${i}`)),
      ...Array.from({ length: 4 }, (_, i) => device(`off-${i}`, { status: 'offline' })),
      ...Array.from({ length: 30 }, (_, i) => device(`new-${i}`, { status: 'pending', lastCheckInAt: null })),
    ];
    const [result] = evaluateFleetAggregates(siteRule, devices, now);
    expect(result).toMatchObject({ total: 14, affected: 4, holds: true });
  });

  it('groups by firmware combination and measures failing devices', () => {
    const rule = buildRuleSet([
      alertRule('fw', { scope: 'fleet', severity: 'warning', aggregate: { groupBy: 'firmware', measure: 'failing', threshold: 0.5, minDevices: 2 } }),
    ]);
    const devices = [
      device('a', { firmware: { mcu: '2.4.0', ble: '1.4.0' }, status: 'retrying' }),
      device('b', { firmware: { ble: '1.4.0', mcu: '2.4.0' }, status: 'cooling-down' }),
      device('c', { firmware: { mcu: '2.4.0', ble: '1.4.0' } }),
      device('d'),
      device('e', { status: 'quarantined' }),
    ];
    const results = evaluateFleetAggregates(rule, devices, now);
    expect(results.map((r) => [r.group, r.affected, r.total, r.holds])).toEqual([
      ['ble=1.4.0,mcu=2.3.1', 1, 2, true],
      ['ble=1.4.0,mcu=2.4.0', 2, 3, true],
    ]);
  });
});

describe('groupOfflineCohorts', () => {
  it('makes "all died near 49.7 days of uptime" stand out, marked as the 2^32 ms overflow', () => {
    const devices = [
      ...Array.from({ length: 9 }, (_, i) => device(`bomb-${i}`, { status: 'offline', lastUptimeMs: 2 ** 32 - (i + 1) * 3600_000, site: `site-${i % 3}` })),
      device('x', { status: 'offline', lastUptimeMs: 3 * DAY }),
      device('y', { status: 'offline', lastUptimeMs: 12.5 * DAY }),
      device('z', { status: 'offline', lastUptimeMs: null }),
    ];
    const [top, ...rest] = groupOfflineCohorts(devices, 'uptime');
    expect(top).toMatchObject({ key: '49', count: 9, share: 0.75, marker: 'uint32-ms-overflow', uptimeDays: [49, 50] });
    expect(rest.map((c) => [c.key, c.count, c.marker])).toEqual([
      ['3', 1, undefined],
      ['12', 1, undefined],
      ['unknown', 1, undefined],
    ]);
    // The same devices spread evenly over sites: site is not the pattern.
    expect(groupOfflineCohorts(devices.slice(0, 9), 'site').map((c) => c.count)).toEqual([3, 3, 3]);
  });

  it('groups by firmware combination and by cell', () => {
    const devices = [
      device('a', { firmware: { mcu: '2.3.1', ble: '1.4.0' } }),
      device('b', { firmware: { ble: '1.4.0', mcu: '2.3.1' }, cell: null }),
      device('c', { firmware: { mcu: '2.2.0', ble: '1.4.0' } }),
    ];
    expect(groupOfflineCohorts(devices, 'firmware').map((c) => [c.key, c.deviceIds])).toEqual([
      ['ble=1.4.0,mcu=2.3.1', ['a', 'b']],
      ['ble=1.4.0,mcu=2.2.0', ['c']],
    ]);
    expect(groupOfflineCohorts(devices, 'cell').map((c) => [c.key, c.count])).toEqual([
      ['262-1-4711-1', 2],
      ['unknown', 1],
    ]);
  });
});
