// The project's example fleet, served as `fleetform serve` would: encrypted Wi-Fi reaches the
// device of that site only, and never an operator.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createExampleFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

const project = join(import.meta.dirname, '..', '..');
let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createExampleFleetRepo(project);
  server = await startTestEngine({
    databaseUrl: db.url,
    repoDir: repo.dir,
    compile: { identity: await readFile(join(project, 'demo', 'age-identity.txt'), 'utf8') },
  });
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

describe('the example fleet', () => {
  it('is applied', async () => {
    const active = await eventually(() => server.engine.revisions.current);
    expect(active.sha).toBe(repo.head());
    const revision = await request<{ status: string }>(`${server.url}/v1/revisions/${active.sha}`, { token: ADMIN_TOKEN });
    expect(revision.body.status).toBe('applied');
  });

  it('gives a Denver tracker the Denver Wi-Fi password, and the operator view only a hash', async () => {
    const token = await registerDevice(server.url, { id: 'car-1', profile: 'locator', site: 'northstar-denver', labels: { usage: 'inventory' } });
    const answer = await checkIn(server.url, 'car-1', token, checkInBody({ mcu: '2.0.0', ble: '1.2.0', lte: '5.0.0' }));
    expect(answer.status).toBe(200);
    const wifi = (answer.body.config as { wifi?: { ssid: string; password?: string }[] }).wifi ?? [];
    const lot = wifi.find((network) => network.ssid === 'Northstar-Lot');
    expect(typeof lot?.password).toBe('string');
    expect(lot?.password).not.toContain('AGE ENCRYPTED');
    const view = await request(`${server.url}/v1/devices/car-1`, { token: ADMIN_TOKEN });
    expect(view.status).toBe(200);
    expect(view.text).not.toContain(lot?.password ?? '<none>');
  });

  it('does not give a Chicago tracker the Denver networks', async () => {
    const token = await registerDevice(server.url, { id: 'car-2', profile: 'locator', site: 'lakeside-chicago' });
    const answer = await checkIn(server.url, 'car-2', token, checkInBody({ mcu: '2.0.0', ble: '1.2.0', lte: '5.0.0' }));
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body.config)).not.toContain('Northstar');
  });

  it('without the age identity, a device whose config needs a secret is told to retry later, and nothing is stored', async () => {
    const blind = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
    try {
      await eventually(() => blind.engine.revisions.current);
      const token = await registerDevice(blind.url, { id: 'car-3', profile: 'locator', site: 'northstar-denver' });
      const answer = await request<{ error: { code: string } }>(`${blind.url}/v1/devices/car-3/check-in`, {
        token,
        body: checkInBody({ mcu: '2.0.0', ble: '1.2.0', lte: '5.0.0' }),
      });
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('secret-unavailable');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await blind.engine.store.checkIns.count('car-3')).toBe(0);
    } finally {
      await blind.close();
    }
  });
});
