// Provisioning throughput: a 50,000-row manufacturing log plus its shipment log uploaded as
// streams (as the CLI does), made one job through the HTTP API, worked by the engine's workers
// against a local carrier (declared rate limit, counted in PostgreSQL), credentials (age)
// downloaded, opened and acknowledged while the job runs.
//   npx tsx bench/provision.ts [--rows 50000] [--bad 50] [--workers 4] [--batch 1000] [--carrier-rate 10000]
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { cpus, loadavg } from 'node:os';
import pino from 'pino';
import { generateCredentialsIdentity, openCredentials, parseCarrierConfig, sealCredentials } from '../engine/provisioning/index.ts';
import { Engine, HttpCarrier } from '../engine/service/index.ts';
import { batchCarrierConfig, startCarrierStub } from '../test/support/carrier.ts';
import { createFleetRepo, fixtureFleet } from '../test/support/fleet.ts';
import { generateLogs } from '../test/provisioning/logs.ts';
import { openBenchDatabase } from './support/database.ts';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) ? value : fallback;
}

const ADMIN = 'ffo_bench_admin';

async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface JobView {
  id: string;
  status: string;
  rows: { total: number; done: number; failed: number; pending: number };
  progress: { rowsPerSecond: number | null };
  credentialsWaiting: number;
}

async function upload(base: string, log: string, content: string): Promise<string> {
  const response = await fetch(`${base}/v1/provisioning/uploads?log=${log}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' },
    body: content,
  });
  if (!response.ok) throw new Error(`upload ${log}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

async function main(): Promise<void> {
  const rows = flag('rows', 50_000);
  const bad = flag('bad', 50);
  const workers = flag('workers', 4);
  const batchSize = flag('batch', 1000);
  const carrierRate = flag('carrier-rate', 10_000);
  const log = pino({ level: process.env.FLEETFORM_LOG_LEVEL ?? 'warn' });
  const database = await openBenchDatabase('provision');
  const repo = await createFleetRepo(fixtureFleet());
  const carrier = await startCarrierStub();
  const engine = await Engine.start({
    databaseUrl: database.url,
    repoDir: repo.dir,
    branch: 'main',
    log,
    adminToken: ADMIN,
    offlineSweepMs: 0,
    provisioning: {
      workers,
      batchSize,
      pollMs: 100,
      carrier: await HttpCarrier.create(
        parseCarrierConfig('carrier.json', batchCarrierConfig(carrier.url, { perSecond: carrierRate, burst: Math.min(carrierRate, 1000), maxSize: 500 })),
        () => undefined,
      ),
    },
  });
  try {
    while (!engine.revisions.current) await new Promise((r) => setTimeout(r, 50));
    const base = `http://127.0.0.1:${await engine.listen(0, '127.0.0.1')}`;
    const logs = generateLogs(rows, bad);
    const bytes = Buffer.byteLength(logs.manufacturing) + Buffer.byteLength(logs.shipments);

    // As the CLI: the job's batches are sealed to a key of its own; the factory gets one file at the end.
    const cli = await generateCredentialsIdentity();
    const factory = await generateCredentialsIdentity();
    const loadBefore = loadavg()[0] ?? 0;
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const [manufacturing, shipments] = await Promise.all([upload(base, 'manufacturing', logs.manufacturing), upload(base, 'shipments', logs.shipments)]);
    const tUploaded = performance.now();
    const created = await call<JobView>(base, '/v1/provisioning/jobs', {
      manufacturing: { upload: manufacturing },
      shipments: { upload: shipments },
      credentialsRecipients: [cli.recipient],
    });
    const t1 = performance.now();
    let view = created;
    const parts: string[] = [];
    let downloadMs = 0;
    const drain = async (): Promise<void> => {
      const started = performance.now();
      for (;;) {
        const page = await call<{ batches: { id: string; sealed: string }[] }>(base, `/v1/provisioning/jobs/${created.id}/credentials?limit=200`);
        if (page.batches.length === 0) break;
        parts.push(...page.batches.map((b) => b.sealed));
        await call(base, `/v1/provisioning/jobs/${created.id}/credentials/ack`, { ids: page.batches.map((b) => b.id) });
      }
      downloadMs += performance.now() - started;
    };
    // As the CLI does: poll every 500 ms, collecting credentials meanwhile.
    while (view.status !== 'completed') {
      await new Promise((r) => setTimeout(r, 500));
      view = await call<JobView>(base, `/v1/provisioning/jobs/${created.id}?failuresLimit=0`);
      if (view.credentialsWaiting > 0) await drain();
    }
    const t2 = performance.now();
    await drain();
    // The factory's file: every batch opened, sealed once more to the factory.
    const opened = (await Promise.all(parts.map((p) => openCredentials(p, [cli.identity])))).flat();
    const credentials = opened.length;
    const sealedForFactory = await sealCredentials(opened, [factory.recipient]);
    const t3 = performance.now();

    const cores = cpus();
    console.log(`provisioning bench: ${rows} manufacturing rows (${bad} bad) + ${logs.goodIds.length} shipment rows, ${(bytes / 1e6).toFixed(1)} MB`);
    console.log(`machine: ${cores.length} cores, ${cores[0]?.model ?? 'unknown CPU'}; load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after (other processes share the cores)`);
    console.log(`engine: ${workers} workers, batches of ${batchSize}, carrier ${carrierRate}/s`);
    console.log(`upload both logs (streamed, parsed, stored in chunks): ${((tUploaded - t0) / 1000).toFixed(2)} s`);
    console.log(`create job (read uploads, validate, store rows+ledger): ${((t1 - tUploaded) / 1000).toFixed(2)} s`);
    console.log(`work the job (register, credentials, site, activate, ready): ${((t2 - t1) / 1000).toFixed(2)} s`);
    console.log(`credentials file for the factory (open ${parts.length} batches, seal ${(sealedForFactory.length / 1e6).toFixed(1)} MB): ${((t3 - t2) / 1000).toFixed(2)} s`);
    console.log(`total until every credential is written: ${((t3 - t0) / 1000).toFixed(2)} s (${Math.round(rows / ((t3 - t0) / 1000))} rows/s)`);
    console.log(`rows: ${view.rows.done} done, ${view.rows.failed} failed; credentials: ${credentials} (download+ack ${(downloadMs / 1000).toFixed(2)} s, overlapped)`);
    console.log(`the job's own figure (API): ${view.progress.rowsPerSecond ?? '-'} rows/s`);
    const cpu = process.cpuUsage(cpuBefore);
    // On a shared machine wall time says more about the neighbours; CPU time is this process's own work (PostgreSQL's is not in it).
    console.log(`CPU of this process (engine, HTTP, the bench's client): ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
    console.log(`carrier: ${carrier.activated.size} SIMs activated in ${carrier.calls} calls`);
    if (view.rows.done + view.rows.failed !== rows || credentials !== view.rows.done) throw new Error('bench: counts do not add up');
  } finally {
    await engine.close();
    await carrier.close();
    await repo.remove();
    await database.close();
  }
}

await main();
