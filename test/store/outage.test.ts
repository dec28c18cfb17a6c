// The database goes away: store calls fail fast with `database-unavailable`, and work again when it returns.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_FIRMWARE_STATE } from '../../engine/model/index.ts';
import { DatabaseUnavailableError, FleetStore, startEmbeddedPostgres, type RunningPostgres } from '../../engine/store/index.ts';

let dir: string;
let server: RunningPostgres;
let store: FleetStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetform-outage-'));
  await chmod(dir, 0o755);
  server = await startEmbeddedPostgres({ dir: join(dir, 'pg') });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('create database outage');
  await admin.end();
  const url = new URL(server.url);
  url.pathname = '/outage';
  store = await FleetStore.open({ url: url.toString() });
  await store.devices.register({ id: 'd-1', tenant: 't', profile: 'p', site: 's', labels: {}, tokenHash: 'ab'.repeat(32), firmwareState: INITIAL_FIRMWARE_STATE });
});

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('database outage', () => {
  it('fails with database-unavailable while the server is down, and recovers by itself', async () => {
    expect(await store.checkIns.loadContext('d-1')).not.toBeNull();
    await server.stop();
    const failure = await store.checkIns.loadContext('d-1').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect((failure as DatabaseUnavailableError).code).toBe('database-unavailable');
    server = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: server.port });
    let context = null;
    for (let attempt = 0; attempt < 50 && !context; attempt++) {
      context = await store.checkIns.loadContext('d-1').catch(() => null);
      if (!context) await new Promise((r) => setTimeout(r, 100));
    }
    expect(context?.id).toBe('d-1');
  });
});
