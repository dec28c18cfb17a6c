// The example fleet's firmware, planned from a real git repository: why the planner picks the path it picks,
// and `fleetform firmware path` over the working tree and over an older revision.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerFirmware } from '../../engine/cli/firmware.ts';
import { UsageError } from '../../engine/cli/context.ts';
import { compileSnapshot } from '../../engine/config/index.ts';
import { FirmwarePlanner, type FirmwarePlan } from '../../engine/firmware/index.ts';
import { readWorkingTree } from '../../engine/git/index.ts';
import type { Snapshot } from '../../engine/model/index.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' },
  })
    .toString()
    .trim();
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `fleetform firmware path …` as the command line runs it: usage errors exit 2. */
async function firmwarePath(args: string[], cwd: string): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const ctx = { stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s), env: {}, cwd, exit: (c: number) => void (code = c) };
  const program = new Command('fleetform').exitOverride().configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
  registerFirmware(program, ctx);
  try {
    await program.parseAsync(['node', 'fleetform', 'firmware', 'path', ...args]);
  } catch (error) {
    if (error instanceof UsageError) return { code: 2, stdout, stderr: stderr + error.message };
    if (error instanceof CommanderError) return { code: error.exitCode === 0 ? 0 : 2, stdout, stderr };
    throw error;
  }
  return { code, stdout, stderr };
}

let repo: string;
let withoutTransitional: string;
let snapshot: Snapshot;

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), 'fleetform-firmware-'));
  for (const folder of ['fleet-config', 'firmware-manifests', 'rules', 'schemas']) cpSync(join(REPO_ROOT, folder), join(repo, folder), { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  // First commit: the tracker matrix before lte 5.1.0 under mcu 2.3.1 was tested as a stepping stone.
  const matrixFile = join(repo, 'firmware-manifests/matrix-tracker.yaml');
  const matrix = readFileSync(matrixFile, 'utf8');
  writeFileSync(matrixFile, matrix.replace(/\n  transitional:\n(    - .*\n)+/, '\n'));
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'tracker matrix without the transitional combination');
  withoutTransitional = git(repo, 'rev-parse', 'HEAD');
  writeFileSync(matrixFile, matrix);
  git(repo, 'commit', '-q', '-am', 'lte 5.1.0 under mcu 2.3.1 tested as a stepping stone');
  const compiled = await compileSnapshot(await readWorkingTree({ dir: repo }));
  expect(compiled.issues.filter((i) => i.severity === 'error')).toEqual([]);
  snapshot = compiled.snapshot as Snapshot;
});

afterAll(() => rmSync(repo, { recursive: true, force: true }));

const path = (plan: FirmwarePlan) => plan.steps.map((s) => `${s.component} ${s.from}→${s.to}`);

