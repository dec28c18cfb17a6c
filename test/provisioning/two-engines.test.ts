// Two engine processes — the real `fleetform serve --carrier FILE`, one database — share a job
// and one carrier rate limit: batches are leased with SKIP LOCKED, so each is worked by one of
// them; the carrier's limit is one bucket in PostgreSQL, so together they stay within it. The
// local carrier enforces its own limit as a real one does (429 past it): with a limit per
// process, two processes would send twice the rate and be throttled.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../engine/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, request } from '../support/engine.ts';
import { startCarrierStub, type CarrierStub } from '../support/carrier.ts';
import { generateLogs } from './logs.ts';

const BIN = resolve(import.meta.dirname, '../../bin/fleetform.mjs');
const EXAMPLE = resolve(import.meta.dirname, '../../docs/examples/carrier-control-center.yaml');
const API_KEY = 'cc-two-engines-key';
const RATE = 10;
const SIMS = 150;

interface Engine {
  url: string;
  process: ChildProcess;
  output: string[];
}

let db: TestDatabase;
let repo: FleetRepo;
let carrier: CarrierStub;
let dir: string;
let sql: pg.Client;
const engines: Engine[] = [];

async function startEngine(carrierFile: string): Promise<Engine> {
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  Object.assign(env, {
    DATABASE_URL: db.url,
    FLEETFORM_ADMIN_TOKEN: ADMIN_TOKEN,
    FLEETFORM_HOST: '127.0.0.1',
    FLEETFORM_LOG_LEVEL: 'warn',
    FLEETFORM_SECRET_CARRIER_API_KEY: API_KEY,
  });
  const child = spawn(process.execPath, [BIN, 'serve', '--repo', repo.dir, '--port', String(port), '--carrier', carrierFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const engine: Engine = { url: `http://127.0.0.1:${port}`, process: child, output: [] };
  child.stdout?.on('data', (chunk: Buffer) => engine.output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => engine.output.push(chunk.toString()));
  engines.push(engine);
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`engine exited ${child.exitCode}: ${engine.output.join('')}`);
    const ready = await fetch(`${engine.url}/readyz`).catch(() => null);
    return ready?.status === 200 ? true : null;
  }, 90_000);
  return engine;
}

async function stopEngine(engine: Engine): Promise<void> {
  if (engine.process.exitCode !== null) return;
  const exited = new Promise((done) => engine.process.once('exit', done));
  engine.process.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  dir = await mkdtemp(join(tmpdir(), 'fleetform-two-engines-'));
  // The carrier allows RATE/s with two seconds of burst, for the jitter between the engines' clock and its own.
  carrier = await startCarrierStub({ shape: 'control-center', basicAuth: `fleetform-provisioning:${API_KEY}`, rateLimit: { perSecond: RATE, burst: 2 * RATE } });
  // The worked example, pointed at the local carrier, with its rate declared for all engines together.
  const file = join(dir, 'carrier.yaml');
  const example = await readFile(EXAMPLE, 'utf8');
  await writeFile(
    file,
    example
      .replace('https://controlcenter.example.com', carrier.url)
      .replace(/perSecond: \d+/, `perSecond: ${RATE}`)
      .replace(/baseDelayMs: \d+/, 'baseDelayMs: 200'),
  );
  // One after the other: the first runs the migrations.
  await startEngine(file);
  await startEngine(file);
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 180_000);

afterAll(async () => {
  await sql?.end();
  await Promise.all(engines.map(stopEngine));
  await carrier?.close();
  await db?.drop();
  await repo?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a job shared by two engine processes with a configured carrier', () => {
  it('activates every SIM exactly once, within the carrier’s rate limit, and does every task once', async () => {
    const logs = generateLogs(SIMS, 0);
    // Created through one engine, followed through the other.
    const created = await request<{ id: string }>(`${engines[0]!.url}/v1/provisioning/jobs`, {
      token: ADMIN_TOKEN,
      body: { manufacturing: { content: logs.manufacturing }, shipments: { content: logs.shipments }, batchSize: 25 },
    });
    expect(created.status, created.text).toBe(201);
    const done = await eventually(async () => {
      const view = await request<{ status: string; carrier: string; rows: { done: number; failed: number } }>(`${engines[1]!.url}/v1/provisioning/jobs/${created.body.id}`, { token: ADMIN_TOKEN });
      return view.body.status === 'completed' ? view.body : null;
    }, 120_000);
    expect(done).toMatchObject({ carrier: 'control-center', rows: { done: SIMS, failed: 0 } });

    // The carrier saw each SIM activated once, and never had to throttle the two engines.
    expect(carrier.activations.size).toBe(SIMS);
    expect([...carrier.activations.values()].every((n) => n === 1)).toBe(true);
    expect(carrier.throttled).toBe(0);
    expect(carrier.unauthorized).toBe(0);
    expect(Number((await sql.query(`select count(*) from device`)).rows[0].count)).toBe(SIMS);
    const ledger = (await sql.query<{ tasks: Record<string, { status: string; attempts: number }> }>(`select tasks from provisioning_device`)).rows;
    expect(ledger.length).toBe(SIMS);
    for (const { tasks } of ledger) {
      for (const task of ['register', 'credentials', 'site', 'activate', 'ready']) expect(tasks[task]).toMatchObject({ status: 'done', attempts: 1 });
    }
    // One sealed token per device, across both engines' credential batches.
    expect(Number((await sql.query(`select sum(devices) as n from provisioning_credentials`)).rows[0].n)).toBe(SIMS);
  });
});
