// Check-in throughput: 100,000 registered devices, check-ins driven from a separate process
// (autocannon with per-request bodies) for 30 s, and a bare Koa hello-world as the ceiling.
//   npx tsx bench/checkin.ts [--devices 100000] [--duration 30] [--connections 64]
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { NewDevice } from '../engine/store/index.ts';

interface DriverResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
}

const deviceToken = (i: number): string => `ffd_bench_${i.toString(36)}_${'k'.repeat(32)}`;
const deviceId = (i: number): string => `bench-${i}`;

function checkInBody(i: number): string {
  // One device in ten still needs firmware steps; the rest run the target bundle.
  const firmware = i % 10 === 0 ? { mcu: '1.0.0', ble: '1.0.0' } : { mcu: '1.1.0', ble: '2.0.0' };
  return JSON.stringify({
    reported: { firmware, configHash: null },
    telemetry: {
      time: new Date().toISOString(),
      battery: 50 + (i % 50),
      uptimeMs: i * 1000,
      cell: { mcc: 310, mnc: 410, lac: 1 + (i % 7), cid: 11 + (i % 113) },
      gps: { lat: 40 + (i % 100) / 1000, lon: -105, accuracyM: 12 },
    },
  });
}

interface AutocannonRun {
  (options: {
    url: string;
    connections: number;
    duration: number;
    pipelining: number;
    requests: { method: string; setupRequest(request: { path?: string; body?: string; headers?: Record<string, string> }): object }[];
  }): Promise<{
    requests: { total: number; average: number };
    latency: { p50: number; p90: number; p99: number; max: number };
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
  }>;
}

// ── driver: runs in its own process ───────────────────────────────────────
async function driver(url: string, mode: 'checkin' | 'hello', devices: number, duration: number, connections: number): Promise<void> {
  // autocannon ships no types: the little used here is described by AutocannonRun.
  const specifier: string = 'autocannon';
  const { default: autocannon } = (await import(specifier)) as { default: AutocannonRun };
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        setupRequest: (request: { path?: string; body?: string; headers?: Record<string, string> }) => {
          if (mode === 'hello') return { ...request, path: '/', method: 'GET' };
          const i = next++ % devices;
          return {
            ...request,
            path: `/v1/devices/${deviceId(i)}/check-in`,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${deviceToken(i)}` },
            body: checkInBody(i),
          };
        },
      },
    ],
  });
  const out: DriverResult = {
    requests: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    rps: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function runDriver(url: string, mode: 'checkin' | 'hello', devices: number, duration: number, connections: number): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--driver', url, mode, String(devices), String(duration), String(connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) reject(new Error(`driver exited ${code}: ${output}`));
      else resolve(JSON.parse(line) as DriverResult);
    });
  });
}

async function main(): Promise<void> {
  // Imported here, not at the top: the driver process runs this file too and needs none of it.
  const { default: Koa } = await import('koa');
  const { default: pino } = await import('pino');
  const { INITIAL_FIRMWARE_STATE } = await import('../engine/model/index.ts');
  const { FleetStore } = await import('../engine/store/index.ts');
  const { openBenchDatabase } = await import('./support/database.ts');
  const { Engine, hashToken } = await import('../engine/service/index.ts');
  const { createFleetRepo, fixtureFleet } = await import('../test/support/fleet.ts');
  const devices = flag('devices', 100_000);
  const duration = flag('duration', 30);
  const connections = flag('connections', 64);
  const log = pino({ level: process.env.FLEETFORM_LOG_LEVEL ?? 'warn' });
  const database = await openBenchDatabase('checkin');
  const databaseUrl = database.url;
  const repo = await createFleetRepo(fixtureFleet({ maxInFlight: 1_000_000, maxInFlightPerCell: 1_000_000 }));

  try {
    // Devices are bulk-inserted straight into the store (registration through the API is one by one).
    const store = await FleetStore.open({ url: databaseUrl });
    const started = Date.now();
    const chunk = 5000;
    for (let offset = 0; offset < devices; offset += chunk) {
      const batch: NewDevice[] = [];
      for (let i = offset; i < Math.min(devices, offset + chunk); i++) {
        batch.push({
          id: deviceId(i),
          tenant: 'acme',
          profile: 'tracker',
          site: 'plant-1',
          labels: { batch: String(i % 10) },
          tokenHash: hashToken(deviceToken(i)),
          firmwareState: INITIAL_FIRMWARE_STATE,
        });
      }
      await store.devices.insertMany(batch);
    }
    await store.close();
    const loadSeconds = (Date.now() - started) / 1000;

    const engine = await Engine.start({
      databaseUrl,
      repoDir: repo.dir,
      branch: 'main',
      log,
      minCheckInIntervalMs: 0,
      offlineSweepMs: 0,
      adminToken: 'ffo_bench_admin',
    });
    while (!engine.revisions.current) await new Promise((r) => setTimeout(r, 50));
    const port = await engine.listen(0, '127.0.0.1');
    const loadBefore = loadavg()[0] ?? 0;
    // Warm-up: JIT, pools, config memo.
    await runDriver(`http://127.0.0.1:${port}`, 'checkin', devices, 3, connections);
    const checkIns = await runDriver(`http://127.0.0.1:${port}`, 'checkin', devices, duration, connections);
    const stored = await engine.store.checkIns.count();
    await engine.close();

    const hello = new Koa();
    hello.use((ctx) => {
      ctx.body = { hello: 'world' };
    });
    const server = hello.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    const helloPort = typeof address === 'object' && address ? address.port : 0;
    const ceiling = await runDriver(`http://127.0.0.1:${helloPort}`, 'hello', devices, Math.min(duration, 10), connections);
    server.close();

    const cpu = cpus()[0]?.model ?? 'unknown';
    const lines = [
      `machine: ${cpus().length} × ${cpu}, node ${process.version}, PostgreSQL ${database.server} on the same box`,
      `load average (1 min) before the run: ${loadBefore.toFixed(1)} — other processes on the box compete for the same cores`,
      `devices registered: ${devices} (bulk insert ${loadSeconds.toFixed(1)} s)`,
      `check-ins: ${duration} s, ${connections} connections, driver in a separate process (autocannon)`,
      `  answered 2xx: ${checkIns.ok}  non-2xx: ${checkIns.non2xx}  errors: ${checkIns.errors}  timeouts: ${checkIns.timeouts}`,
      `  check-ins/s: ${checkIns.rps.toFixed(0)}`,
      `  latency ms: p50 ${checkIns.p50}  p90 ${checkIns.p90}  p99 ${checkIns.p99}  max ${checkIns.max}`,
      `  check_in rows stored (incl. warm-up): ${stored}`,
      `ceiling: bare Koa hello-world ${ceiling.rps.toFixed(0)} req/s (p99 ${ceiling.p99} ms)`,
      `target: >= 2000 check-ins/s with p99 < 100 ms -> ${checkIns.rps >= 2000 && checkIns.p99 < 100 ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await repo.remove();
    await database.close();
  }
}

if (args[0] === '--driver') {
  const [, url = '', mode = 'checkin', devices = '0', duration = '0', connections = '0'] = args;
  await driver(url, mode === 'hello' ? 'hello' : 'checkin', Number(devices), Number(duration), Number(connections));
} else {
  await main();
}
