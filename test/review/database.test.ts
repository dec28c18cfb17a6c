import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_FIRMWARE_STATE } from '../../engine/model/index.ts';
import { FleetStore } from '../../engine/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { fleetform } from './cli.ts';
import { bundle, BUNDLES, fleetRepository, matrix } from './fleet-repo.ts';

// The fleet as the engine holds it: registered devices whose last check-in reported their firmware.
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  const store = await FleetStore.open({ url: database.url, poolSize: 2 });
  try {
    const fleet = [
      ...Array.from({ length: 6 }, (_, i) => ({ id: `north-${i}`, site: 'north', firmware: bundle('app-0.9.0') })),
      ...Array.from({ length: 4 }, (_, i) => ({ id: `south-${i}`, site: 'south', firmware: bundle('app-1.1.0') })),
    ];
    await store.devices.insertMany(
      fleet.map(({ id, site }) => ({
        id,
        tenant: 'acme',
        profile: 'locator',
        site,
        labels: { usage: 'inventory' },
        tokenHash: `hash-${id}`,
        firmwareState: INITIAL_FIRMWARE_STATE,
      })),
    );
    const now = new Date('2026-01-01T00:00:00Z');
    for (const { id, firmware } of fleet) {
      await store.checkIns.record({
        deviceId: id,
        receivedAt: now,
        revision: null,
        reported: { firmware: { mcu: firmware.mcu, ble: firmware.ble }, configHash: null },
        telemetry: { time: now.toISOString() },
        battery: null,
        cell: null,
        status: 'converged',
        reportedFirmware: { mcu: firmware.mcu, ble: firmware.ble },
        reportedConfigHash: null,
        reportedState: null,
        desiredConfigHash: null,
        firmwareState: INITIAL_FIRMWARE_STATE,
        location: null,
        uptimeMs: null,
        nextExpectedAt: now,
        offlineAfterAt: now,
        events: [],
        deliveredCommandIds: [],
        commandResults: [],
        releasedSlot: null,
        waveResults: [],
        autoPause: null,
      });
    }
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  await database?.drop();
});

describe('the fleet from the engine database', () => {
  it('fleet export writes every device with its reported firmware as JSON Lines, ordered by id', async () => {
    const repo = fleetRepository();
    try {
      const run = await fleetform(repo.dir, 'fleet', 'export', '--database-url', database.url);
      expect(run.code).toBe(0);
      const devices = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; firmware: Record<string, string>; site: string });
      expect(devices.map((d) => d.id)).toEqual([...devices.map((d) => d.id)].sort());
      expect(devices).toHaveLength(10);
      expect(devices.find((d) => d.id === 'south-0')).toMatchObject({ site: 'south', firmware: { mcu: '1.1.0', ble: '1.0.0' } });
    } finally {
      repo.dispose();
    }
  });

  it('diff --database-url computes the same impact as diff --fleet with the exported file', async () => {
    const repo = fleetRepository();
    try {
      repo.write('firmware-manifests/matrix-tracker.yaml', matrix(BUNDLES.filter((b) => b.name !== 'app-1.0.0')));
      repo.commit('retire app 1.0.0');
      const exported = await fleetform(repo.dir, 'fleet', 'export', '--database-url', database.url, '--out', 'fleet.jsonl');
      expect(exported.code).toBe(0);
      const fromDatabase = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--database-url', database.url, '--format', 'json', '--fail-on', 'blocked');
      const fromFile = await fleetform(repo.dir, 'diff', 'HEAD~1', 'HEAD', '--fleet', 'fleet.jsonl', '--format', 'json', '--fail-on', 'blocked');
      expect(fromDatabase.code).toBe(3);
      expect(fromFile.code).toBe(3);
      const impact = (run: { stdout: string }) => (JSON.parse(run.stdout) as { impact: { firmware: { newlyBlocked: { devices: number }[] } } }).impact;
      expect(impact(fromDatabase)).toEqual(impact(fromFile));
      expect(impact(fromDatabase).firmware.newlyBlocked).toEqual([expect.objectContaining({ firmware: 'app-0.9.0', devices: 6 })]);
    } finally {
      repo.dispose();
    }
  });
});
