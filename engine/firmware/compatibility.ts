// Which firmware combinations are known-good, for both ways of declaring it:
//   bundles     — the declared bundles are the good states;
//   constraints — a state is good when every installed release's semver `requires` hold.
// Either strategy also accepts the matrix's `transitional` combinations, as intermediate states only.
import semver from 'semver';
import type { CompatibilityMatrix, FirmwareRelease, FirmwareVersions } from '../model/index.ts';

/** Why a combination is not known-good, as data. */
export type CompatibilityProblem =
  | { code: 'missing-component'; component: string; message: string }
  | { code: 'unknown-release'; component: string; version: string; message: string }
  | {
      code: 'requirement-unmet';
      /** The installed release that states the requirement… */
      component: string;
      version: string;
      /** …the component it constrains, the range, and what is installed there (null: nothing reported). */
      requires: string;
      range: string;
      installed: string | null;
      message: string;
    }
  | { code: 'not-a-known-combination'; message: string };

export interface StateAssessment {
  /** Stable or transitional: a device may be here. */
  good: boolean;
  /** A bundle (bundles) or a combination meeting every requirement (constraints): a device may stay here. */
  stable: boolean;
  /** Listed in the matrix's `transitional`: a stepping stone, not a place to stay. */
  transitional: boolean;
  /** Strategy `bundles`: the bundle this state is, if any. */
  bundle: string | null;
  /** Why the state is not stable (empty when it is). */
  problems: CompatibilityProblem[];
}

export interface FirmwareNeighbour {
  component: string;
  from: string | null;
  to: string;
  release: FirmwareRelease;
  /** The combination after the step. */
  state: FirmwareVersions;
  /** The step lands on a transitional combination. */
  transitional: boolean;
  downgrade: boolean;
}