describe('the example fleet’s tracker (bundles)', () => {
  it('walks app 3.0.0 to app 3.3.0 through every bundle in between: each differs from the next in one component', () => {
    const plan = new FirmwarePlanner(snapshot).plan({ hardware: 'tracker', from: { mcu: '2.0.0', ble: '1.2.0', lte: '5.0.0' }, target: { bundle: 'app-3.3.0' } });
    expect(plan.status).toBe('planned');
    expect(path(plan)).toEqual(['mcu 2.0.0→2.1.0', 'ble 1.2.0→1.3.0', 'lte 5.0.0→5.0.2', 'mcu 2.1.0→2.3.1', 'ble 1.3.0→1.4.0']);
    expect(plan.steps.every((s) => s.lands === 'stable')).toBe(true);
    expect(plan.totalBytes).toBe(plan.steps.reduce((sum, s) => sum + s.release.spec.artifact.size, 0));
  });

  it('reaches app 3.4.0 only through the transitional combination: lte before mcu, since mcu 2.4.0 needs lte 5.1.0', () => {
    const plan = new FirmwarePlanner(snapshot).plan({ hardware: 'tracker', from: { mcu: '2.3.1', ble: '1.4.0', lte: '5.0.2' }, target: { bundle: '3.4.0' } });
    expect(path(plan)).toEqual(['lte 5.0.2→5.1.0', 'mcu 2.3.1→2.4.0']);
    expect(plan.steps.map((s) => s.lands)).toEqual(['transitional', 'stable']);
  });

  it('brings a device on the withdrawn mcu 2.2.0 back onto the matrix first, then onward', () => {
    const plan = new FirmwarePlanner(snapshot).plan({ hardware: 'tracker', from: { mcu: '2.2.0', ble: '1.3.0', lte: '5.0.2' }, target: { bundle: 'app-3.3.0' } });
    expect(plan).toMatchObject({ status: 'off-matrix', backOnMatrixAtStep: 1 });
    expect(path(plan)).toEqual(['mcu 2.2.0→2.3.1', 'ble 1.3.0→1.4.0']);
  });

  it('follows the rollout the device is in: its target, cached per reported combination', () => {
    const rollout = snapshot.rollouts.find((r) => r.metadata.name === 'tracker-app-3.3.0');
    const planner = new FirmwarePlanner(snapshot);
    const first = planner.plan({ hardware: 'tracker', from: { mcu: '2.1.0', ble: '1.3.0', lte: '5.0.2' }, rollout });
    const again = planner.plan({ hardware: 'tracker', from: { lte: '5.0.2', ble: '1.3.0', mcu: '2.1.0' }, rollout });
    expect(first.destinationBundle).toBe('app-3.3.0');
    expect(again).toBe(first);
    expect(planner.cache.hits).toBe(1);
  });
});

describe('the plan cache', () => {
  it('keys plans by target and downgrade permission as well as by the reported combination', () => {
    const planner = new FirmwarePlanner(snapshot);
    const from = { mcu: '2.4.0', ble: '1.4.0', lte: '5.1.0' };
    const toNewest = planner.plan({ hardware: 'tracker', from, target: { bundle: 'app-3.4.0' } });
    const toOlder = planner.plan({ hardware: 'tracker', from, target: { bundle: 'app-3.3.0' } });
    const toOlderDowngrading = planner.plan({ hardware: 'tracker', from, target: { bundle: 'app-3.3.0' }, allowDowngrade: true });
    expect([toNewest.status, toOlder.status, toOlderDowngrading.status]).toEqual(['up-to-date', 'blocked', 'planned']);
    expect(planner.cache.misses).toBe(3);
    expect(planner.cache.hits).toBe(0);
  });

  it('ignores components the matrix does not know when keying and planning', () => {
    const planner = new FirmwarePlanner(snapshot);
    const a = planner.plan({ hardware: 'beacon', from: { mcu: '1.1.0', ble: '1.0.0' } });
    const b = planner.plan({ hardware: 'beacon', from: { mcu: '1.1.0', ble: '1.0.0', gps: '0.1.0' } });
    expect(b).toBe(a);
    expect(a.from).toEqual({ ble: '1.0.0', mcu: '1.1.0' });
  });
});

describe('the example fleet’s beacon (constraints)', () => {
  it('alternates ble and mcu so that every release’s requirements hold after each step', () => {
    const plan = new FirmwarePlanner(snapshot).plan({ hardware: 'beacon', from: { mcu: '1.0.0', ble: '0.9.0' }, rollout: snapshot.rollouts.find((r) => r.metadata.name === 'beacon-mcu-1.2') });
    expect(path(plan)).toEqual(['ble 0.9.0→1.0.0', 'mcu 1.0.0→1.1.0', 'ble 1.0.0→1.1.0', 'mcu 1.1.0→1.2.0']);
  });
});

