// Provisioning jobs end to end against a real PostgreSQL and a real engine: bad rows fail alone
// with their reasons; credentials leave the server once, sealed with age (Debian's age opens
// them), and only hashes stay; a re-import changes nothing; logs upload as streams (gzip, `;`,
// quoted newlines, a BOM) with the rows' own line numbers.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCarrierConfig, parseCredentialsJsonLines } from '../../engine/provisioning/index.ts';
import { HttpCarrier, hashToken } from '../../engine/service/index.ts';
import { batchCarrierConfig, startCarrierStub, type CarrierStub } from '../support/carrier.ts';
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
  progress: { settled: number; total: number; rowsPerSecond: number | null; etaSeconds: number | null };
  credentialsIdentity?: string;
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

/** Opens each sealed batch with Debian's age, as a factory would. */
async function downloadCredentials(id: string, identity: string): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  const dir = await mkdtemp(join(tmpdir(), 'fleetform-credentials-'));
  await writeFile(join(dir, 'key.txt'), `${identity}\n`, { mode: 0o600 });
  try {
    for (;;) {
      const page = await request<{ batches: { id: string; sealed: string }[] }>(`${server.url}/v1/provisioning/jobs/${id}/credentials`, { token: ADMIN_TOKEN });
      if (page.body.batches.length === 0) return tokens;
      for (const batch of page.body.batches) {
        await writeFile(join(dir, `${batch.id}.age`), batch.sealed);
        const { stdout } = await promisify(execFile)('age', ['-d', '-i', join(dir, 'key.txt'), join(dir, `${batch.id}.age`)]);
        for (const credential of parseCredentialsJsonLines(stdout)) {
          expect(tokens.has(credential.deviceId)).toBe(false);
          tokens.set(credential.deviceId, credential.token);
        }
      }
      const ack = await request(`${server.url}/v1/provisioning/jobs/${id}/credentials/ack`, { token: ADMIN_TOKEN, body: { ids: page.body.batches.map((b) => b.id) } });
      expect(ack.status).toBe(200);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
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
    provisioning: { workers: 2, pollMs: 50, carrier: await HttpCarrier.create(parseCarrierConfig('carrier.json', batchCarrierConfig(carrier.url)), () => undefined) },
  });
  await eventually(() => server.engine.revisions.current);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  logs = generateLogs(5000, 20);
  const created = await createJob({ manufacturing: { format: 'csv', content: logs.manufacturing }, shipments: { format: 'csv', content: logs.shipments } });
  first = { ...(await finished(created.id)), credentialsIdentity: created.credentialsIdentity! };
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

  it('shows the figures a person watches: rows settled, rate and time left', () => {
    expect(first.progress).toMatchObject({ settled: 5000, total: 5000, etaSeconds: 0 });
    expect(first.progress.rowsPerSecond).toBeGreaterThan(0);
  });

  it('hands each device token out once, sealed with age, and keeps only its hash', async () => {
    expect(first.credentialsWaiting).toBe(4980);
    const tokens = await downloadCredentials(first.id, first.credentialsIdentity!);
    issued = tokens;
    expect(tokens.size).toBe(4980);
    const hashes = new Map((await deviceRows()).map((r) => [r.id as string, r.token_hash as string]));
    for (const [id, token] of tokens) expect(hashes.get(id)).toBe(hashToken(token));
    // The credentials table held no plaintext and is now empty: a second download gets nothing.
    expect((await downloadCredentials(first.id, first.credentialsIdentity!)).size).toBe(0);
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

  it('refuses credentials recipients that are not X25519 age recipients, by code and field', async () => {
    for (const body of [
      { manufacturing: { content: 'id,hardware\n' }, credentialsRecipients: ['age1pq1notsupported'] },
      { manufacturing: { content: 'id,hardware\n' }, credentialsPublicKey: 'bm90IGEga2V5' },
    ]) {
      const refused = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('invalid-credentials-key');
    }
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
    expect(created.body.failures.map((f) => [f.row, f.code])).toEqual([[2, 'unknown-site']]);
  });
});

describe('uploaded logs', () => {
  async function upload(log: string, bytes: Buffer, query = ''): Promise<{ status: number; body: { id: string; rows: number; failed: number; delimiter: string; error?: { code: string; message: string } } }> {
    const response = await fetch(`${server.url}/v1/provisioning/uploads?log=${log}${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    return { status: response.status, body: (await response.json()) as never };
  }

  it('reads a gzip, semicolon, BOM, quoted-newline factory export as it streams, and its bad rows fail alone with their own lines', async () => {
    const manufacturing = [
      '\ufeffid;hardware;notes;fw.mcu;fw.ble;iccid',
      'UP-1;tr;"line one',
      'line two; still notes";1.0.0;1.0.0;8903000001',
      'UP-2;tr;"unclosed;1.0.0;1.0.0;8903000002',
      'UP-3;tr;ok;1.0.0;1.0.0;8903000003',
      'UP-4;t\u0000r;nul;1.0.0;1.0.0;8903000004',
      'UP-5;tr;"a ""quoted"" word";1.0.0;1.0.0;8903000005',
      '',
    ].join('\r\n');
    const m = await upload('manufacturing', gzipSync(Buffer.from(manufacturing)));
    expect(m.status).toBe(201);
    expect(m.body).toMatchObject({ rows: 5, failed: 2, delimiter: ';' });
    const s = await upload('shipments', Buffer.from('id,site\nUP-1,plant-1\nUP-2,plant-1\nUP-3,plant-1\nUP-4,plant-1\nUP-5,plant-1\n'), '&format=csv');
    expect(s.body).toMatchObject({ rows: 5, failed: 0, delimiter: ',' });
    const created = await createJob({ manufacturing: { upload: m.body.id }, shipments: { upload: s.body.id } });
    const done = await finished(created.id);
    expect(done.rows).toEqual({ total: 5, pending: 0, done: 3, failed: 2 });
    expect(done.failures.map((f) => [f.row, f.line, f.code])).toEqual([
      [2, 4, 'malformed-row'],
      [4, 6, 'malformed-row'],
    ]);
    const labels = (await sql.query(`select id, labels->>'iccid' as iccid from device where id like 'UP-%' order by id`)).rows;
    expect(labels).toEqual([
      { id: 'UP-1', iccid: '8903000001' },
      { id: 'UP-3', iccid: '8903000003' },
      { id: 'UP-5', iccid: '8903000005' },
    ]);
    // An upload is read by one job and then gone.
    const again = await request<{ error: { code: string } }>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body: { manufacturing: { upload: m.body.id } } });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('unknown-upload');
  });

  it('refuses a file it cannot read at all, naming the line: UTF-16, a header without an id column', async () => {
    const utf16 = await upload('manufacturing', Buffer.from('\ufeffid,hardware\n', 'utf16le'));
    expect(utf16.status).toBe(400);
    expect(utf16.body.error).toMatchObject({ code: 'invalid-log' });
    expect(utf16.body.error?.message).toMatch(/line 1: the file is UTF-16/);
    const wrong = await upload('manufacturing', Buffer.from('serialnumber;model\nA;tr\n'), '&delimiter=,');
    expect(wrong.status).toBe(400);
    expect(wrong.body.error?.message).toMatch(/line 1: the header has no device id column/);
  });
});
