// bench/console: what the operator console asks the engine for, over a fleet of 100,000 devices —
// the device list's pages (first, middle, last; with each filter; as a tenant-scoped token), one
// device, the fleet summary, and an unchanged page revalidated by ETag — plus the weight of the
// console's first page. Sequential requests (one console), after a warm-up; p50 / p90 / max.
//   npx tsx bench/console.ts [--devices 100000] [--requests 30]
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import pg from 'pg';
import { INITIAL_FIRMWARE_STATE } from '../engine/model/index.ts';
import { Engine, hashToken } from '../engine/service/index.ts';
import { FleetStore, type NewDevice } from '../engine/store/index.ts';
import { createFleetRepo, fixtureFleet } from '../test/support/fleet.ts';
import { openBenchDatabase } from './support/database.ts';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
}

const DEVICES = flag('devices', 100_000);
const REQUESTS = flag('requests', 30);
const PAGE = 50;
const ADMIN = 'ffo_bench-admin-token-not-secret';
const STATUSES = ['converged', 'converged', 'converged', 'converged', 'converged', 'converged', 'upgrading', 'drifted', 'offline', 'retrying', 'quarantined', 'blocked'];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function time(url: string, token: string, headers: Record<string, string> = {}): Promise<{ ms: number; status: number; bytes: number }> {
  const started = process.hrtime.bigint();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const body = await response.arrayBuffer();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, status: response.status, bytes: body.byteLength };
}

async function measure(label: string, url: string, token: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 3; i += 1) await time(url, token, headers);
  const samples: number[] = [];
  let last = { ms: 0, status: 0, bytes: 0 };
  for (let i = 0; i < REQUESTS; i += 1) {
    last = await time(url, token, headers);
    if (last.status !== 200 && last.status !== 304) throw new Error(`${label}: HTTP ${last.status}`);
    samples.push(last.ms);
  }
  samples.sort((a, b) => a - b);
  const f = (n: number): string => `${n.toFixed(1)} ms`.padStart(9);
  process.stdout.write(`${label.padEnd(58)} ${f(percentile(samples, 50))} ${f(percentile(samples, 90))} ${f(samples[samples.length - 1] ?? NaN)}   ${String(last.status)} ${(last.bytes / 1024).toFixed(1).padStart(6)} KB\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-console.mjs')], { stdio: 'ignore' });
  const build = JSON.parse(await readFile(join(root, 'dist', 'console', 'build.json'), 'utf8')) as { files: { path: string; bytes: number; gzip: number; br: number }[] };
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  for (const file of build.files) process.stdout.write(`first page: ${file.path.padEnd(32)} ${kb(file.bytes).padStart(9)}  gzip ${kb(file.gzip).padStart(8)}  br ${kb(file.br).padStart(8)}\n`);

  const db = await openBenchDatabase('console');
  const repo = await createFleetRepo(fixtureFleet());
  let engine: Engine | null = null;
  try {
    process.stdout.write(`database: ${db.server}; inserting ${DEVICES.toLocaleString('en-US')} devices …\n`);
    const store = await FleetStore.open({ url: db.url });
    const started = Date.now();
    for (let offset = 0; offset < DEVICES; offset += 5000) {
      const batch: NewDevice[] = [];
      for (let i = offset; i < Math.min(DEVICES, offset + 5000); i += 1) {
        const globex = i % 10 === 0;
        batch.push({
          id: `dev-${String(i).padStart(7, '0')}`,
          tenant: globex ? 'globex' : 'acme',
          profile: 'tracker',
          site: globex ? 'depot-9' : 'plant-1',
          labels: { usage: i % 3 === 0 ? 'inventory' : 'loaner' },
          configOverride: null,
          tokenHash: hashToken(`ffd_bench_${i}`),
          firmwareState: INITIAL_FIRMWARE_STATE,
        });
      }
      await store.devices.insertMany(batch);
    }
    await store.close();
    // Statuses spread as a live fleet's would be; firmware as reported.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      `update device set status = ($1::text[])[1 + abs(hashtext(id)) % $2], reported_firmware = '{"mcu":"1.1.0","ble":"2.0.0"}'::jsonb, last_check_in_at = now()`,
      [STATUSES, STATUSES.length],
    );
    await client.query('analyze device');
    await client.end();
    process.stdout.write(`inserted in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    engine = await Engine.start({ databaseUrl: db.url, repoDir: repo.dir, branch: 'main', log: pino({ level: 'silent' }), adminToken: ADMIN, offlineSweepMs: 0, webhookIntervalMs: 0, provisioning: { workers: 0 } });
    const port = await engine.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    const minted = await fetch(`${base}/v1/operator-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme-viewer', role: 'viewer', tenants: ['acme'] }),
    });
    const viewer = ((await minted.json()) as { token: string }).token;

    process.stdout.write(`\n${'request (one console, sequential)'.padEnd(58)} ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'max'.padStart(9)}   answer\n`);
    const list = (query: string): string => `${base}/v1/devices?limit=${PAGE + 1}${query}`;
    const last = Math.floor((DEVICES - 1) / PAGE) * PAGE;
    await measure('devices, page 1 (admin)', list(''), ADMIN);
    await measure(`devices, middle page (offset ${DEVICES / 2})`, list(`&offset=${DEVICES / 2}`), ADMIN);
    await measure(`devices, last page (offset ${last})`, list(`&offset=${last}`), ADMIN);
    await measure('devices, page 1, tenant-scoped viewer (90 % of the fleet)', list(''), viewer);
    await measure('devices, last page, tenant-scoped viewer', list(`&offset=${Math.floor((DEVICES * 0.9 - 1) / PAGE) * PAGE}`), viewer);
    await measure('devices, status=quarantined, page 1', list('&status=quarantined'), ADMIN);
    await measure('devices, status=converged, middle page', list(`&status=converged&offset=${Math.floor(DEVICES / 4)}`), ADMIN);
    await measure('devices, site=depot-9, last page', list(`&site=depot-9&offset=${Math.floor((DEVICES / 10 - 1) / PAGE) * PAGE}`), ADMIN);
    await measure('devices, status + site + profile, page 1', list('&status=offline&site=plant-1&profile=tracker'), ADMIN);
    await measure('one device', `${base}/v1/devices/dev-0054321`, ADMIN);
    const page1 = await fetch(list(''), { headers: { authorization: `Bearer ${ADMIN}` } });
    await measure('devices, page 1, unchanged (If-None-Match → 304)', list(''), ADMIN, { 'if-none-match': page1.headers.get('etag') ?? '' });
    await measure('fleet summary (admin: every device)', `${base}/v1/fleet/summary`, ADMIN);
    await measure('fleet summary (tenant-scoped viewer)', `${base}/v1/fleet/summary`, viewer);
    await measure('rollouts list (wave counters)', `${base}/v1/rollouts`, ADMIN);
    await measure('rollout detail (members per wave: reads every device)', `${base}/v1/rollouts/tr-upgrade`, ADMIN);
    await measure('console page (index.html)', `${base}/`, ADMIN, { 'accept-encoding': 'br' });
  } finally {
    await engine?.close();
    await repo.remove();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
