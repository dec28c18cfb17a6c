// bench/plan: plan 1,000,000 devices spread over 200 distinct reported combinations, against
//   (a) a constraints matrix of 3 components × 40 versions, and
//   (b) a bundles matrix of 300 bundles,
// through the FirmwarePlanner the engine uses (compatibility model per hardware, plans cached per
// (revision, hardware, target, reported combination)). Prints wall time per phase and peak RSS.
// Run: npx tsx bench/plan.ts [devices] [states]
import { cpus } from 'node:os';
import { FirmwarePlanner, type FirmwarePlan, type FirmwareTarget } from '../engine/firmware/index.ts';
import type { CompatibilityMatrix, FirmwareRelease, FirmwareVersions, Snapshot } from '../engine/model/index.ts';

const DEVICES = Number(process.argv[2] ?? 1_000_000);
const STATES = Number(process.argv[3] ?? 200);
const COMPONENTS = ['mcu', 'ble', 'lte'];

/** Deterministic pseudo-random numbers (mulberry32), so every run plans the same fleet. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function release(hardware: string, component: string, version: string, size: number, requires?: Record<string, string>): FirmwareRelease {
  return {
    apiVersion: 'fleetform/v1',
    kind: 'FirmwareRelease',
    metadata: { name: `${hardware}-${component}-${version}` },
    spec: { hardware, component, version, artifact: { url: `https://fw.example/${hardware}/${component}/${version}.bin`, sha256: '0'.repeat(64), size }, ...(requires ? { requires } : {}) },
  };
}

function snapshotOf(matrix: CompatibilityMatrix, releases: FirmwareRelease[]): Snapshot {
  const byComponent = new Map<string, FirmwareRelease[]>();
  for (const r of releases) byComponent.set(r.spec.component, [...(byComponent.get(r.spec.component) ?? []), r]);
  return {
    revision: `bench-${matrix.spec.hardware}`,
    resources: [],
    tenants: new Map(),
    profiles: new Map(),
    sites: new Map(),
    groups: [],
    releases: new Map([[matrix.spec.hardware, byComponent]]),
    matrices: new Map([[matrix.spec.hardware, matrix]]),
    rollouts: [],
    alertRules: [],
  };
}

/** (a) 3 × 40 versions; each release requires the other components within ±3 minor versions of its own. */
function constraintsFleet(): { snapshot: Snapshot; target: FirmwareTarget; states: FirmwareVersions[] } {
  const random = rng(1);
  const N = 40;
  const W = 3;
  const v = (i: number) => `1.${i}.0`;
  const releases: FirmwareRelease[] = [];
  for (const c of COMPONENTS) {
    for (let i = 0; i < N; i++) {
      const requires = Object.fromEntries(COMPONENTS.filter((d) => d !== c).map((d) => [d, `>=${v(Math.max(0, i - W))} <=${v(Math.min(N - 1, i + W))}`]));
      releases.push(release('sensor', c, v(i), 200_000 + Math.floor(random() * 800_000), requires));
    }
  }
  const matrix: CompatibilityMatrix = {
    apiVersion: 'fleetform/v1',
    kind: 'CompatibilityMatrix',
    metadata: { name: 'sensor' },
    spec: { hardware: 'sensor', components: COMPONENTS, strategy: 'constraints' },
  };
  const states = new Map<string, FirmwareVersions>();
  while (states.size < STATES) {
    const base = Math.floor(random() * N);
    // Most devices sit on good combinations; one in five reports a bad mix (off the matrix).
    const spread = random() < 0.8 ? W : 12;
    const state = Object.fromEntries(COMPONENTS.map((c) => [c, v(Math.min(N - 1, Math.max(0, base + Math.floor((random() * 2 - 1) * spread))))]));
    states.set(JSON.stringify(state), state);
  }
  return { snapshot: snapshotOf(matrix, releases), target: { components: Object.fromEntries(COMPONENTS.map((c) => [c, v(N - 1)])) }, states: [...states.values()] };
}

/**
 * (b) 300 bundles: a release history in which each bundle bumps one component of the previous one, and every
 * tenth bumps two at once with the half-way combination declared transitional (as the example fleet does).
 */