/** Semver order, then plain string order so equal-precedence versions (build metadata) still sort stably. */
export function compareVersions(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va && vb) {
    const c = semver.compareBuild(va, vb);
    if (c !== 0) return c;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Code-point order: deterministic and locale-independent. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function describeVersions(state: FirmwareVersions, components: readonly string[] = Object.keys(state).sort(compareNames)): string {
  return components.map((c) => `${c} ${state[c] ?? '(none)'}`).join(', ');
}

/**
 * The compatibility of one hardware model: its matrix and its released versions, indexed for fast checks.
 * Components are kept sorted by name and versions by semver, so nothing depends on declaration order.
 */
export class CompatibilityModel {
  readonly matrix: CompatibilityMatrix;
  readonly strategy: 'bundles' | 'constraints';
  readonly hardware: string;
  /** Sorted by name. */
  readonly components: readonly string[];
  /** Per component (same order): released versions, semver ascending. */
  readonly versions: readonly (readonly string[])[];
  /** Per component: the release of each version (same order as `versions`). */
  readonly releases: readonly (readonly FirmwareRelease[])[];
  readonly allowDowngrade: boolean;
  /** Per component: version → index. */
  readonly versionIndex: readonly ReadonlyMap<string, number>[];
  /**
   * Strategy `constraints`: accepts[c][i][d][j] = 1 when release (c, versions[c][i]) accepts versions[d][j] on d
   * (1 for every j when it states nothing about d).
   */
  readonly accepts: readonly (readonly (readonly Uint8Array[])[])[];
  /** Per component and version: the release states a requirement on a component outside the matrix (never met). */
  readonly foreignRequirement: readonly (readonly (string | null)[])[];
  /** Per component: downgrade[c][from * n + to] = 1 when stepping between these released versions goes down. */
  readonly downgrade: readonly Uint8Array[];
  /** Bundles sorted by name; transitional combinations in declaration order. */
  readonly bundles: readonly { name: string; version: string; components: FirmwareVersions }[];
  readonly transitional: readonly FirmwareVersions[];
  private readonly bundleKeys: ReadonlyMap<string, string>;
  private readonly transitionalKeys: ReadonlySet<string>;

  constructor(matrix: CompatibilityMatrix, releases: readonly FirmwareRelease[]) {
    this.matrix = matrix;
    this.strategy = matrix.spec.strategy;
    this.hardware = matrix.spec.hardware;
    this.allowDowngrade = matrix.spec.allowDowngrade === true;
    this.components = [...new Set(matrix.spec.components)].sort(compareNames);
    const versions: string[][] = [];
    const byComponent: FirmwareRelease[][] = [];
    for (const component of this.components) {
      // One release per version; a duplicate (a config error) resolves to the first by name.
      const found = new Map<string, FirmwareRelease>();
      const candidates = releases
        .filter((r) => r.spec.hardware === this.hardware && r.spec.component === component)
        .sort((a, b) => compareNames(a.metadata.name, b.metadata.name));
      for (const r of candidates) if (!found.has(r.spec.version)) found.set(r.spec.version, r);
      const sorted = [...found.keys()].sort(compareVersions);
      versions.push(sorted);
      byComponent.push(sorted.map((v) => found.get(v) as FirmwareRelease));
    }
    this.versions = versions;
    this.releases = byComponent;
    this.versionIndex = versions.map((vs) => new Map(vs.map((v, i) => [v, i])));

    const accepts: Uint8Array[][][] = [];
    const foreign: (string | null)[][] = [];
    this.components.forEach((_, c) => {
      const perVersion: Uint8Array[][] = [];
      const foreignPerVersion: (string | null)[] = [];
      for (const release of byComponent[c] ?? []) {
        const requires = release.spec.requires ?? {};
        perVersion.push(
          this.components.map((other, d) => {
            const row = new Uint8Array((versions[d] ?? []).length).fill(1);
            const range = d === c ? undefined : requires[other];
            if (range !== undefined) (versions[d] ?? []).forEach((v, j) => (row[j] = satisfiesRange(v, range) ? 1 : 0));
            return row;
          }),
        );
        const outside = Object.keys(requires)
          .filter((k) => !this.components.includes(k))
          .sort(compareNames);
        foreignPerVersion.push(outside[0] ?? null);
      }
      accepts.push(perVersion);
      foreign.push(foreignPerVersion);
    });
    this.accepts = accepts;
    this.downgrade = versions.map((vs) => {
      const n = vs.length;
      const parsed = vs.map((v) => semver.parse(v));
      const table = new Uint8Array(n * n);
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          const from = parsed[a];
          const to = parsed[b];
          table[a * n + b] = from && to && (to.compare(from) || to.compareBuild(from)) < 0 ? 1 : 0;
        }
      }
      return table;
    });
    this.foreignRequirement = foreign;

    this.bundles = [...(matrix.spec.bundles ?? [])]
      .map((b) => ({ name: b.name, version: b.version, components: b.components }))
      .sort((a, b) => compareNames(a.name, b.name));
    this.transitional = matrix.spec.transitional ?? [];
    const bundleKeys = new Map<string, string>();
    for (const b of this.bundles) if (!bundleKeys.has(this.key(b.components))) bundleKeys.set(this.key(b.components), b.name);
    this.bundleKeys = bundleKeys;
    this.transitionalKeys = new Set(this.transitional.map((t) => this.key(t)));
  }

  /** Stable key of a combination over the matrix's components (other components are ignored). */
  key(state: FirmwareVersions): string {
    // A plain loop: this runs once per device check-in (the plan cache key).
    let key = '';
    for (const c of this.components) key += (Object.hasOwn(state, c) ? (state[c] as string) : '\u0000') + '\u0001';
    return key;
  }

  /** The combination restricted to the matrix's components, in sorted component order. */
  normalize(state: FirmwareVersions): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.components) if (Object.hasOwn(state, c) && state[c] !== undefined) out[c] = state[c] as string;
    return out;
  }

  release(component: string, version: string): FirmwareRelease | null {
    const c = this.components.indexOf(component);
    const i = this.versionIndex[c]?.get(version);
    return i === undefined ? null : (this.releases[c]?.[i] ?? null);
  }

  /** The bundle with this name, or else the one shipping as this application version. */
  bundle(nameOrVersion: string): { name: string; version: string; components: FirmwareVersions } | null {
    return this.bundles.find((b) => b.name === nameOrVersion) ?? this.bundles.find((b) => b.version === nameOrVersion) ?? null;
  }

  isTransitional(state: FirmwareVersions): boolean {
    return this.transitionalKeys.has(this.key(state));
  }

  /** Good: a device may be in this state (stable or transitional). */
  isGood(state: FirmwareVersions): boolean {
    return this.isTransitional(state) || this.stableProblems(state).length === 0;
  }

  isStable(state: FirmwareVersions): boolean {
    return this.stableProblems(state).length === 0;
  }

  assess(state: FirmwareVersions): StateAssessment {
    const problems = this.stableProblems(state);
    const transitional = this.isTransitional(state);
    return {
      good: transitional || problems.length === 0,
      stable: problems.length === 0,
      transitional,
      bundle: this.strategy === 'bundles' ? (this.bundleKeys.get(this.key(state)) ?? null) : null,
      problems,
    };
  }

  /** Why the state is not a stable good state; empty when it is. */
  stableProblems(state: FirmwareVersions): CompatibilityProblem[] {
    const problems: CompatibilityProblem[] = [];
    for (const c of this.components) {
      if (!Object.hasOwn(state, c) || state[c] === undefined) {
        problems.push({ code: 'missing-component', component: c, message: `no ${c} firmware reported` });
      }
    }
    if (this.strategy === 'bundles') {
      if (problems.length === 0 && !this.bundleKeys.has(this.key(state))) {
        problems.push({
          code: 'not-a-known-combination',
          message: `${describeVersions(this.normalize(state), this.matrix.spec.components)} is not a declared bundle`,
        });
      }
      return problems;
    }
    this.components.forEach((component, c) => {
      const version = state[component];
      if (version === undefined || !Object.hasOwn(state, component)) return;
      const i = this.versionIndex[c]?.get(version);
      if (i === undefined) {
        problems.push({ code: 'unknown-release', component, version, message: `${component} ${version} is not a released version of ${this.hardware}/${component}` });
        return;
      }
      const release = this.releases[c]?.[i] as FirmwareRelease;
      const requires = release.spec.requires ?? {};
      for (const other of Object.keys(requires).sort(compareNames)) {
        if (other === component) continue;
        const range = requires[other] as string;
        const installed = Object.hasOwn(state, other) ? (state[other] ?? null) : null;
        if (installed !== null && satisfiesRange(installed, range)) continue;
        problems.push({
          code: 'requirement-unmet',
          component,
          version,
          requires: other,
          range,
          installed,
          message: `${component} ${version} requires ${other} ${range}, but ${installed === null ? `no ${other} is installed` : `${other} ${installed} is installed`}`,
        });
      }
    });
    return problems;
  }

  /** Whether moving `component` from `from` to `to` goes down (unknown or unparsable versions never do). */
  isDowngrade(from: string | null, to: string): boolean {
    if (from === null || !semver.valid(from) || !semver.valid(to)) return false;
    return semver.compareBuild(to, from) < 0;
  }

  /**
   * Good states one step away: exactly one component changed to another released version of it.
   * Downgrades only with permission (the matrix's, or the caller's, e.g. a rollout's).
   */
  goodNeighbours(state: FirmwareVersions, options: { allowDowngrade?: boolean } = {}): FirmwareNeighbour[] {
    const allowDowngrade = this.allowDowngrade || options.allowDowngrade === true;
    const base = this.normalize(state);
    const out: FirmwareNeighbour[] = [];
    this.components.forEach((component, c) => {
      const from = base[component] ?? null;
      (this.versions[c] ?? []).forEach((to, j) => {
        if (to === from) return;
        const downgrade = this.isDowngrade(from, to);
        if (downgrade && !allowDowngrade) return;
        const next = { ...base, [component]: to };
        const transitional = this.isTransitional(next);
        if (!transitional && !this.isStable(next)) return;
        out.push({ component, from, to, release: this.releases[c]?.[j] as FirmwareRelease, state: next, transitional: transitional && !this.isStable(next), downgrade });
      });
    });
    return out;
  }
}

/** Semver `satisfies` as npm applies it: ranges as npm writes them; a pre-release matches only a range naming the same [major, minor, patch] with a pre-release. */
export function satisfiesRange(version: string, range: string): boolean {
  try {
    return semver.satisfies(version, range);
  } catch {
    return false;
  }
}

export function compatibilityModel(matrix: CompatibilityMatrix, releases: readonly FirmwareRelease[]): CompatibilityModel {
  return new CompatibilityModel(matrix, releases);
}
