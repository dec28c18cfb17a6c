// `fleetform simulate`: N virtual devices against a running engine, with a live summary and, at the
// end, how long the fleet took to reach its rollout targets.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Snapshot } from '../model/index.ts';
import {
  SimulationError,
  formatProgressBar,
  formatProgressLine,
  formatReport,
  runSimulation,
  type SimulationOptions,
  type SimulationProgress,
  type SimulationReport,
} from '../simulate/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

interface SimulateFlags {
  devices?: string;
  url: string;
  token?: string;
  dataDir: string;
  repo?: string;
  speed: string;
  failureRate: string;
  towers: string;
  duration?: string;
  seed?: string;
  concurrency: string;
  prefix?: string;
  keepRunning?: boolean;
  progress: string;
  json?: boolean;
}

/** `90`, `90s`, `10m`, `1h30m` → milliseconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(trimmed);
  if (!match || trimmed === '') return null;
  const [, h = '0', m = '0', s = '0'] = match;
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

function positiveInteger(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${flag}: expected a whole number from 1 to ${max}, got '${text}'`);
  return n;
}

function number(flag: string, text: string, min: number, max: number, inclusiveMin: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n > max || (inclusiveMin ? n < min : n <= min)) {
    throw new UsageError(`${flag}: expected a number ${inclusiveMin ? 'from' : 'above'} ${min}${max === Infinity ? '' : ` up to ${max}`}, got '${text}'`);
  }
  return n;
}

export interface SimulationSettings {
  devices: number;
  url: string;
  speed: number;
  failureRate: number;
  towers: number;
  durationMs: number | null;
  seed: number;
  concurrency: number;
  prefix?: string;
}

/** Checks every flag (exit 2 with the first problem) before anything is started. */
export function parseSimulationFlags(flags: Pick<SimulateFlags, 'devices' | 'url' | 'speed' | 'failureRate' | 'towers' | 'duration' | 'seed' | 'concurrency' | 'prefix'>): SimulationSettings {
  if (flags.devices === undefined) throw new UsageError('--devices is required, e.g. --devices 200');
  const devices = positiveInteger('--devices', flags.devices, 1_000_000);
  let url: URL;
  try {
    url = new URL(flags.url);
  } catch {
    throw new UsageError(`--url: not a URL: '${flags.url}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: expected http:// or https://, got '${flags.url}'`);
  const speed = number('--speed', flags.speed, 0, 1_000_000, false);
  const failureRate = number('--failure-rate', flags.failureRate, 0, 1, true);
  const towers = positiveInteger('--towers', flags.towers, 1000);
  let durationMs: number | null = null;
  if (flags.duration !== undefined) {
    durationMs = parseDuration(flags.duration);
    if (durationMs === null || durationMs <= 0) throw new UsageError(`--duration: expected e.g. 90s, 10m, 1h30m or seconds, got '${flags.duration}'`);
  }
  let seed = Math.floor(Math.random() * 1_000_000);
  if (flags.seed !== undefined) {
    if (!/^\d+$/.test(flags.seed) || Number(flags.seed) > 0xffffffff) throw new UsageError(`--seed: expected a whole number from 0 to 4294967295, got '${flags.seed}'`);
    seed = Number(flags.seed);
  }
  const concurrency = positiveInteger('--concurrency', flags.concurrency, 4096);
  if (flags.prefix !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,100}$/.test(flags.prefix)) {
    throw new UsageError(`--prefix: device ids start with a letter or digit and use letters, digits, '.', '_', ':' and '-'`);
  }
  return { devices, url: url.toString().replace(/\/$/, ''), speed, failureRate, towers, durationMs, seed, concurrency, ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}) };
}

/** --token, else FLEETFORM_ADMIN_TOKEN / FLEETFORM_TOKEN, else <data-dir>/admin-token. */
async function operatorToken(flags: SimulateFlags, ctx: CliContext): Promise<string> {
  const given = flags.token ?? ctx.env.FLEETFORM_ADMIN_TOKEN ?? ctx.env.FLEETFORM_TOKEN;
  if (given) return given;
  const dir = isAbsolute(flags.dataDir) ? flags.dataDir : resolve(ctx.cwd, flags.dataDir);
  const file = join(dir, 'admin-token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token) return token;
  } catch {
    // fall through to the usage error
  }
  throw new UsageError(`an operator token is needed: --token, FLEETFORM_ADMIN_TOKEN, or ${file} (written by fleetform serve)`);
}

/**
 * The snapshot the engine serves: the active revision (GET /v1/revisions) read from the local clone;
 * the working tree when that commit is not in it.
 */
export async function servedSnapshot(url: string, token: string, repoDir: string, warn: (text: string) => void): Promise<Snapshot> {
  const git = await import('../git/index.ts');
  const { compileSnapshot } = await import('../config/index.ts');
  let active: string | null = null;
  try {
    const response = await fetch(new URL('/v1/revisions', url), { headers: { authorization: `Bearer ${token}` } });
    if (response.ok) active = ((await response.json()) as { active?: string | null }).active ?? null;
  } catch {
    // the driver reports an unreachable engine with a better message
  }
  let tree;
  try {
    tree = active ? await git.readRevisionTree({ dir: repoDir, ref: active }) : await git.readWorkingTree({ dir: repoDir });
  } catch {
    if (active) warn(`warning: the engine's revision ${active.slice(0, 12)} is not in ${repoDir}; using the working tree\n`);
    tree = await git.readWorkingTree({ dir: repoDir });
  }
  const compiled = await compileSnapshot(tree);
  if (!compiled.snapshot) {
    const first = compiled.issues.find((i) => i.severity === 'error');
    throw new UsageError(`the fleet in ${repoDir} does not compile${first ? `: ${first.file}:${first.line} ${first.message}` : ''}`);
  }
  return compiled.snapshot;
}

