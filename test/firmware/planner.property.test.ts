// The planner against a brute-force search over every combination of released versions, on random small
// matrices of both strategies: the path is valid at every step, has the fewest steps (after the fewest steps
// back onto the matrix, for a device off it), the fewest bytes among those, exists exactly when some path
// exists, and does not depend on declaration order.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import semver from 'semver';
import { planFirmwarePath, type FirmwarePlan, type FirmwareTarget } from '../../engine/firmware/index.ts';
import type { CompatibilityMatrix, FirmwareRelease, FirmwareVersions } from '../../engine/model/index.ts';
import { bundlesMatrix, constraintsMatrix, release } from './builders.ts';

const HW = 'hw';
const COMPONENT_POOL = ['ble', 'lte', 'mcu'];
const VERSION_POOL = ['0.9.0', '1.0.0', '1.1.0-rc.1', '1.1.0', '1.2.0', '2.0.0'];
const UNRELEASED_POOL = ['0.1.0', '1.5.0', '3.0.0-dev'];
const RANGE_POOL = ['>=1.0.0', '<1.2.0', '^1.0.0', '1.x', '>=1.1.0-rc.1', '*', '>=0.9.0 <2.0.0', '~1.1.0', '1.0.0 || 2.0.0', '>=1.1.0 <2.0.0-0', '1.1.0-rc.1'];
const SIZE_POOL = [100, 200, 300];

interface Scenario {
  strategy: 'bundles' | 'constraints';
  components: string[];
  versions: Record<string, string[]>;
  releases: FirmwareRelease[];
  bundles: { name: string; version: string; components: FirmwareVersions }[];
  transitional: FirmwareVersions[];
  matrixDowngrade: boolean;
  rolloutDowngrade: boolean;
  from: FirmwareVersions;
  target: FirmwareTarget;
  seed: number;
}

/** Every combination of the given values per component. */
function combinations(components: readonly string[], values: Readonly<Record<string, readonly (string | undefined)[]>>): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const c of components) {
    const next: Record<string, string>[] = [];
    for (const partial of out) for (const v of values[c] ?? []) next.push(v === undefined ? { ...partial } : { ...partial, [c]: v });
    out = next;
  }
  return out;
}

const scenarioArb = (strategy: 'bundles' | 'constraints'): fc.Arbitrary<Scenario> =>
  fc
    .record({
      components: fc.shuffledSubarray(COMPONENT_POOL, { minLength: 2, maxLength: 3 }),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
    })
    .chain(({ components, seed }) =>
      fc
        .record({
          versions: fc.record(Object.fromEntries(components.map((c) => [c, fc.shuffledSubarray(VERSION_POOL, { minLength: 1, maxLength: strategy === 'bundles' ? 3 : 4 })]))) as fc.Arbitrary<Record<string, string[]>>,
          sizes: fc.array(fc.constantFrom(...SIZE_POOL), { minLength: 24, maxLength: 24 }),
          requires: fc.array(fc.array(fc.tuple(fc.constantFrom(...components), fc.constantFrom(...RANGE_POOL)), { maxLength: 2 }), { minLength: 24, maxLength: 24 }),
          bundlePicks: fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
          fromBundle: fc.nat(),
          transitionalPicks: fc.array(fc.nat(), { maxLength: 4 }),
          matrixDowngrade: fc.boolean(),
          rolloutDowngrade: fc.boolean(),
          fromPicks: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 9 })), { minLength: 3, maxLength: 3 }),
          targetKind: fc.constantFrom('bundle-name', 'bundle-version', 'components'),
          targetPicks: fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.boolean(), fc.constantFrom(...RANGE_POOL)), { minLength: 3, maxLength: 3 }),
          targetPick: fc.nat(),
        })
        .map((r): Scenario => {
          const releases: FirmwareRelease[] = [];
          let n = 0;
          for (const c of components) {
            for (const v of r.versions[c] ?? []) {
              const reqs = strategy === 'constraints' ? Object.fromEntries((r.requires[n] ?? []).filter(([d]) => d !== c)) : undefined;
              releases.push(release(HW, c, v, r.sizes[n] ?? 100, reqs && Object.keys(reqs).length > 0 ? reqs : undefined));
              n++;
            }
          }
          const all = combinations(components, r.versions);
          const bundleStates = [...new Set(r.bundlePicks.map((p) => p % all.length))].map((i) => all[i] as Record<string, string>);
          const bundles = strategy === 'bundles' ? bundleStates.map((state, i) => ({ name: `app-${i}`, version: `3.${i}.0`, components: state })) : [];
          const transitional = [...new Set(r.transitionalPicks.map((p) => p % all.length))].map((i) => all[i] as Record<string, string>);
          const from: Record<string, string> = {};
          components.forEach((c, i) => {
            const [pick, kind] = r.fromPicks[i] as [number, number];
            const vs = r.versions[c] ?? [];
            if (kind === 0) return; // nothing reported for this component
            if (kind === 1) from[c] = UNRELEASED_POOL[pick % UNRELEASED_POOL.length] as string;
            else from[c] = vs[pick % vs.length] as string;
          });
          // Half of the devices sit on a bundle, so the bundle graph is walked from inside as well as from off it.
          if (bundles.length > 0 && r.fromBundle % 2 === 0) Object.assign(from, (bundles[r.fromBundle % bundles.length] as (typeof bundles)[number]).components);
          let target: FirmwareTarget;
          if (strategy === 'bundles' && r.targetKind !== 'components' && bundles.length > 0) {
            const b = bundles[r.targetPick % bundles.length] as (typeof bundles)[number];
            target = { bundle: r.targetKind === 'bundle-name' ? b.name : b.version };
          } else {
            const wanted: Record<string, string> = {};
            components.forEach((c, i) => {
              const [use, pick, exact, range] = r.targetPicks[i] as [boolean, number, boolean, string];
              const vs = r.versions[c] ?? [];
              if (use) wanted[c] = exact ? (vs[pick % vs.length] as string) : range;
            });
            target = { components: wanted };
          }
          return { strategy, components, versions: r.versions, releases, bundles, transitional, matrixDowngrade: r.matrixDowngrade, rolloutDowngrade: r.rolloutDowngrade, from, target, seed };
        }),
    );

