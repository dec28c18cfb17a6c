// A worker that dies mid-job leaves nothing half done: its stage's transaction never commits,
// its batch is taken over when the lease runs out, and the job completes with no duplicate
// device and no task done twice. Carrier trouble retries with backoff; refusals fail their row
// alone until retried.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredentials, parseCarrierConfig } from '../../engine/provisioning/index.ts';
import { HttpCarrier, hashToken } from '../../engine/service/index.ts';
import { batchCarrierConfig, startCarrierStub, type CarrierStub } from '../support/carrier.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { generateLogs } from './logs.ts';

interface JobView {
  id: string;
  status: string;
  rows: { total: number; pending: number; done: number; failed: number };
  failures: { row: number; deviceId: string | null; task: string | null; reason: string | null }[];
  credentialsIdentity?: string;
}

type Ledger = Record<string, { status: string; attempts: number }>;

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let carrier: CarrierStub;
let sql: pg.Client;
const refused = new Set<string>();

async function job(id: string): Promise<JobView> {
  return (await request<JobView>(`${server.url}/v1/provisioning/jobs/${id}?failuresLimit=1000`, { token: ADMIN_TOKEN })).body;
}

async function completed(id: string): Promise<JobView> {
  return eventually(async () => {
    const view = await job(id);
    return view.status === 'completed' ? view : null;
  }, 60_000);
}

async function ledger(prefix: string): Promise<Map<string, Ledger>> {
  const rows = (await sql.query<{ device_id: string; tasks: Ledger }>(`select device_id, tasks from provisioning_device where device_id like $1`, [`${prefix}%`])).rows;
  return new Map(rows.map((r) => [r.device_id, r.tasks]));
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  carrier = await startCarrierStub({
    // Devices whose number ends in 7 meet a busy carrier once.
    transientFailures: (id) => (id.startsWith('RT-') && id.endsWith('7') ? 1 : 0),
    rejects: (iccid) => refused.has(iccid),
  });
  server = await startTestEngine({
    databaseUrl: db.url,
    repoDir: repo.dir,
    provisioning: {
      workers: 0,
      leaseMs: 1500,
      pollMs: 50,
      carrier: await HttpCarrier.create(parseCarrierConfig('carrier.json', batchCarrierConfig(carrier.url, { maxSize: 100, maxAttempts: 3 })), () => undefined),
    },
  });
  await eventually(() => server.engine.revisions.current);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await server?.engine.provisioning.close();
  await sql?.end();
  await server?.close();
  await carrier?.close();
  await db?.drop();
  await repo?.remove();
});

describe('a worker killed mid-job', () => {
  it('resumes to completion with no duplicate device and no task run twice', async () => {
    const logs = generateLogs(1000, 0);
    const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, {
      token: ADMIN_TOKEN,
      body: { manufacturing: { content: logs.manufacturing }, shipments: { content: logs.shipments }, batchSize: 100 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    // Dies inside the fourth batch's credentials transaction, after its writes, before the commit.
    let credentialStages = 0;
    const doomed = server.engine.provisioning.startWorker({
      beforeCommit: (task) => {
        if (task === 'credentials' && ++credentialStages === 4) throw new Error('killed');
      },
    });
    expect(await doomed.finished).toEqual({ crashed: true });

    const midway = await job(id);
    expect(midway.status).toBe('running');
    expect(midway.rows.done).toBe(300);
    // The fourth batch's devices were registered (that stage committed) but got no token: the rolled-back stage left no credentials.
    expect(Number((await sql.query(`select count(*) from device where token_hash = 'unissued'`)).rows[0].count)).toBe(100);
    expect(Number((await sql.query(`select coalesce(sum(devices), 0) as n from provisioning_credentials`)).rows[0].n)).toBe(300);

    expect((await request(`${server.url}/v1/provisioning/jobs/${id}/resume`, { token: ADMIN_TOKEN, body: {} })).status).toBe(200);
    const workers = [server.engine.provisioning.startWorker(), server.engine.provisioning.startWorker()];
    const done = await completed(id);
    await Promise.all(workers.map((w) => w.stop()));

    expect(done.rows).toEqual({ total: 1000, pending: 0, done: 1000, failed: 0 });
    const devices = (await sql.query<{ id: string; token_hash: string }>(`select id, token_hash from device where id like 'TR-%'`)).rows;
    expect(devices.length).toBe(1000);
    // Every task of every device done exactly once.
    const tasks = await ledger('TR-');
    expect(tasks.size).toBe(1000);
    for (const [, states] of tasks) {
      for (const task of ['register', 'credentials', 'site', 'activate', 'ready']) expect(states[task]).toMatchObject({ status: 'done', attempts: 1 });
    }
    expect([...carrier.requests].filter(([device]) => device.startsWith('TR-')).every(([, n]) => n === 1)).toBe(true);

    // One token per device in the sealed output, matching the stored hash.
    const page = await request<{ batches: { sealed: string }[] }>(`${server.url}/v1/provisioning/jobs/${id}/credentials?limit=1000`, { token: ADMIN_TOKEN });
    const issued = (await Promise.all(page.body.batches.map((b) => openCredentials(b.sealed, [created.body.credentialsIdentity!])))).flat();
    expect(issued.length).toBe(1000);
    const hashes = new Map(devices.map((d) => [d.id, d.token_hash]));
    for (const credential of issued) expect(hashes.get(credential.deviceId)).toBe(hashToken(credential.token));
  });
});

describe('two overlapping imports of the same devices', () => {
  it('register each device once and do each task once, whichever job gets there first', async () => {
    const content = ['id,hardware,iccid,fw.mcu,fw.ble', ...Array.from({ length: 50 }, (_, i) => `OV-${i + 1},tr,8902${String(i + 1).padStart(6, '0')},1.0.0,1.0.0`)].join('\n');
    const body = { manufacturing: { content }, defaultSite: 'plant-1', batchSize: 50 };
    const a = await request<JobView>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body });
    // Job A's worker has read its batch (every task pending) and is held before registering…
    let reached!: () => void;
    let release!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    const slow = server.engine.provisioning.startWorker({
      beforeStage: async (task, lease) => {
        if (lease.jobId === a.body.id && task === 'register') {
          reached();
          await gate;
        }
      },
    });
    await atGate;
    // …while job B, the same file, is worked to the end by another worker.
    const b = await request<JobView>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body });
    const fast = server.engine.provisioning.startWorker();
    try {
      expect((await completed(b.body.id)).rows).toMatchObject({ done: 50, failed: 0 });
      release();
      expect((await completed(a.body.id)).rows).toMatchObject({ done: 50, failed: 0 });
    } finally {
      release();
      await Promise.all([slow.stop(), fast.stop()]);
    }
    const tasks = await ledger('OV-');
    expect(tasks.size).toBe(50);
    for (const [, states] of tasks) {
      for (const task of ['register', 'credentials', 'site', 'activate', 'ready']) expect(states[task]).toMatchObject({ status: 'done', attempts: 1 });
    }
    expect(Number((await sql.query(`select count(*) from device where id like 'OV-%'`)).rows[0].count)).toBe(50);
    expect([...carrier.requests].filter(([device]) => device.startsWith('OV-')).every(([, n]) => n === 1)).toBe(true);
  });
});