function bundlesFleet(): { snapshot: Snapshot; target: FirmwareTarget; states: FirmwareVersions[] } {
  const random = rng(2);
  const next: Record<string, number> = { mcu: 0, ble: 0, lte: 0 };
  const version = (c: string) => `2.${next[c]}.0`;
  const releases: FirmwareRelease[] = COMPONENTS.map((c) => release('tracker', c, version(c), 300_000 + Math.floor(random() * 3_000_000)));
  const bundles: { name: string; version: string; components: FirmwareVersions }[] = [{ name: 'app-3.0.0', version: '3.0.0', components: { mcu: '2.0.0', ble: '2.0.0', lte: '2.0.0' } }];
  const transitional: FirmwareVersions[] = [];
  const bump = (state: FirmwareVersions, c: string): FirmwareVersions => {
    next[c] = (next[c] as number) + 1;
    releases.push(release('tracker', c, version(c), 300_000 + Math.floor(random() * 3_000_000)));
    return { ...state, [c]: version(c) };
  };
  while (bundles.length < 300) {
    const n = bundles.length;
    const previous = (bundles[n - 1] as (typeof bundles)[number]).components;
    const first = COMPONENTS[Math.floor(random() * COMPONENTS.length)] as string;
    let state = bump(previous, first);
    if (n % 10 === 0) {
      transitional.push(state);
      state = bump(state, COMPONENTS[(COMPONENTS.indexOf(first) + 1) % COMPONENTS.length] as string);
    }
    bundles.push({ name: `app-3.${n}.0`, version: `3.${n}.0`, components: state });
  }
  const matrix: CompatibilityMatrix = {
    apiVersion: 'fleetform/v1',
    kind: 'CompatibilityMatrix',
    metadata: { name: 'tracker' },
    spec: { hardware: 'tracker', components: COMPONENTS, strategy: 'bundles', bundles, transitional },
  };
  const states = new Map<string, FirmwareVersions>();
  while (states.size < STATES) {
    const b = bundles[Math.floor(random() * bundles.length)] as (typeof bundles)[number];
    const state: Record<string, string> = { ...b.components };
    // One in ten reports a combination that is no bundle: one component a release or two ahead.
    if (random() < 0.1) {
      const c = COMPONENTS[Math.floor(random() * COMPONENTS.length)] as string;
      const current = Number((state[c] as string).split('.')[1]);
      state[c] = `2.${Math.min(next[c] as number, current + 1 + Math.floor(random() * 2))}.0`;
    }
    states.set(JSON.stringify(state), state);
  }
  return { snapshot: snapshotOf(matrix, releases), target: { bundle: (bundles[bundles.length - 1] as (typeof bundles)[number]).name }, states: [...states.values()] };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function run(label: string, fleet: { snapshot: Snapshot; target: FirmwareTarget; states: FirmwareVersions[] }): void {
  const hardware = [...fleet.snapshot.matrices.keys()][0] as string;
  // Each device has its own reported object, as if parsed from its check-in.
  const devices: FirmwareVersions[] = new Array(DEVICES);
  for (let i = 0; i < DEVICES; i++) devices[i] = { ...(fleet.states[(i * 7919) % fleet.states.length] as FirmwareVersions) };

  const planner = new FirmwarePlanner(fleet.snapshot);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const counts: Record<string, number> = {};
  let steps = 0;
  let bytes = 0;
  for (let i = 0; i < DEVICES; i++) {
    const plan: FirmwarePlan = planner.plan({ hardware, from: devices[i] as FirmwareVersions, target: fleet.target });
    counts[plan.status] = (counts[plan.status] ?? 0) + 1;
    steps += plan.steps.length;
    bytes += plan.totalBytes;
  }
  const total = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);

  // The cold part alone: every distinct combination planned once, no cache.
  const cold = new FirmwarePlanner(fleet.snapshot);
  const coldStart = performance.now();
  let longest = 0;
  for (const state of fleet.states) longest = Math.max(longest, cold.plan({ hardware, from: state, target: fleet.target }).steps.length);
  const coldMs = performance.now() - coldStart;

  console.log(`${label}`);
  console.log(`  devices ${DEVICES.toLocaleString('en-US')}, distinct reported combinations ${fleet.states.length}, plans computed ${planner.cache.misses}, cache hits ${planner.cache.hits.toLocaleString('en-US')}`);
  console.log(`  outcomes ${Object.entries(counts).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ')}; mean steps ${(steps / DEVICES).toFixed(2)}, longest ${longest}; mean download ${mb(bytes / DEVICES)}`);
  console.log(`  all devices: ${(total / 1000).toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (${((total * 1000) / DEVICES).toFixed(2)} µs/device); the ${fleet.states.length} distinct plans alone: ${coldMs.toFixed(0)} ms (${(coldMs / fleet.states.length).toFixed(2)} ms/plan)`);
}

console.log(`bench/plan — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
const t0 = performance.now();
run(`constraints: 3 components × 40 versions`, constraintsFleet());
run(`bundles: 300 bundles over 3 components`, bundlesFleet());
console.log(`total ${((performance.now() - t0) / 1000).toFixed(2)} s (including building 2 × ${DEVICES.toLocaleString('en-US')} device objects); peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);