function matrixOf(s: Scenario, components = s.components, bundles = s.bundles, transitional = s.transitional): CompatibilityMatrix {
  const options = { transitional, allowDowngrade: s.matrixDowngrade };
  return s.strategy === 'bundles' ? bundlesMatrix(HW, components, bundles, options) : constraintsMatrix(HW, components, options);
}

// ── the brute force: written from the domain rules, sharing nothing with the planner ──

const same = (a: FirmwareVersions, b: FirmwareVersions, components: readonly string[]): boolean => components.every((c) => a[c] === b[c]);

const memo = new WeakMap<Scenario, Map<string, boolean>>();
function stable(s: Scenario, state: FirmwareVersions): boolean {
  let cache = memo.get(s);
  if (!cache) memo.set(s, (cache = new Map()));
  const k = JSON.stringify(s.components.map((c) => state[c] ?? null));
  let value = cache.get(k);
  if (value === undefined) cache.set(k, (value = stableUncached(s, state)));
  return value;
}

function stableUncached(s: Scenario, state: FirmwareVersions): boolean {
  if (!s.components.every((c) => state[c] !== undefined)) return false;
  if (s.strategy === 'bundles') return s.bundles.some((b) => same(b.components, state, s.components));
  return s.components.every((c) => {
    const rel = s.releases.find((r) => r.spec.component === c && r.spec.version === state[c]);
    if (!rel) return false;
    return Object.entries(rel.spec.requires ?? {}).every(([d, range]) => state[d] !== undefined && semver.satisfies(state[d] as string, range));
  });
}

function good(s: Scenario, state: FirmwareVersions): boolean {
  return stable(s, state) || s.transitional.some((t) => same(t, state, s.components));
}

function matchesTarget(s: Scenario, state: FirmwareVersions): boolean {
  const t = s.target;
  if ('bundle' in t) {
    const b = s.bundles.find((x) => x.name === t.bundle) ?? s.bundles.find((x) => x.version === t.bundle);
    return b !== undefined && same(b.components, state, s.components);
  }
  return Object.entries(t.components).every(([c, spec]) => state[c] !== undefined && (state[c] === spec || semver.satisfies(state[c] as string, spec)));
}

function isDowngrade(from: string | undefined, to: string): boolean {
  return from !== undefined && semver.valid(from) !== null && semver.compareBuild(to, from) < 0;
}

