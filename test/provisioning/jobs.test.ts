// Provisioning jobs end to end against a real PostgreSQL and a real engine: bad rows fail alone
// with their reasons; credentials leave the server once, sealed, and only hashes stay; a
// re-import changes nothing.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredentials, type SealedCredentials } from '../../engine/provisioning/index.ts';
import { hashToken } from '../../engine/service/index.ts';
import { startCarrierStub, HttpCarrier, type CarrierStub } from '../../engine/service/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { generateLogs, type GeneratedLogs } from './logs.ts';

interface JobView {
  id: string;
  status: string;
  rows: { total: number; pending: number; done: number; failed: number };
  tasks: Record<string, Record<string, number>>;
  credentialsWaiting: number;
  failures: { log: string; row: number; line: number; deviceId: string | null; task: string | null; code: string | null; reason: string | null }[];
  credentialsPrivateKey?: string;
}

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let carrier: CarrierStub;
let sql: pg.Client;
let logs: GeneratedLogs;
let first: JobView;
/** Tokens as the factory received them. */
let issued = new Map<string, string>();

async function createJob(body: object): Promise<JobView> {
  const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body });
  expect(created.status, created.text).toBe(201);
  return created.body;
}

async function finished(id: string): Promise<JobView> {
  return eventually(async () => {
    const view = await request<JobView>(`${server.url}/v1/provisioning/jobs/${id}?failuresLimit=1000`, { token: ADMIN_TOKEN });
    return view.body.status === 'completed' ? view.body : null;
  }, 60_000);
}

async function downloadCredentials(id: string, privateKey: string): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (;;) {
    const page = await request<{ batches: { id: string; sealed: SealedCredentials }[] }>(`${server.url}/v1/provisioning/jobs/${id}/credentials`, { token: ADMIN_TOKEN });
    if (page.body.batches.length === 0) return tokens;
    for (const batch of page.body.batches) {
      for (const credential of openCredentials(batch.sealed, privateKey)) {
        expect(tokens.has(credential.deviceId)).toBe(false);
        tokens.set(credential.deviceId, credential.token);
      }
    }
    const ack = await request(`${server.url}/v1/provisioning/jobs/${id}/credentials/ack`, { token: ADMIN_TOKEN, body: { ids: page.body.batches.map((b) => b.id) } });
    expect(ack.status).toBe(200);
  }
}

async function deviceRows(): Promise<Record<string, unknown>[]> {
  return (await sql.query(`select id, tenant, profile, site, labels, token_hash, token_rotated_at, registered_at, reported_firmware from device order by id`)).rows;
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  carrier = await startCarrierStub();
  server = await startTestEngine({
    databaseUrl: db.url,
    repoDir: repo.dir,
    provisioning: { workers: 2, pollMs: 50, carrier: new HttpCarrier({ url: carrier.url, rateLimit: { perSecond: 100_000, burst: 1000 }, maxBatch: 500 }) },
  });
  await eventually(() => server.engine.revisions.current);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  logs = generateLogs(5000, 20);
  const created = await createJob({ manufacturing: { format: 'csv', content: logs.manufacturing }, shipments: { format: 'csv', content: logs.shipments } });
  first = { ...(await finished(created.id)), credentialsPrivateKey: created.credentialsPrivateKey! };
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await server?.close();
  await carrier?.close();
  await db?.drop();
  await repo?.remove();
});

