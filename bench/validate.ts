// Benchmark: a generated config repo of 10,000 documents, committed with the git CLI; load + validate + compile
// from the working tree, from git (loose objects) and from git after `git gc` (packed). Target: under 3 s.
// Run: npx tsx bench/validate.ts [--documents 10000] [--secrets 200] [--runs 3]
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const DOCUMENTS = flag('documents', 10_000);
const SECRETS = flag('secrets', 200);
const RUNS = flag('runs', 3);

const importStart = performance.now();
const config = await import('../engine/config/index.ts');
const gitAdapter = await import('../engine/git/index.ts');
const importMs = performance.now() - importStart;

const hex = (n: number): string => n.toString(16).padStart(8, '0').repeat(8);
const ROOT = join(import.meta.dirname, '..');
const identity = readFileSync(join(ROOT, 'demo/age-identity.txt'), 'utf8');
const recipient = readFileSync(join(ROOT, 'demo/age-recipient.txt'), 'utf8').trim();

/** Writes a fleet of `documents` documents: sites dominate, as in a real dealer network. */
async function generate(dir: string): Promise<{ counts: Record<string, number> }> {
  const counts: Record<string, number> = {};
  const files = new Map<string, string[]>();
  const add = (file: string, kind: string, yaml: string): void => {
    counts[kind] = (counts[kind] ?? 0) + 1;
    let docs = files.get(file);
    if (!docs) files.set(file, (docs = []));
    docs.push(`apiVersion: fleetform/v1\nkind: ${kind}\n${yaml}`);
  };
  const TENANTS = 50;
  for (let t = 0; t < TENANTS; t++) add('fleet-config/tenants/tenants.yaml', 'Tenant', `metadata: { name: tenant-${t} }\nspec: { displayName: "Dealer group ${t}" }\n`);
  const VERSIONS = 400; // releases per component
  const components = ['mcu', 'ble', 'lte'];
  for (const component of components) {
    for (let v = 0; v < VERSIONS; v++) {
      add(
        `firmware-manifests/tracker-${component}-${Math.floor(v / 50)}.yaml`,
        'FirmwareRelease',
        `metadata: { name: tracker-${component}-1.${v}.0 }
spec:
  hardware: tracker
  component: ${component}
  version: 1.${v}.0
  artifact: { url: "https://fw.example/tracker/${component}/1.${v}.0.bin", sha256: "${hex(v * 7 + component.length)}", size: ${200000 + v * 37} }
`,
      );
    }
  }
  const bundles: string[] = [];
  for (let b = 0; b < 3 * VERSIONS - 2; b++) {
    // a staircase: one component moves per bundle
    const v = (i: number): number => Math.floor((b + 2 - i) / 3);
    bundles.push(`    - { name: app-${b}, version: 3.${b}.0, components: { mcu: 1.${v(0)}.0, ble: 1.${v(1)}.0, lte: 1.${v(2)}.0 } }`);
  }
  add('firmware-manifests/matrix-tracker.yaml', 'CompatibilityMatrix', `metadata: { name: tracker }\nspec:\n  hardware: tracker\n  components: [mcu, ble, lte]\n  strategy: bundles\n  bundles:\n${bundles.join('\n')}\n`);
  const PROFILES = 10;
  for (let p = 0; p < PROFILES; p++) {
    add(
      'fleet-config/profiles/profiles.yaml',
      'DeviceProfile',
      `metadata: { name: profile-${p} }
spec:
  hardware: tracker
  components: [mcu, ble, lte]
  role: locator
  checkIn: { intervalSeconds: 1800 }
  configSchema:
    type: object
    properties:
      reportIntervalSeconds: { type: integer, minimum: 60 }
      wifi: { type: array, items: { type: object, properties: { password: { type: string, x-secret: true } } } }
  defaults: { reportIntervalSeconds: 1800, gps: { mode: on-movement } }
`,
    );
  }
  const ROLLOUTS = 200;
  const RULES = 300;
  const GROUPS = 2000;
  const fixed = Object.values(counts).reduce((a, b) => a + b, 0) + ROLLOUTS + RULES + GROUPS;
  const SITES = Math.max(1, DOCUMENTS - fixed);
  let secrets = 0;
  for (let s = 0; s < SITES; s++) {
    let wifi = '';
    if (secrets < SECRETS && s % Math.max(1, Math.floor(SITES / SECRETS)) === 0) {
      secrets++;
      const armored = await config.encryptSecret(`site-${s}-wifi`, [recipient]);
      wifi = `  wifi:\n    - ssid: Site-${s}\n      password:\n        encrypted: |\n${armored.trimEnd().split('\n').map((l) => '          ' + l).join('\n')}\n`;
    }
    add(
      `fleet-config/sites/site-${String(s).padStart(5, '0')}.yaml`,
      'Site',
      `metadata: { name: site-${s}, labels: { region: r${s % 7} } }
spec:
  tenant: tenant-${s % TENANTS}
  timezone: ${['America/Denver', 'America/Chicago', 'Europe/Berlin', 'Asia/Tokyo'][s % 4]}
  location: { lat: ${(s % 170) - 85}.5, lon: ${(s % 350) - 175}.25 }
  maintenanceWindow: { start: "01:00", end: "05:00" }
  beacons:
    - { id: "B-${s}-1", lat: 1.0, lon: 2.0 }
    - { id: "B-${s}-2", lat: 1.1, lon: 2.1 }
  cellTowers:
    - { mcc: 310, mnc: 410, lac: ${s % 65000}, cid: ${s}, lat: 1.0, lon: 2.0, rangeM: 900 }
  config: { reportIntervalSeconds: ${600 + (s % 10) * 60} }
${wifi}`,
    );
  }
  for (let g = 0; g < GROUPS; g++) {
    add(
      `fleet-config/groups/groups-${Math.floor(g / 100)}.yaml`,
      'DeviceGroup',
      `metadata: { name: group-${g} }
spec:
  selector: { matchLabels: { cohort: c${g} }, matchExpressions: [{ key: zone, operator: In, values: [a, b] }] }
  profiles: [profile-${g % PROFILES}]
  sites: [site-${g % SITES}]
  priority: ${g % 50}
  config: { reportIntervalSeconds: ${300 + g} }
`,
    );
  }
  for (let r = 0; r < ROLLOUTS; r++) {
    add(
      `firmware-manifests/rollouts-${Math.floor(r / 50)}.yaml`,
      'Rollout',
      `metadata: { name: rollout-${r} }
spec:
  selector: { profiles: [profile-${r % PROFILES}], groups: [group-${r}] }
  target: { bundle: app-${(r * 5) % bundles.length} }
  waves: [{ name: canary, percent: 5 }, { name: wider, percent: 25 }, { name: all, percent: 100 }]
  activeWave: canary
  throttle: { maxInFlight: 500, maxInFlightPerCell: 20 }
  failurePolicy: { maxRetries: 10, retryDelaySeconds: 1800, coolDownSeconds: 86400, maxCycles: 3 }
`,
    );
  }
  for (let r = 0; r < RULES; r++) {
    add(
      `rules/rules-${Math.floor(r / 50)}.yaml`,
      'AlertRule',
      `metadata: { name: rule-${r} }
spec:
  scope: device
  severity: warning
  conditions: { all: [{ fact: battery, operator: lessThan, value: ${r % 50} }, { fact: status, operator: notEqual, value: offline }] }
  dedupeKey: "{{device.id}}"
`,
    );
  }
  for (const [file, docs] of files) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), docs.join('---\n'));
  }
  counts.files = files.size;
  counts.secrets = secrets;
  return { counts };
}

