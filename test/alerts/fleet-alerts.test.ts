// The sweep: devices past their deadline go offline (read from the index), a site whose share of
// silent devices crosses the threshold gets exactly one fleet alert, and it resolves after the
// hold-down once the devices are back. Cohort analysis groups the devices that went dark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { alertFleet, CONVERGED, alertEngineOptions, TestClock } from './support.ts';

interface AlertView {
  id: string;
  rule: string;
  scope: string;
  status: string;
  site: string | null;
  tenant: string | null;
  deviceId: string | null;
  summary: string;
  details: { affected?: number; total?: number };
}

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
const clock = new TestClock(new Date('2026-11-22T08:00:00Z'));
const t0 = clock.now().getTime();
const at = (minutes: number): Date => new Date(t0 + minutes * 60_000);
const tokens = new Map<string, string>();
const lot = Array.from({ length: 10 }, (_, i) => `lot7-${String(i).padStart(2, '0')}`);
const silent = lot.slice(0, 3);
const talking = lot.slice(3);
// 2^32 ms of uptime is about 49.7 days: the silent ones all died near it.
const NEAR_OVERFLOW_MS = 4_294_000_000;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(alertFleet('http://127.0.0.1:9'));
  server = await startTestEngine(alertEngineOptions(db.url, repo.dir, clock));
  await eventually(() => server.engine.revisions.current);
  for (const id of lot) tokens.set(id, await registerDevice(server.url, { id, site: 'lot-7' }));
  // A small site: two devices, one silent, is 50 % but below minDevices.
  tokens.set('p1-a', await registerDevice(server.url, { id: 'p1-a', site: 'plant-1' }));
  tokens.set('p1-b', await registerDevice(server.url, { id: 'p1-b', site: 'plant-1' }));
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

async function report(ids: readonly string[], uptimeMs?: number): Promise<void> {
  for (const id of ids) {
    const result = await checkIn(server.url, id, tokens.get(id)!, checkInBody(CONVERGED, {}, uptimeMs === undefined ? {} : { uptimeMs }));
    expect(result.status).toBe(200);
  }
  await server.engine.alerts.idle();
}

async function alerts(query: string): Promise<AlertView[]> {
  const result = await request<{ alerts: AlertView[] }>(`${server.url}/v1/alerts?${query}`, { token: ADMIN_TOKEN });
  expect(result.status).toBe(200);
  return result.body.alerts;
}

describe('a site going dark', () => {
  it('30 % of one site’s devices going silent opens exactly one site-level alert', async () => {
    clock.set(at(0));
    await report(silent, NEAR_OVERFLOW_MS);
    await report([...talking, 'p1-a', 'p1-b'], 86_400_000);
    clock.set(at(20));
    await report([...talking, 'p1-a']);

    // Nobody is past the deadline yet (three missed 10-minute check-ins).
    await server.engine.alerts.sweep(at(25));
    expect(await alerts('rule=widespread-comms-failure')).toEqual([]);

    const swept = await server.engine.alerts.sweep(at(40));
    expect(swept.markedOffline).toBe(4); // the three of lot-7 and p1-b
    const fleet = await alerts('rule=widespread-comms-failure');
    expect(fleet).toHaveLength(1);
    expect(fleet[0]).toMatchObject({ scope: 'fleet', status: 'open', site: 'lot-7', tenant: 'acme', deviceId: null });
    expect(fleet[0]!.details).toMatchObject({ affected: 3, total: 10 });
    expect(fleet[0]!.summary).toContain('3 of 10');

    // Each silent device also has its own device-offline alert, opened by the sweep.
    const offline = await alerts('rule=device-offline&status=open');
    expect(offline.map((a) => a.deviceId).sort()).toEqual([...silent, 'p1-b'].sort());
  });

  it('a later sweep does not duplicate it', async () => {
    await server.engine.alerts.sweep(at(42));
    await server.engine.alerts.sweep(at(44));
    expect(await alerts('rule=widespread-comms-failure')).toHaveLength(1);
    expect(await alerts('rule=device-offline')).toHaveLength(4);
  });

  it('the offline analysis groups the devices that went dark', async () => {
    clock.set(at(45));
    const bySite = await request<{ devices: number; cohorts: { key: string; count: number; deviceIds: string[] }[] }>(`${server.url}/v1/analysis/offline?by=site`, { token: ADMIN_TOKEN });
    expect(bySite.status).toBe(200);
    expect(bySite.body.devices).toBe(4);
    expect(bySite.body.cohorts[0]).toMatchObject({ key: 'lot-7', count: 3, deviceIds: silent });
    const byUptime = await request<{ cohorts: { key: string; count: number; marker?: string }[] }>(`${server.url}/v1/analysis/offline?by=uptime`, { token: ADMIN_TOKEN });
    expect(byUptime.body.cohorts[0]).toMatchObject({ key: '49', count: 3, marker: 'uint32-ms-overflow' });
    const bad = await request<{ error: { field: string } }>(`${server.url}/v1/analysis/offline?by=colour`, { token: ADMIN_TOKEN });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('/by');
    for (const [query, field] of [['windowHours=abc', '/windowHours'], ['windowHours=0', '/windowHours'], ['windowHours=99999999', '/windowHours']] as const) {
      const refused = await request<{ error: { field: string } }>(`${server.url}/v1/analysis/offline?by=site&${query}`, { token: ADMIN_TOKEN });
      expect(refused.status, query).toBe(400);
      expect(refused.body.error.field, query).toBe(field);
    }
    for (const [query, field] of [['limit=ten', '/limit'], ['offset=-1', '/offset']] as const) {
      const refused = await request<{ error: { field: string } }>(`${server.url}/v1/alerts?${query}`, { token: ADMIN_TOKEN });
      expect(refused.status, query).toBe(400);
      expect(refused.body.error.field, query).toBe(field);
    }
  });

  it('when the devices are back, the site alert resolves after its hold-down, and so do the device alerts', async () => {
    clock.set(at(46));
    await report([...lot, 'p1-a', 'p1-b']);
    // The device-offline rule has no hold-down: the first check-in back resolves it.
    expect(await alerts('rule=device-offline&status=active')).toEqual([]);

    await server.engine.alerts.sweep(at(47));
    expect((await alerts('rule=widespread-comms-failure'))[0]!.status).toBe('open');
    await server.engine.alerts.sweep(at(52));
    expect((await alerts('rule=widespread-comms-failure'))[0]!.status).toBe('open');
    await server.engine.alerts.sweep(at(57));
    const resolved = await alerts('rule=widespread-comms-failure');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.status).toBe('resolved');
  });
});