describe('fleetform firmware path', () => {
  it('prints the steps and the total as JSON', async () => {
    const run = await firmwarePath(['--repo', repo, '--hardware', 'tracker', '--from', 'mcu=2.3.1,ble=1.4.0,lte=5.0.2', '--to', 'app-3.4.0', '--format', 'json'], repo);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { steps: { component: string; from: string; to: string; bytes: number }[]; totalBytes: number };
    expect(out.steps).toEqual([
      { component: 'lte', from: '5.0.2', to: '5.1.0', bytes: 2883584 },
      { component: 'mcu', from: '2.3.1', to: '2.4.0', bytes: 547840 },
    ]);
    expect(out.totalBytes).toBe(2883584 + 547840);
  });

  it('prints the steps as text, with the total', async () => {
    const run = await firmwarePath(['--repo', repo, '--hardware', 'beacon', '--from', 'mcu=1.1.0,ble=1.0.0', '--to', 'mcu=1.2.0'], repo);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1. ble 1.0.0 → 1.1.0');
    expect(run.stdout).toContain('2. mcu 1.1.0 → 1.2.0');
    expect(run.stdout).toContain(`total: 2 steps, ${65536 + 102400} bytes`);
  });

  it('plans against an older revision with --rev: there, app 3.4.0 is out of reach, and it says which step blocks (exit 1)', async () => {
    const run = await firmwarePath(['--repo', repo, '--rev', withoutTransitional, '--hardware', 'tracker', '--from', 'mcu=2.3.1,ble=1.4.0,lte=5.0.2', '--to', 'app-3.4.0', '--format', 'json'], repo);
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as { error: string; reasons: { code: string; component: string; to: string }[] };
    expect(out.error).toMatch(/not a declared bundle/);
    expect(out.reasons.map((r) => `${r.code} ${r.component} ${r.to}`)).toContain('incompatible-step lte 5.1.0');
    expect(out.reasons.map((r) => `${r.code} ${r.component} ${r.to}`)).toContain('incompatible-step mcu 2.4.0');
  });

  it('a downgrade without --allow-downgrade: no path, exit 1; with it, a path', async () => {
    const args = ['--repo', repo, '--hardware', 'tracker', '--from', 'mcu=2.4.0,ble=1.4.0,lte=5.1.0', '--to', 'app-3.3.0'];
    const refused = await firmwarePath(args, repo);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('[downgrade-not-allowed]');
    const allowed = await firmwarePath([...args, '--allow-downgrade'], repo);
    expect(allowed.code).toBe(0);
  });

  it.each([
    [['--hardware', 'tracker', '--from', 'mcu=2.0.0,ble'], /--from: 'ble' is not component=version/],
    [['--hardware', 'tracker', '--from', 'mcu=two'], /'two' is not a semver version/],
    [['--hardware', 'tracker', '--from', 'mcu=2.0.0,mcu=2.1.0'], /mcu is given twice/],
    [['--hardware', 'tracker', '--from', 'gps=1.0.0'], /'gps' is not a component of tracker/],
    [['--hardware', 'submarine', '--from', 'mcu=2.0.0'], /no CompatibilityMatrix for 'submarine'/],
    [['--hardware', 'tracker', '--from', 'mcu=2.0.0', '--to', 'app-9'], /no bundle named or versioned 'app-9'/],
    [['--hardware', 'tracker', '--from', 'mcu=2.0.0', '--to', 'mcu=>>2'], /neither a version nor a semver range/],
    [['--hardware', 'tracker', '--from', 'mcu=2.0.0', '--format', 'yaml'], /--format must be one of text, json/],
  ])('a bad flag value exits 2 with a clear message: %j', async (args, message) => {
    const run = await firmwarePath(['--repo', repo, ...args], repo);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('a --repo that does not exist, or an unknown revision, is a usage error', async () => {
    const missing = await firmwarePath(['--repo', join(repo, 'no-such-dir'), '--hardware', 'tracker', '--from', 'mcu=2.0.0'], repo);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--repo: .*no-such-dir is not a directory/);
    const unknownRev = await firmwarePath(['--repo', repo, '--rev', 'no-such-branch', '--hardware', 'tracker', '--from', 'mcu=2.0.0'], repo);
    expect(unknownRev.code).toBe(2);
    expect(unknownRev.stderr).toMatch(/no-such-branch/);
  });
});