function git(dir: string, ...gitArgs: string[]): string {
  return execFileSync('git', gitArgs, {
    cwd: dir,
    env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@example.com' },
  }).toString().trim();
}

interface Timing {
  readMs: number;
  compileMs: number;
  totalMs: number;
  /** CPU time of the process, all threads (workers and GC included): what the work costs, whatever the machine's load. */
  cpuMs: number;
}

let parser: () => import('../engine/config/index.ts').YamlFilesParser = () => config.parallelYamlParser();

let checks: readonly import('../engine/config/index.ts').SnapshotCheck[] = [];

async function measure(read: () => Promise<import('../engine/model/index.ts').SourceTree>, withIdentity: boolean): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const tree = await read();
  const t1 = performance.now();
  const result = await config.compileSnapshot(tree, { ...(withIdentity ? { identity } : {}), parseFiles: parser(), checks });
  const t2 = performance.now();
  if (!result.snapshot) {
    throw new Error(`generated repo does not compile:\n${result.issues.slice(0, 5).map((i) => JSON.stringify(i)).join('\n')}`);
  }
  const cpu = process.cpuUsage(c0);
  return { readMs: t1 - t0, compileMs: t2 - t1, totalMs: t2 - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function series(label: string, read: () => Promise<import('../engine/model/index.ts').SourceTree>, withIdentity: boolean): Promise<void> {
  const runs: Timing[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(read, withIdentity));
  const fmt = (n: number): string => `${n.toFixed(0).padStart(5)} ms`;
  console.log(
    `${label.padEnd(48)} read ${fmt(median(runs.map((r) => r.readMs)))}  compile ${fmt(median(runs.map((r) => r.compileMs)))}  total ${fmt(median(runs.map((r) => r.totalMs)))}  cpu ${fmt(median(runs.map((r) => r.cpuMs)))}  (first run ${fmt(runs[0]!.totalMs)})`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'fleetform-bench-'));
try {
  const genStart = performance.now();
  const { counts } = await generate(dir);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'generated fleet');
  const documents = Object.entries(counts).filter(([k]) => k !== 'files' && k !== 'secrets').reduce((a, [, v]) => a + v, 0);
  console.log(`fleetform bench/validate — ${documents} documents in ${counts.files} files, ${counts.secrets} encrypted secrets`);
  console.log(`  kinds: ${Object.entries(counts).filter(([k]) => k !== 'files' && k !== 'secrets').map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  generated and committed in ${(performance.now() - genStart).toFixed(0)} ms; engine/config import (schemas compiled once) ${importMs.toFixed(0)} ms`);
  console.log(`  node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), median of ${RUNS} runs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await series('working tree, form-only secrets', () => gitAdapter.readWorkingTree({ dir }), false);
  await series('working tree, secrets decrypted', () => gitAdapter.readWorkingTree({ dir }), true);
  await series('git HEAD (loose objects), form-only', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false);
  git(dir, 'gc', '-q', '--prune=now');
  await series('git HEAD after git gc (packed), form-only', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false);
  await series('git HEAD after git gc (packed), decrypted', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), true);
  checks = (await import('../engine/config/index.ts')).VALIDATE_CHECKS;
  await series('git HEAD packed, + rule and reachability checks', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false);
  checks = [];
  parser = () => config.parallelYamlParser({ threads: 1 });
  await series('git HEAD packed, form-only, one thread', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false);
  // The engine's case: the next revision changes one file; the parse cache keeps the rest.
  const cached = config.cachingYamlParser();
  parser = () => cached;
  await measure(() => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false); // warm the cache
  writeFileSync(join(dir, 'fleet-config/sites/site-00001.yaml'), 'apiVersion: fleetform/v1\nkind: Site\nmetadata: { name: site-1 }\nspec: { tenant: tenant-1, timezone: UTC }\n');
  git(dir, 'commit', '-q', '-am', 'one site changed');
  await series('next commit, one file changed, parse cache', () => gitAdapter.readRevisionTree({ dir, ref: 'HEAD' }), false);
  console.log(`  load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
