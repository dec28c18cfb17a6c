// The database goes away: check-ins get 503 with Retry-After and nothing is acknowledged;
// the engine recovers by itself when the database returns.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../engine/store/index.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let dir: string;
let postgres: RunningPostgres;
let repo: FleetRepo;
let server: TestEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetform-engine-outage-'));
  await chmod(dir, 0o755);
  postgres = await startEmbeddedPostgres({ dir: join(dir, 'pg') });
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('create database fleet');
  await admin.end();
  const url = new URL(postgres.url);
  url.pathname = '/fleet';
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: url.toString(), repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close().catch(() => undefined);
  await postgres?.stop();
  await repo?.remove();
  await rm(dir, { recursive: true, force: true });
});

describe('database outage', () => {
  it('answers 503 with Retry-After while the database is down, and serves again when it is back', async () => {
    const token = await registerDevice(server.url, { id: 'dark-1' });
    const body = checkInBody({ mcu: '1.1.0', ble: '2.0.0' });
    expect((await checkIn(server.url, 'dark-1', token, body)).status).toBe(200);

    await postgres.stop();
    const down = await request<{ error: { code: string } }>(`${server.url}/v1/devices/dark-1/check-in`, { token, body });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('database-unavailable');
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await request(`${server.url}/readyz`)).status).toBe(503);

    postgres = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: postgres.port });
    const back = await eventually(async () => {
      const result = await checkIn(server.url, 'dark-1', token, body);
      return result.status === 200 ? result : null;
    });
    expect(back.status).toBe(200);
    // The refused check-in was never stored: the two answered ones are.
    expect(await server.engine.store.checkIns.count('dark-1')).toBe(2);
  });
});
