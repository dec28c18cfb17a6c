// Benchmark: `fleetform diff` with fleet impact over a 1,000,000-device fleet file. The example fleet is
// committed into a temp repo (BASE), a typical pull request is committed on top (HEAD: the tracker rollout
// targets app-3.4.0 and opens its wider wave, a site changes its config), and a JSON Lines fleet file of
// trackers and beacons on every known-good combination (plus some off-matrix ones) is generated.
// Target: under 10 s for read fleet + read both revisions + validate + impact + render.
// Run: npx tsx bench/diff.ts [--devices 1000000] [--runs 2]
import { execFileSync } from 'node:child_process';
import { cpSync, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRevisionTree } from '../engine/git/index.ts';
import { compileSnapshot } from '../engine/config/index.ts';
import { firmwarePort, renderMarkdown, reviewChange, reviewExitCode } from '../engine/review/index.ts';
import { readFleetFile } from '../engine/cli/diff.ts';
import { VALIDATE_CHECKS } from '../engine/config/index.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const DEVICES = flag('devices', 1_000_000);
const RUNS = flag('runs', 2);
const ROOT = join(import.meta.dirname, '..');

const env = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};
const dir = mkdtempSync(join(tmpdir(), 'fleetform-bench-diff-'));
const git = (...argv: string[]): string => execFileSync('git', argv, { cwd: dir, env, encoding: 'utf8' }).trim();

// BASE: the example fleet as committed at the project root.
git('init', '--quiet', '--initial-branch=main');
for (const folder of ['fleet-config', 'firmware-manifests', 'rules']) cpSync(join(ROOT, folder), join(dir, folder), { recursive: true });
git('add', '--all');
git('commit', '--quiet', '-m', 'example fleet');

// HEAD: retarget the tracker rollout to app-3.4.0, open the wider wave, and change a cohort's config.
const rolloutFile = join(dir, 'firmware-manifests/rollout-tracker-app-3.3.0.yaml');
writeFileSync(
  rolloutFile,
  readFileSync(rolloutFile, 'utf8').replace('bundle: app-3.3.0', 'bundle: app-3.4.0').replace('activeWave: canary', 'activeWave: wider'),
);
const groupsFile = join(dir, 'fleet-config/groups/cohorts.yaml');
writeFileSync(groupsFile, readFileSync(groupsFile, 'utf8').replace('reportIntervalSeconds: 600', 'reportIntervalSeconds: 300'));
git('commit', '--quiet', '--all', '-m', 'tracker rollout to app 3.4.0, wider wave');

// The fleet, from what BASE declares.
const base = await compileSnapshot(await readRevisionTree({ dir, ref: 'HEAD~1' }));
if (!base.snapshot) throw new Error(`the example fleet does not compile: ${base.issues.map((i) => i.message).join('; ')}`);
const snapshot = base.snapshot;
const sites = [...snapshot.sites.keys()].sort();
const combinations = (hardware: string): Record<string, string>[] => {
  const matrix = snapshot.matrices.get(hardware);
  if (matrix?.spec.bundles?.length) return matrix.spec.bundles.map((b) => ({ ...b.components }));
  // A constraints matrix: the newest release of each component, and the oldest.
  const releases = snapshot.releases.get(hardware);
  const pick = (index: (n: number) => number): Record<string, string> =>
    Object.fromEntries([...(releases ?? new Map()).entries()].map(([c, list]) => [c, list[index(list.length)]!.spec.version]));
  return [pick(() => 0), pick((n) => n - 1)];
};
const trackerStates = combinations('tracker');
const beaconStates = combinations('beacon');
const offMatrix = { mcu: '2.0.0', ble: '1.4.0', lte: '5.0.0' }; // released versions, never declared together
const usages = ['inventory', 'inventory', 'inventory', 'demo', 'loaner', 'sold'];
const fleetPath = join(dir, 'fleet.jsonl');
const generateStart = performance.now();
await new Promise<void>((resolve, reject) => {
  const out = createWriteStream(fleetPath);
  out.on('error', reject);
  let i = 0;
  const write = (): void => {
    let ok = true;
    while (i < DEVICES && ok) {
      const n = i++;
      const beacon = n % 10 === 9;
      const site = sites[n % sites.length]!;
      const labels: Record<string, string> = beacon ? {} : { usage: usages[n % usages.length]! };
      if (!beacon && site === 'lakeside-chicago' && n % 7 === 0) labels.zone = 'garage-b1';
      const firmware = beacon ? beaconStates[n % beaconStates.length]! : n % 97 === 0 ? offMatrix : trackerStates[(n >> 3) % trackerStates.length]!;
      const id = `${beacon ? 'bcn' : 'trk'}-${String(n).padStart(7, '0')}`;
      ok = out.write(JSON.stringify({ id, profile: beacon ? 'beacon' : 'locator', site, labels, firmware }) + '\n');
    }
    if (i < DEVICES) out.once('drain', write);
    else out.end(resolve);
  };
  write();
});
const generateMs = performance.now() - generateStart;

const ms = (t: number): string => `${t.toFixed(0)} ms`;
console.log(`fleetform bench/diff — ${DEVICES.toLocaleString('en-US')} devices, fleet file ${(statSync(fleetPath).size / 2 ** 20).toFixed(0)} MiB (generated in ${ms(generateMs)})`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

for (let run = 1; run <= RUNS; run++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const devices = await readFleetFile(fleetPath);
  const t1 = performance.now();
  const cache = {};
  const [baseTree, headTree] = [await readRevisionTree({ dir, ref: 'HEAD~1', cache }), await readRevisionTree({ dir, ref: 'HEAD', cache })];
  const t2 = performance.now();
  const review = await reviewChange({ base: baseTree, head: headTree, devices, firmware: firmwarePort(), checks: VALIDATE_CHECKS });
  const t3 = performance.now();
  const markdown = renderMarkdown(review);
  const t4 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const impact = review.impact;
  console.log(
    `run ${run}: total ${ms(t4 - t0)} wall (${ms((cpu.user + cpu.system) / 1000)} CPU) = read fleet ${ms(t1 - t0)} + read revisions ${ms(t2 - t1)} + validate & impact ${ms(t3 - t2)} + render ${ms(t4 - t3)}` +
      ` | exit ${reviewExitCode(review)}, affected ${impact?.affected.toLocaleString('en-US')}, config ${impact?.config.changed.toLocaleString('en-US')},` +
      ` plan ${impact?.firmware.planChanged.toLocaleString('en-US')}, paths ${impact?.firmware.paths.length}, markdown ${markdown.length} chars`,
  );
  if (run === RUNS) console.log(`\n${args.includes('--markdown') ? markdown : markdown.split('\n')[0]}`);
}
rmSync(dir, { recursive: true, force: true });
