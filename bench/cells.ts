// OpenCelliD import throughput on a real-sized sample: a generated export in OpenCelliD's layout
// (a country file has 1-3 M rows; the world file ~40 M), gzipped as OpenCelliD ships it, read by
// `fleetform cells import` — checked only (--dry-run: read, inflate, parse) and imported into a
// running engine (POST /v1/cell-towers in batches of 5,000).
//   npx tsx bench/cells.ts [--rows 1000000] [--import-rows 200000]
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pino from 'pino';
import { importCells } from '../engine/cli/cells.ts';
import type { CliContext } from '../engine/cli/context.ts';
import { Engine } from '../engine/service/index.ts';
import { createFleetRepo, fixtureFleet } from '../test/support/fleet.ts';
import { openBenchDatabase } from './support/database.ts';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) ? value : fallback;
}

const ADMIN = 'ffo_bench_admin';
const RADIOS = ['GSM', 'UMTS', 'LTE', 'LTE', 'LTE', 'NR'];

/** OpenCelliD rows, deterministic: mostly good, one bad row in 10,000 (as real exports have a few). */
function* exportLines(rows: number): Generator<string> {
  yield 'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n';
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let chunk = '';
  for (let n = 1; n <= rows; n++) {
    const mcc = [262, 310, 234, 208, 440][n % 5];
    const lat = (random() * 140 - 70).toFixed(6);
    const lon = (random() * 340 - 170).toFixed(6);
    const bad = n % 10_000 === 0;
    chunk += `${RADIOS[n % RADIOS.length]},${mcc},${n % 90},${(n >> 6) % 65_000},${n},0,${lon},${bad ? 'x' : lat},${Math.floor(random() * 5000)},${n % 40},1,1459814400,1700000000,0\n`;
    if (n % 5000 === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

const quiet: CliContext = { stdout: () => undefined, stderr: () => undefined, env: {}, cwd: process.cwd(), exit: () => undefined };

async function main(): Promise<void> {
  const rows = flag('rows', 1_000_000);
  const importRows = flag('import-rows', 200_000);
  const database = await openBenchDatabase('cells');
  try {
    const sample = join(database.work, 'cell_towers.csv.gz');
    const smaller = join(database.work, 'import.csv.gz');
    const t0 = performance.now();
    await pipeline(Readable.from(exportLines(rows)), createGzip({ level: 6 }), createWriteStream(sample));
    await pipeline(Readable.from(exportLines(importRows)), createGzip({ level: 6 }), createWriteStream(smaller));
    const generated = (performance.now() - t0) / 1000;
    const size = (await stat(sample)).size;

    const loadBefore = loadavg()[0] ?? 0;
    const cpuBefore = process.cpuUsage();
    const t1 = performance.now();
    const checked = await importCells(sample, { dryRun: true, batch: '5000', maxIssues: '1', url: 'http://127.0.0.1:1', progress: 'none' }, { ...quiet, cwd: database.work });
    const checkSeconds = (performance.now() - t1) / 1000;
    const checkCpu = process.cpuUsage(cpuBefore);

    const repo = await createFleetRepo(fixtureFleet());
    const engine = await Engine.start({ databaseUrl: database.url, repoDir: repo.dir, branch: 'main', log: pino({ level: 'warn' }), adminToken: ADMIN, offlineSweepMs: 0, provisioning: { workers: 0 } });
    let importSeconds = 0;
    let imported = 0;
    try {
      const port = await engine.listen(0, '127.0.0.1');
      const t2 = performance.now();
      const result = await importCells(smaller, { batch: '5000', maxIssues: '1', url: `http://127.0.0.1:${port}`, token: ADMIN, progress: 'none' }, { ...quiet, cwd: database.work });
      importSeconds = (performance.now() - t2) / 1000;
      imported = result.towers;
    } finally {
      await engine.close();
      await repo.remove();
    }

    const cpu = cpus();
    console.log(`cells bench: OpenCelliD layout, ${rows.toLocaleString('en-US')} rows, ${(size / 1e6).toFixed(1)} MB gzip (generated in ${generated.toFixed(1)} s)`);
    console.log(`machine: ${cpu.length} cores, ${cpu[0]?.model ?? 'unknown CPU'}; load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after (other processes share the cores)`);
    const checkCpuSeconds = (checkCpu.user + checkCpu.system) / 1e6;
    console.log(`check (--dry-run: inflate, split, parse, validate): ${checkSeconds.toFixed(2)} s wall, ${Math.round(rows / checkSeconds).toLocaleString('en-US')} rows/s; CPU ${checkCpuSeconds.toFixed(1)} s (${Math.round(rows / checkCpuSeconds).toLocaleString('en-US')} rows per CPU second); ${checked.towers} towers, ${checked.issues} bad rows`);
    console.log(`import into the engine (${importRows.toLocaleString('en-US')} rows, POST /v1/cell-towers × 5,000): ${importSeconds.toFixed(2)} s, ${Math.round(importRows / importSeconds).toLocaleString('en-US')} rows/s; ${imported} towers`);
    console.log(`world file (~40 M rows) at these rates: check ${((40e6 / rows) * checkSeconds / 60).toFixed(1)} min, import ${((40e6 / importRows) * importSeconds / 60).toFixed(0)} min`);
    if (checked.towers + checked.issues !== rows) throw new Error('bench: counts do not add up');
  } finally {
    await database.close();
  }
}

await main();
