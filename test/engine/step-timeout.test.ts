// A device that goes dark with a step in flight does not hold its throttle slot for ever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let clock = Date.parse('2026-11-22T08:00:00Z');

beforeAll(async () => {
  db = await createTestDatabase();
  // One step in flight per cell; the fixture's steps time out after 3600 s.
  repo = await createFleetRepo(fixtureFleet({ maxInFlightPerCell: 1 }));
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir, now: () => new Date(clock) });
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

describe('step timeout', () => {
  it('frees the slot of a silent device, counts the step failed, and lets the next device start', async () => {
    const dark = await registerDevice(server.url, { id: 'dark' });
    const next = await registerDevice(server.url, { id: 'next' });
    const old = checkInBody({ mcu: '1.0.0', ble: '1.0.0' });
    expect((await checkIn(server.url, 'dark', dark, old)).body.firmware).not.toBeNull();
    expect((await checkIn(server.url, 'next', next, old)).body.firmware).toBeNull();

    clock += 30 * 60 * 1000;
    expect(await server.engine.expireSteps(new Date(clock))).toBe(0);

    clock += 31 * 60 * 1000;
    expect(await server.engine.expireSteps(new Date(clock))).toBe(1);
    expect((await server.engine.store.slots.inFlightCounts('tr-upgrade')).total).toBe(0);
    const view = await request<{ status: string; firmware: { phase: string; history: { type: string }[] } }>(`${server.url}/v1/devices/dark`, { token: ADMIN_TOKEN });
    expect(view.body.status).toBe('retrying');
    expect(view.body.firmware.phase).toBe('retrying');
    expect(view.body.firmware.history[0]?.type).toBe('step-timed-out');
    // The failure is in the wave's progress (read back from the database).
    await server.engine.checkIns.refreshRolloutRuntimes();
    const rollout = await request<{ waves: { failed: number }[] }>(`${server.url}/v1/rollouts/tr-upgrade`, { token: ADMIN_TOKEN });
    expect(rollout.body.waves[0]?.failed).toBe(1);

    expect((await checkIn(server.url, 'next', next, old)).body.firmware).not.toBeNull();
    // The dark device comes back: its step already ended, so nothing is released twice.
    await checkIn(server.url, 'dark', dark, old);
    expect((await server.engine.store.slots.inFlightCounts('tr-upgrade')).total).toBe(1);
    expect(await server.engine.expireSteps(new Date(clock))).toBe(0);
  });

  it('ends a step of a rollout since removed from git, under the default 6 h timeout, releasing its slot', async () => {
    // 'next' holds the one slot from the test above; the rollout that issued it leaves the repository.
    expect((await server.engine.store.slots.inFlightCounts('tr-upgrade')).total).toBe(1);
    const sha = await repo.commit({ 'firmware-manifests/tr-rollout.yaml': null }, 'Drop the tracker rollout');
    await eventually(() => server.engine.revisions.current?.sha === sha);

    // Past the removed rollout's own 3600 s, but the declared timeout went with it.
    clock += 2 * 3600 * 1000;
    expect(await server.engine.expireSteps(new Date(clock))).toBe(0);
    clock += 5 * 3600 * 1000;
    expect(await server.engine.expireSteps(new Date(clock))).toBe(1);
    expect((await server.engine.store.slots.inFlightCounts('tr-upgrade')).total).toBe(0);
    const view = await request<{ status: string; firmware: { history: { type: string }[] } }>(`${server.url}/v1/devices/next`, { token: ADMIN_TOKEN });
    expect(view.body.status).toBe('retrying');
    expect(view.body.firmware.history[0]?.type).toBe('step-timed-out');
  });
});
