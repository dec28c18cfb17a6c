// Two engine processes on one database share a job: batches are leased with SKIP LOCKED, so
// each is worked by one of them, and together they do every task exactly once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCarrier, startCarrierStub, type CarrierStub } from '../../engine/service/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { generateLogs } from './logs.ts';

let db: TestDatabase;
let repo: FleetRepo;
let carrier: CarrierStub;
let engines: TestEngine[] = [];
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  carrier = await startCarrierStub();
  const options = {
    databaseUrl: db.url,
    repoDir: repo.dir,
    provisioning: { workers: 2, pollMs: 20, carrier: new HttpCarrier({ url: carrier.url, rateLimit: { perSecond: 100_000, burst: 1000 }, maxBatch: 100 }) },
  };
  // One after the other: the first runs the migrations.
  engines.push(await startTestEngine(options));
  engines.push(await startTestEngine(options));
  for (const e of engines) await eventually(() => e.engine.revisions.current);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  for (const e of engines) await e.close();
  engines = [];
  await carrier?.close();
  await db?.drop();
  await repo?.remove();
});

describe('a job shared by two engine processes', () => {
  it('completes with every device registered once and every task done once', async () => {
    const logs = generateLogs(2000, 0);
    // Created through one engine, followed through the other.
    const created = await request<{ id: string }>(`${engines[0]!.url}/v1/provisioning/jobs`, {
      token: ADMIN_TOKEN,
      body: { manufacturing: { content: logs.manufacturing }, shipments: { content: logs.shipments }, batchSize: 50 },
    });
    expect(created.status).toBe(201);
    const done = await eventually(async () => {
      const view = await request<{ status: string; rows: { done: number; failed: number } }>(`${engines[1]!.url}/v1/provisioning/jobs/${created.body.id}`, { token: ADMIN_TOKEN });
      return view.body.status === 'completed' ? view.body : null;
    }, 60_000);
    expect(done.rows).toMatchObject({ done: 2000, failed: 0 });
    expect(Number((await sql.query(`select count(*) from device`)).rows[0].count)).toBe(2000);
    const ledger = (await sql.query<{ tasks: Record<string, { status: string; attempts: number }> }>(`select tasks from provisioning_device`)).rows;
    expect(ledger.length).toBe(2000);
    for (const { tasks } of ledger) {
      for (const task of ['register', 'credentials', 'site', 'activate', 'ready']) expect(tasks[task]).toMatchObject({ status: 'done', attempts: 1 });
    }
    expect(carrier.activated.size).toBe(2000);
    expect([...carrier.requests.values()].every((n) => n === 1)).toBe(true);
    // One sealed token per device, across both engines' credential batches.
    expect(Number((await sql.query(`select sum(devices) as n from provisioning_credentials`)).rows[0].n)).toBe(2000);
  });
});