describe('carrier activation', () => {
  const content = ['id,hardware,iccid,fw.mcu,fw.ble', ...Array.from({ length: 60 }, (_, i) => `RT-${i + 1},tr,8901${String(i + 1).padStart(6, '0')},1.0.0,1.0.0`)].join('\n');

  it('retries a busy carrier with backoff, fails a refused SIM alone, and retry-failed finishes it without redoing the rest', async () => {
    for (const n of [5, 25, 45]) refused.add(`8901${String(n).padStart(6, '0')}`);
    const workers = [server.engine.provisioning.startWorker(), server.engine.provisioning.startWorker()];
    try {
      const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, { token: ADMIN_TOKEN, body: { manufacturing: { content }, defaultSite: 'plant-1', batchSize: 25 } });
      const first = await completed(created.body.id);
      expect(first.rows).toMatchObject({ done: 57, failed: 3 });
      expect(first.failures.map((f) => [f.deviceId, f.task])).toEqual([
        ['RT-5', 'activate'],
        ['RT-25', 'activate'],
        ['RT-45', 'activate'],
      ]);
      expect(first.failures[0]?.reason).toContain('not on this carrier');
      const busy = await ledger('RT-');
      expect(busy.get('RT-7')?.activate).toMatchObject({ status: 'done', attempts: 2 });
      expect(busy.get('RT-8')?.activate).toMatchObject({ status: 'done', attempts: 1 });
      // A failed activation holds back `ready`, nothing else.
      expect(busy.get('RT-5')).toMatchObject({ register: { status: 'done' }, credentials: { status: 'done' }, ready: { status: 'pending' } });

      refused.clear();
      const retried = await request<{ retried: number }>(`${server.url}/v1/provisioning/jobs/${created.body.id}/retry-failed`, { token: ADMIN_TOKEN, body: {} });
      expect(retried.body.retried).toBe(3);
      const second = await completed(created.body.id);
      expect(second.rows).toMatchObject({ done: 60, failed: 0 });
      const after = await ledger('RT-');
      expect(after.get('RT-5')).toMatchObject({ register: { attempts: 1 }, activate: { status: 'done', attempts: 1 }, ready: { status: 'done' } });
      expect(carrier.activated.has('RT-5')).toBe(true);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it('a stopped job hands out no batch until resumed', async () => {
    const created = await request<JobView>(`${server.url}/v1/provisioning/jobs`, {
      token: ADMIN_TOKEN,
      body: { manufacturing: { content: 'id,hardware,fw.mcu,fw.ble\nST-1,tr,1.0.0,1.0.0\n' }, defaultSite: 'plant-1' },
    });
    expect((await request(`${server.url}/v1/provisioning/jobs/${created.body.id}/stop`, { token: ADMIN_TOKEN, body: {} })).status).toBe(200);
    const worker = server.engine.provisioning.startWorker();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect((await job(created.body.id)).rows.pending).toBe(1);
      await request(`${server.url}/v1/provisioning/jobs/${created.body.id}/resume`, { token: ADMIN_TOKEN, body: {} });
      expect((await completed(created.body.id)).rows.done).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});