/** The best (stepsBackOnMatrix, steps, bytes) over every walk, by dynamic programming over walk lengths; null when none exists. */
function bruteForce(s: Scenario): { prefix: number; steps: number; bytes: number } | null {
  const allowDown = s.matrixDowngrade || s.rolloutDowngrade;
  if (stable(s, s.from) && matchesTarget(s, s.from)) return { prefix: 0, steps: 0, bytes: 0 };
  const values: Record<string, (string | undefined)[]> = {};
  for (const c of s.components) {
    const vs: (string | undefined)[] = [...(s.versions[c] ?? [])];
    if (!vs.includes(s.from[c])) vs.push(s.from[c]);
    values[c] = vs;
  }
  const states = combinations(s.components, values);
  const maxLength = states.length + 1;
  const key = (st: FirmwareVersions, prefix: number | null): string => JSON.stringify([s.components.map((c) => st[c] ?? null), prefix]);
  let layer = new Map<string, { state: FirmwareVersions; prefix: number | null; bytes: number }>();
  const fromPrefix = good(s, s.from) ? 0 : null;
  layer.set(key(s.from, fromPrefix), { state: s.from, prefix: fromPrefix, bytes: 0 });
  let best: { prefix: number; steps: number; bytes: number } | null = null;
  for (let length = 1; length <= maxLength; length++) {
    const next = new Map<string, { state: FirmwareVersions; prefix: number | null; bytes: number }>();
    for (const { state, prefix, bytes } of layer.values()) {
      const wasGood = good(s, state);
      for (const rel of s.releases) {
        const c = rel.spec.component;
        if (state[c] === rel.spec.version) continue;
        if (isDowngrade(state[c], rel.spec.version) && !allowDown) continue;
        const after = { ...state, [c]: rel.spec.version };
        const isGood = good(s, after);
        if (wasGood && !isGood) continue;
        const p = prefix ?? (isGood ? length : null);
        const total = bytes + rel.spec.artifact.size;
        if (p !== null && stable(s, after) && matchesTarget(s, after)) {
          const candidate = { prefix: p, steps: length, bytes: total };
          if (!best || candidate.prefix < best.prefix || (candidate.prefix === best.prefix && (candidate.steps < best.steps || (candidate.steps === best.steps && candidate.bytes < best.bytes)))) best = candidate;
        }
        const k = key(after, p);
        const existing = next.get(k);
        if (!existing || total < existing.bytes) next.set(k, { state: after, prefix: p, bytes: total });
      }
    }
    layer = next;
  }
  return best;
}

/** Replays the plan from the reported state and checks every step against the domain rules. */
function expectValidPath(s: Scenario, plan: FirmwarePlan): void {
  const allowDown = s.matrixDowngrade || s.rolloutDowngrade;
  let state: FirmwareVersions = { ...s.from };
  let onMatrix = good(s, state);
  let bytes = 0;
  for (const step of plan.steps) {
    expect(step.from).toBe(state[step.component] ?? null);
    const rel = s.releases.find((r) => r.spec.component === step.component && r.spec.version === step.to);
    expect(rel, `${step.component} ${step.to} is a release`).toBeDefined();
    expect(step.bytes).toBe(rel?.spec.artifact.size);
    expect(step.to).not.toBe(step.from);
    if (!allowDown) expect(isDowngrade(state[step.component], step.to)).toBe(false);
    state = { ...state, [step.component]: step.to };
    expect(step.after).toEqual(state);
    if (onMatrix) expect(good(s, state), 'a device on the matrix never leaves it').toBe(true);
    onMatrix ||= good(s, state);
    bytes += step.bytes;
  }
  expect(stable(s, state) && matchesTarget(s, state)).toBe(true);
  expect(plan.totalBytes).toBe(bytes);
}

