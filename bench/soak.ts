// Soak: the engine under a simulated fleet at a fixed check-in rate for a long while. Per minute: the
// engine's memory (RSS, V8 heap) and the check-in latency percentiles as the devices saw them. Memory
// must stay flat.
//   npx tsx bench/soak.ts [--minutes 10] [--rate 100] [--devices 2000] [--seed 1]
// The engine runs in this process (its memory is what is measured); the simulated devices run in a
// child process. Churn: a config commit every minute (new config to every device, a revision swap),
// and halfway a new rollout target (one more firmware step for the whole fleet).
// Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp dir.
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
}

/** Minute summary from the driver. */
interface MinuteLatency {
  type: 'minute';
  minute: number;
  checkIns: number;
  refused: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface DriverDone {
  type: 'done';
  converged: boolean;
  violations: number;
  breaches: number;
  checkIns: number;
  stepsSucceeded: number;
  stepsFailed: number;
}

const PROFILE_INTERVAL_SECONDS = 600;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

// ── driver: the simulated fleet, in its own process ───────────────────────
async function driver(): Promise<void> {
  const [url = '', repoDir = '', devices = '0', speed = '1', durationMs = '0', seed = '1'] = args.slice(1);
  const { compileSnapshot } = await import('../engine/config/index.ts');
  const { readRevisionTree } = await import('../engine/git/index.ts');
  const { runSimulation } = await import('../engine/simulate/index.ts');
  const compiled = await compileSnapshot(await readRevisionTree({ dir: repoDir, ref: 'main' }));
  if (!compiled.snapshot) throw new Error('fleet does not compile');
  let bucket: number[] = [];
  let refused = 0;
  let minute = 0;
  let started = 0;
  const flush = (): void => {
    bucket.sort((a, b) => a - b);
    const out: MinuteLatency = {
      type: 'minute',
      minute,
      checkIns: bucket.length,
      refused,
      p50: percentile(bucket, 50),
      p90: percentile(bucket, 90),
      p99: percentile(bucket, 99),
      max: bucket[bucket.length - 1] ?? 0,
    };
    process.send?.(out);
    bucket = [];
    refused = 0;
  };
  const report = await runSimulation({
    url,
    adminToken: 'ffo_soak_admin',
    snapshot: compiled.snapshot,
    devices: Number(devices),
    speed: Number(speed),
    failureRate: 0.02,
    towersPerSite: 4,
    durationMs: Number(durationMs),
    seed: Number(seed),
    concurrency: 64,
    engineStatus: false,
    // Registration is not part of the measured minutes.
    onCheckIn: ({ status, latencyMs }) => {
      const now = Date.now();
      if (started === 0) started = now;
      while (now - started >= (minute + 1) * 60_000) {
        flush();
        minute += 1;
      }
      if (status === 200) bucket.push(latencyMs);
      else refused += 1;
    },
  });
  flush();
  const done: DriverDone = {
    type: 'done',
    converged: report.converged,
    violations: report.violations.length,
    breaches: report.breaches.length,
    checkIns: report.checkIns,
    stepsSucceeded: report.stepsSucceeded,
    stepsFailed: report.stepsFailed,
  };
  process.send?.(done);
}

// ── the engine, measured ──────────────────────────────────────────────────
async function main(): Promise<void> {
  const { default: pino } = await import('pino');
  const { openBenchDatabase } = await import('./support/database.ts');
  const { Engine } = await import('../engine/service/index.ts');
  const { createFleetRepo, fixtureFleet, rolloutYaml } = await import('../test/support/fleet.ts');
  const minutes = flag('minutes', 10);
  const rate = flag('rate', 100);
  const devices = flag('devices', 2000);
  const seed = flag('seed', 1);
  // Fixed rate: every device checks in once per (interval / speed) seconds, upgrading or not.
  const speed = (rate * PROFILE_INTERVAL_SECONDS) / devices;
  const log = pino({ level: process.env.FLEETFORM_LOG_LEVEL ?? 'fatal' });
  const database = await openBenchDatabase('soak');
  const files = fixtureFleet({ maxInFlightPerCell: 20, maxRetries: 20 });
  const profile = (files['fleet-config/profiles/tracker.yaml'] ?? '').replace('upgradingIntervalSeconds: 120', `upgradingIntervalSeconds: ${PROFILE_INTERVAL_SECONDS}`);
  const site = files['fleet-config/sites/plant-1.yaml'] ?? '';
  const repo = await createFleetRepo({ ...files, 'fleet-config/profiles/tracker.yaml': profile });
  let child: ChildProcess | null = null;
  let engine: Awaited<ReturnType<typeof Engine.start>> | null = null;
  try {
    engine = await Engine.start({ databaseUrl: database.url, repoDir: repo.dir, branch: 'main', log, minCheckInIntervalMs: 0, adminToken: 'ffo_soak_admin' });
    while (!engine.revisions.current) await new Promise((r) => setTimeout(r, 50));
    const port = await engine.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${port}`;
    process.stdout.write(
      `soak: ${devices} simulated devices, ${rate} check-ins/s (speed ${speed.toFixed(1)}×), ${minutes} min; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}\n\n` +
        'minute  check-ins  refused  p50 ms  p90 ms  p99 ms  max ms  rss MB  heap MB  load\n',
    );

    const memory: { rss: number; heap: number }[] = [];
    const rows: string[] = [];
    let done: DriverDone | null = null;
    const driverExit = new Promise<void>((resolve, reject) => {
      child = fork(fileURLToPath(import.meta.url), ['--driver', url, repo.dir, String(devices), String(speed), String(minutes * 60_000), String(seed)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message: MinuteLatency | DriverDone) => {
        if (message.type === 'done') {
          done = message;
          return;
        }
        const usage = process.memoryUsage();
        memory.push({ rss: usage.rss, heap: usage.heapUsed });
        const row = [
          String(message.minute + 1).padStart(6),
          String(message.checkIns).padStart(9),
          String(message.refused).padStart(7),
          String(message.p50).padStart(6),
          String(message.p90).padStart(6),
          String(message.p99).padStart(6),
          String(message.max).padStart(6),
          (usage.rss / 2 ** 20).toFixed(0).padStart(6),
          (usage.heapUsed / 2 ** 20).toFixed(1).padStart(7),
          (loadavg()[0] ?? 0).toFixed(1).padStart(5),
        ].join('  ');
        rows.push(row);
        process.stdout.write(row + '\n');
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`driver exited ${code}`))));
    });

    // Churn while the fleet runs: a config commit every minute, a new rollout target halfway.
    let commits = 0;
    const churn = setInterval(() => {
      commits += 1;
      const changes: Record<string, string> = {
        'fleet-config/sites/plant-1.yaml': site.replace('reportIntervalSeconds: 900', `reportIntervalSeconds: ${900 + commits}`),
      };
      if (commits === Math.max(1, Math.floor(minutes / 2))) changes['firmware-manifests/tr-rollout.yaml'] = rolloutYaml({ target: 'app-4', maxInFlightPerCell: 20, maxRetries: 20 });
      void repo.commit(changes, `soak churn ${commits}`).catch(() => undefined);
    }, 60_000);
    try {
      await driverExit;
    } finally {
      clearInterval(churn);
    }
    const result = done as DriverDone | null;
    // Minute 1 includes the warm-up (JIT, pools, the first configs): compared from minute 2 when there is one.
    const first = memory[memory.length > 2 ? 1 : 0];
    const last = memory[memory.length - 1];
    process.stdout.write(
      `\n${result ? `${result.checkIns} check-ins, ${result.stepsSucceeded} steps succeeded, ${result.stepsFailed} failed; invalid steps ${result.violations}, throttle breaches ${result.breaches}` : 'driver sent no result'}\n` +
        (first && last
          ? `memory from minute ${memory.length > 2 ? 2 : 1} to ${memory.length}: rss ${((last.rss - first.rss) / 2 ** 20).toFixed(1)} MB, heap ${((last.heap - first.heap) / 2 ** 20).toFixed(1)} MB (${commits} config commits)\n`
          : ''),
    );
  } finally {
    (child as ChildProcess | null)?.kill();
    await engine?.close();
    await repo.remove();
    await database.close();
  }
}

if (args[0] === '--driver') {
  driver().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