describe('a 5,000-row import with 20 bad rows', () => {
  it('fails exactly the 20 bad rows, each with its row number and reason', () => {
    expect(first.rows).toEqual({ total: 5000, pending: 0, done: 4980, failed: 20 });
    const failed = first.failures.filter((f) => f.log === 'manufacturing');
    expect(failed.map((f) => f.row).sort((a, b) => a - b)).toEqual([...logs.bad.keys()].sort((a, b) => a - b));
    for (const failure of failed) {
      expect(failure.code).toBe(logs.bad.get(failure.row));
      expect(failure.task).toBe('validate');
      expect(failure.reason).toBeTruthy();
      // Data row N is line N + 1 under the header.
      expect(failure.line).toBe(failure.row + 1);
    }
    const duplicate = failed.find((f) => f.code === 'duplicate-id');
    expect(duplicate?.reason).toContain('row 1');
  });

  it('registers every good device once, with its profile, shipment site, tenant, labels and flashed firmware', async () => {
    const rows = await deviceRows();
    expect(rows.map((r) => r.id)).toEqual([...logs.goodIds].sort());
    const tenth = rows.find((r) => r.id === 'TR-000010')!;
    expect(tenth).toMatchObject({ profile: 'tracker', site: 'depot-9', tenant: 'globex', reported_firmware: { mcu: '1.0.0', ble: '1.0.0' } });
    expect(tenth.labels).toMatchObject({ hardware: 'tr', imei: '350000000000010', iccid: '8901000000000000010', provisioning: 'ready' });
  });

  it('records every task of every good row as done, activating each SIM with one carrier call', () => {
    for (const task of ['register', 'credentials', 'site', 'activate', 'ready']) expect(first.tasks[task]).toEqual({ done: 4980 });
    expect(first.tasks.validate).toEqual({ done: 4980, failed: 20 });
    expect(carrier.activated.size).toBe(4980);
    expect([...carrier.requests.values()].every((n) => n === 1)).toBe(true);
  });

  it('hands each device token out once, sealed, and keeps only its hash', async () => {
    expect(first.credentialsWaiting).toBe(4980);
    const tokens = await downloadCredentials(first.id, first.credentialsPrivateKey!);
    issued = tokens;
    expect(tokens.size).toBe(4980);
    const hashes = new Map((await deviceRows()).map((r) => [r.id as string, r.token_hash as string]));
    for (const [id, token] of tokens) expect(hashes.get(id)).toBe(hashToken(token));
    // The credentials table held no plaintext and is now empty: a second download gets nothing.
    expect((await downloadCredentials(first.id, first.credentialsPrivateKey!)).size).toBe(0);
    const again = await request<JobView>(`${server.url}/v1/provisioning/jobs/${first.id}`, { token: ADMIN_TOKEN });
    expect(again.body.credentialsWaiting).toBe(0);
  });

  it('a provisioned device checks in with the token the factory received', async () => {
    const token = issued.get('TR-000002');
    expect(token).toBeDefined();
    const body = { reported: { firmware: { mcu: '1.0.0', ble: '1.0.0' }, configHash: null }, telemetry: { time: '2026-11-22T08:00:00Z', battery: 90 } };
    const answer = await request(`${server.url}/v1/devices/TR-000002/check-in`, { token: token!, body });
    expect(answer.status, answer.text).toBe(200);
    const wrong = await request(`${server.url}/v1/devices/TR-000002/check-in`, { token: issued.get('TR-000003')!, body });
    expect(wrong.status).toBe(401);
  });
});

describe('re-importing the same file', () => {
  it('changes nothing: no device, token, label or carrier call differs, and no credentials are issued', async () => {
    const before = await deviceRows();
    const callsBefore = carrier.calls;
    const created = await createJob({ manufacturing: { format: 'csv', content: logs.manufacturing }, shipments: { format: 'csv', content: logs.shipments } });
    const second = await finished(created.id);
    expect(second.rows).toEqual({ total: 5000, pending: 0, done: 4980, failed: 20 });
    expect(await deviceRows()).toEqual(before);
    expect(carrier.calls).toBe(callsBefore);
    expect(second.credentialsWaiting).toBe(0);
  });
});

describe('job requests', () => {
  it('refuses a viewer', async () => {
    const viewer = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name: 'v', role: 'viewer', tenants: ['*'] } });
    const refused = await request(`${server.url}/v1/provisioning/jobs`, { token: viewer.body.token, body: { manufacturing: { content: 'id,hardware\n' } } });
    expect(refused.status).toBe(403);
  });

  it('refuses a credentials key that is not X25519, by code', async () => {
    const refused = await request<{ error: { code: string } }>(`${server.url}/v1/provisioning/jobs`, {
      token: ADMIN_TOKEN,
      body: { manufacturing: { content: 'id,hardware\n' }, credentialsPublicKey: 'bm90IGEga2V5' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid-credentials-key');
  });

  it('refuses a malformed failures page or credentials limit, naming the parameter', async () => {
    for (const [query, field] of [
      [`${first.id}?failuresLimit=lots`, '/failuresLimit'],
      [`${first.id}?failuresOffset=-3`, '/failuresOffset'],
      [`${first.id}/credentials?limit=0`, '/limit'],
    ] as const) {
      const refused = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/provisioning/jobs/${query}`, { token: ADMIN_TOKEN });
      expect(refused.status, query).toBe(400);
      expect(refused.body.error, query).toMatchObject({ code: 'invalid-request', field });
    }
  });

  it('fails rows outside the operator’s tenants alone', async () => {
    const acme = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name: 'acme-op', role: 'operator', tenants: ['acme'] } });
    const content = 'id,hardware,fw.mcu,fw.ble\nX-1,tr,1.0.0,1.0.0\nX-2,tr,1.0.0,1.0.0\n';
    const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, {
      token: acme.body.token,
      body: { manufacturing: { content }, shipments: { content: 'id,site\nX-1,plant-1\nX-2,depot-9\n' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.failures.map((f) => [f.row, f.code])).toEqual([[2, 'tenant-out-of-scope']]);
  });
});
