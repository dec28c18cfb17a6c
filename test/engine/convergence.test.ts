// A device's life against a running engine: real PostgreSQL, a real git repository, HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckInAnswer } from '../../engine/model/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  // A fixed random: the jitter is the same at every check-in, so answers can be compared byte for byte.
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir, random: () => 0.5 });
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

async function deviceView(id: string): Promise<{ status: string; firmware: { history: { type: string; component: string | null; to: string | null }[] } }> {
  const result = await request<{ status: string; firmware: { history: { type: string; component: string | null; to: string | null }[] } }>(
    `${server.url}/v1/devices/${id}`,
    { token: ADMIN_TOKEN },
  );
  expect(result.status).toBe(200);
  return result.body;
}

describe('a device converges step by step', () => {
  let token: string;
  let configHash: string;

  it('registers and, at its first check-in, gets its config and the first firmware step', async () => {
    token = await registerDevice(server.url, { id: 'trk-1' });
    const first = await checkIn(server.url, 'trk-1', token, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }));
    expect(first.status).toBe(200);
    expect(first.body.revision).toBe(repo.head());
    // Site config overrides the profile default.
    expect(first.body.config).toMatchObject({ reportIntervalSeconds: 900, gps: { mode: 'on-movement' } });
    expect(first.body.firmware).toMatchObject({ component: 'mcu', version: '1.1.0', remainingSteps: 1 });
    configHash = first.body.configHash;
    expect((await deviceView('trk-1')).status).toBe('upgrading');
  });

  it('reports the step done and gets the next one, without the config it already runs', async () => {
    const second = await checkIn(server.url, 'trk-1', token, checkInBody({ mcu: '1.1.0', ble: '1.0.0' }, { configHash }));
    expect(second.status).toBe(200);
    expect(second.body.config).toBeUndefined();
    expect(second.body.firmware).toMatchObject({ component: 'ble', version: '2.0.0', remainingSteps: 0 });
  });

  it('reports the last step done and is converged', async () => {
    const third = await checkIn(server.url, 'trk-1', token, checkInBody({ mcu: '1.1.0', ble: '2.0.0' }, { configHash }));
    expect(third.status).toBe(200);
    expect(third.body.firmware).toBeNull();
    const view = await deviceView('trk-1');
    expect(view.status).toBe('converged');
    const steps = view.firmware.history.filter((e) => e.type === 'step-issued' || e.type === 'step-succeeded');
    expect(steps.map((e) => `${e.type}:${e.component}@${e.to}`).reverse()).toEqual([
      'step-issued:mcu@1.1.0',
      'step-succeeded:mcu@1.1.0',
      'step-issued:ble@2.0.0',
      'step-succeeded:ble@2.0.0',
    ]);
  });

  it('follows a commit that moves the rollout target', async () => {
    const sha = await repo.commit({ 'firmware-manifests/tr-rollout.yaml': rolloutYaml({ target: 'app-4' }) }, 'Roll out app-4');
    await eventually(() => server.engine.revisions.current?.sha === sha);
    const next = await checkIn(server.url, 'trk-1', token, checkInBody({ mcu: '1.1.0', ble: '2.0.0' }, { configHash }));
    expect(next.body.revision).toBe(sha);
    expect(next.body.firmware).toMatchObject({ component: 'mcu', version: '1.2.0' });
    const revisions = await request<{ revisions: { sha: string; status: string; message: string }[] }>(`${server.url}/v1/revisions`, { token: ADMIN_TOKEN });
    expect(revisions.body.revisions[0]).toMatchObject({ sha, status: 'applied', message: 'Roll out app-4' });
    // Finish the step so the device is settled for the next test.
    const done = await checkIn(server.url, 'trk-1', token, checkInBody({ mcu: '1.2.0', ble: '2.0.0' }, { configHash }));
    expect(done.body.firmware).toBeNull();
  });

  it('rejects a commit with invalid YAML and keeps answering exactly as before', async () => {
    const body = checkInBody({ mcu: '1.2.0', ble: '2.0.0' }, { configHash });
    const before = await checkIn(server.url, 'trk-1', token, body);
    const applied = server.engine.revisions.current?.sha;
    const bad = await repo.commit({ 'fleet-config/sites/plant-1.yaml': 'apiVersion: fleetform/v1\nkind: Site\nmetadata: [unclosed\n' }, 'Broken site');
    const rejected = await eventually(async () => {
      const result = await request<{ status: string; issues: { code: string; file: string; line: number }[] }>(`${server.url}/v1/revisions/${bad}`, {
        token: ADMIN_TOKEN,
      });
      return result.status === 200 ? result.body : null;
    });
    expect(rejected.status).toBe('rejected');
    expect(rejected.issues.length).toBeGreaterThan(0);
    expect(rejected.issues[0]?.file).toBe('fleet-config/sites/plant-1.yaml');
    expect(server.engine.revisions.current?.sha).toBe(applied);
    const after = await checkIn(server.url, 'trk-1', token, body);
    expect(after.status).toBe(200);
    expect(after.text).toBe(before.text);
    expect((JSON.parse(after.text) as CheckInAnswer).revision).toBe(applied);
  });

  it('records every check-in it answered', async () => {
    // 3 to converge, 2 after the target moved, 2 around the rejected commit.
    expect(await server.engine.store.checkIns.count('trk-1')).toBe(7);
  });
});