/** Compares step sequences: component name first (code points), then version (semver). */
function compareSequences(a: readonly [string, string][], b: readonly [string, string][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [ca, va] = a[i] as [string, string];
    const [cb, vb] = b[i] as [string, string];
    if (ca !== cb) return ca < cb ? -1 : 1;
    const c = semver.compareBuild(va, vb);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Every optimal walk (same back-on-matrix step, steps and bytes as the best), by depth-first enumeration: the smallest sequence. */
function smallestOptimalSequence(s: Scenario, best: { prefix: number; steps: number; bytes: number }): [string, string][] | null {
  const allowDown = s.matrixDowngrade || s.rolloutDowngrade;
  let smallest: [string, string][] | null = null;
  const walk = (state: FirmwareVersions, sequence: [string, string][], bytes: number, prefix: number | null): void => {
    if (bytes > best.bytes) return;
    if (sequence.length === best.steps) {
      if (prefix === best.prefix && bytes === best.bytes && stable(s, state) && matchesTarget(s, state)) {
        if (smallest === null || compareSequences(sequence, smallest) < 0) smallest = [...sequence];
      }
      return;
    }
    const wasGood = good(s, state);
    for (const rel of s.releases) {
      const c = rel.spec.component;
      if (state[c] === rel.spec.version) continue;
      if (isDowngrade(state[c], rel.spec.version) && !allowDown) continue;
      const after = { ...state, [c]: rel.spec.version };
      const isGood = good(s, after);
      if (wasGood && !isGood) continue;
      sequence.push([c, rel.spec.version]);
      walk(after, sequence, bytes + rel.spec.artifact.size, prefix ?? (isGood ? sequence.length : null));
      sequence.pop();
    }
  };
  walk(s.from, [], 0, good(s, s.from) ? 0 : null);
  return smallest;
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function reordered(s: Scenario): { matrix: CompatibilityMatrix; releases: FirmwareRelease[] } {
  const releases = shuffle(s.releases, s.seed).map((r) => ({
    ...r,
    spec: { ...r.spec, ...(r.spec.requires ? { requires: Object.fromEntries(shuffle(Object.entries(r.spec.requires), s.seed + 1)) } : {}) },
  }));
  return {
    matrix: matrixOf(s, shuffle(s.components, s.seed + 2), shuffle(s.bundles, s.seed + 3), shuffle(s.transitional, s.seed + 4)),
    releases,
  };
}

const summary = (plan: FirmwarePlan) => ({ status: plan.status, steps: plan.steps.map((x) => [x.component, x.from, x.to]), totalBytes: plan.totalBytes });

describe.each(['bundles', 'constraints'] as const)('the planner on random %s matrices, against brute force', (strategy) => {
  it('finds a valid path exactly when one exists, with the fewest steps back onto the matrix, then steps, then bytes, then the smallest step sequence', () => {
    let planned = 0;
    let blocked = 0;
    let offMatrix = 0;
    fc.assert(
      fc.property(scenarioArb(strategy), (s) => {
        const plan = planFirmwarePath({ matrix: matrixOf(s), releases: s.releases, from: s.from, target: s.target, allowDowngrade: s.rolloutDowngrade });
        const expected = bruteForce(s);
        if (expected === null) {
          expect(plan.status).toBe('blocked');
          expect(plan.reasons.length).toBeGreaterThan(0);
          blocked++;
          return;
        }
        expect(plan.status).not.toBe('blocked');
        expectValidPath(s, plan);
        expect(plan.steps.length).toBe(expected.steps);
        expect(plan.totalBytes).toBe(expected.bytes);
        if (expected.steps > 0 && expected.steps <= 4) {
          // Ties beyond bytes: the smallest step sequence among all optimal walks.
          expect(plan.steps.map((x) => [x.component, x.to])).toEqual(smallestOptimalSequence(s, expected));
        }
        if (expected.steps === 0) expect(plan.status).toBe('up-to-date');
        else if (!good(s, s.from)) {
          expect(plan.status).toBe('off-matrix');
          expect(plan.backOnMatrixAtStep).toBe(expected.prefix);
          offMatrix++;
        } else expect(plan.status).toBe('planned');
        planned++;
      }),
      { numRuns: 400 },
    );
    // The generator must exercise every outcome, or the property says little.
    expect(planned).toBeGreaterThan(20);
    expect(blocked).toBeGreaterThan(5);
    expect(offMatrix).toBeGreaterThan(5);
  });

  it('returns the same path whatever the order of components, releases, requirements, bundles and transitional combinations', () => {
    fc.assert(
      fc.property(scenarioArb(strategy), (s) => {
        const plan = planFirmwarePath({ matrix: matrixOf(s), releases: s.releases, from: s.from, target: s.target, allowDowngrade: s.rolloutDowngrade });
        const { matrix, releases } = reordered(s);
        const again = planFirmwarePath({ matrix, releases, from: s.from, target: s.target, allowDowngrade: s.rolloutDowngrade });
        expect(summary(again)).toEqual(summary(plan));
      }),
      { numRuns: 300 },
    );
  });
});