/** Live progress: a redrawn bar on a terminal, else a few lines every few seconds. */
export function progressPrinter(mode: 'bar' | 'lines' | 'none', write: (text: string) => void): { onProgress(p: SimulationProgress): void; done(): void; intervalMs: number } {
  let drawn = false;
  return {
    // A bar is cheap to redraw; lines scroll, so fewer of them.
    intervalMs: mode === 'bar' ? 500 : 5000,
    onProgress: (p) => {
      if (mode === 'bar') {
        write(`\r\u001b[2K${formatProgressBar(p, 30)}`);
        drawn = true;
      } else if (mode === 'lines') write(formatProgressLine(p));
    },
    done: () => {
      if (drawn) write('\n');
    },
  };
}

/** Runs a simulation, stopping cleanly on SIGINT/SIGTERM. */
export async function runWithSignals(options: SimulationOptions): Promise<SimulationReport> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await runSimulation({ ...options, signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function reportJson(report: SimulationReport): object {
  const { outcomes, ...rest } = report;
  return { ...rest, devicesAtTarget: outcomes.filter((o) => o.atTarget).length };
}

function addSimulationFlags(command: Command, ctx: CliContext, defaults: { speed: string; failureRate: string } = { speed: '1', failureRate: '0.02' }): Command {
  return command
    .option('--speed <x>', 'check-in intervals are divided by this', defaults.speed)
    .option('--failure-rate <p>', 'probability that a firmware step fails on an idle tower (0..1)', defaults.failureRate)
    .option('--towers <t>', 'cell towers per site', '2')
    .option('--seed <s>', 'random seed (default: random)')
    .option('--concurrency <c>', 'check-ins in flight at most', '64')
    .option('--prefix <text>', 'device id prefix (default sim-<seed>-)')
    .option('--progress <mode>', 'bar | lines | none (default: bar on a terminal, else lines)', process.stdout.isTTY && !ctx.env.CI ? 'bar' : 'lines');
}

export const registerSimulate: CommandRegistrar = (program, ctx) => {
  const command = program
    .command('simulate')
    .description('Run virtual devices against an engine: register them, check them in, upgrade them; report convergence')
    .option('--devices <n>', 'number of virtual devices')
    .option('--url <url>', 'engine URL', ctx.env.FLEETFORM_URL ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'operator token (default: FLEETFORM_ADMIN_TOKEN, FLEETFORM_TOKEN, or <data-dir>/admin-token)')
    .option('--data-dir <dir>', 'where fleetform serve wrote admin-token', '.fleetform')
    .option('--repo <dir>', 'config repository the engine follows (default: the git repository of the current directory)')
    .option('--duration <d>', 'stop after this long (e.g. 90s, 10m); default: when the fleet has converged')
    .option('--keep-running', 'keep checking in after convergence (until --duration or Ctrl-C)')
    .option('--json', 'print the final report as JSON');
  addSimulationFlags(command, ctx).action(async (flags: SimulateFlags) => {
    const settings = parseSimulationFlags(flags);
    const progressMode = flags.progress;
    if (progressMode !== 'bar' && progressMode !== 'lines' && progressMode !== 'none') throw new UsageError(`--progress: expected bar, lines or none, got '${progressMode}'`);
    const token = await operatorToken(flags, ctx);
    const repoDir = flags.repo ? resolve(ctx.cwd, flags.repo) : await findRepository(ctx.cwd);
    const snapshot = await servedSnapshot(settings.url, token, repoDir, ctx.stderr);
    const printer = progressPrinter(flags.json ? 'none' : progressMode, ctx.stdout);
    if (!flags.json) ctx.stdout(`simulating ${settings.devices} devices against ${settings.url} at ${settings.speed}× (seed ${settings.seed})\n`);
    let report: SimulationReport;
    try {
      report = await runWithSignals({
        url: settings.url,
        adminToken: token,
        snapshot,
        devices: settings.devices,
        speed: settings.speed,
        failureRate: settings.failureRate,
        towersPerSite: settings.towers,
        durationMs: settings.durationMs,
        seed: settings.seed,
        concurrency: settings.concurrency,
        ...(settings.prefix !== undefined ? { prefix: settings.prefix } : {}),
        stopWhenConverged: flags.keepRunning !== true,
        readyTimeoutMs: 20_000,
        onProgress: printer.onProgress,
        progressIntervalMs: printer.intervalMs,
      });
    } catch (error) {
      printer.done();
      if (error instanceof SimulationError) {
        ctx.stderr(`error: [${error.code}] ${error.message}\n`);
        ctx.exit(1);
        return;
      }
      throw error;
    }
    printer.done();
    ctx.stdout(flags.json ? `${JSON.stringify(reportJson(report), null, 2)}\n` : formatReport(report));
    // 1: the engine did something wrong (an invalid step, a throttle breach) or the fleet did not converge.
    if (report.violations.length > 0 || report.breaches.length > 0 || !report.converged) ctx.exit(1);
  });
};

/** The repository the command is started in: the nearest parent with a .git. */
export async function findRepository(cwd: string): Promise<string> {
  const { dirname } = await import('node:path');
  const { locateRepository } = await import('../git/index.ts');
  let dir = cwd;
  for (;;) {
    try {
      return (await locateRepository(dir)).dir;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) throw new UsageError(`${cwd} is not inside a git repository; pass --repo`);
      dir = parent;
    }
  }
}

export { addSimulationFlags };
