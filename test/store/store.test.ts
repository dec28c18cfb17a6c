import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_FIRMWARE_STATE } from '../../engine/model/index.ts';
import { DeviceExistsError, FleetStore } from '../../engine/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let store: FleetStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await FleetStore.open({ url: db.url });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

const device = (id: string) => ({
  id,
  tenant: 'acme',
  profile: 'tracker',
  site: 'plant-1',
  labels: { tier: 'a' },
  tokenHash: 'h'.repeat(64),
  firmwareState: INITIAL_FIRMWARE_STATE,
});

describe('fleet store', () => {
  it('migrations are idempotent: opening again on a migrated database changes nothing', async () => {
    const again = await FleetStore.open({ url: db.url });
    await again.close();
    await store.devices.register(device('d-mig'));
    expect((await store.devices.get('d-mig'))?.profile).toBe('tracker');
  });

  it('a device id registers once', async () => {
    await store.devices.register(device('d-1'));
    await expect(store.devices.register(device('d-1'))).rejects.toBeInstanceOf(DeviceExistsError);
  });

  it('concurrent takers never push a cell past its maximum, in total across connections', async () => {
    const takes = await Promise.all(
      Array.from({ length: 40 }, () =>
        store.slots.take({ rollout: 'r1', cell: '1-1-1-1', maxInFlight: null, maxInFlightPerCell: 3 }),
      ),
    );
    expect(takes.filter(Boolean)).toHaveLength(3);
    const counts = await store.slots.inFlightCounts('r1');
    expect(counts.perCell.get('1-1-1-1')).toBe(3);
    expect(counts.total).toBe(3);
  });

  it('a released slot can be taken again', async () => {
    const slot = { rollout: 'r2', cell: 'c', maxInFlight: 1, maxInFlightPerCell: null };
    expect(await store.slots.take(slot)).toBe(true);
    expect(await store.slots.take(slot)).toBe(false);
    await store.slots.release([{ rollout: 'r2', cell: 'c' }]);
    expect(await store.slots.take(slot)).toBe(true);
  });
});
