// The upgrade path of one device: from what it reports to a target, one component per step, every state
// after a step known-good; fewest steps, then fewest bytes, then the lexicographically smallest step
// sequence (components by name, versions by semver) so the answer never depends on declaration order.
//
// The search is a layered breadth-first search over combinations encoded as integers (one mixed-radix digit
// per component: its released versions, plus one slot for what the device runs when that is no release).
// Every step costs one, so layer k holds exactly the states k steps away; within a layer each state keeps
// the best (bytes, sequence) label of its predecessors, which is optimal because every label is optimal
// for its prefix. A device off the matrix may cross bad states until it first reaches a good one; from
// then on it never leaves the good ones.
import semver from 'semver';
import type { CompatibilityMatrix, FirmwareRelease, FirmwareVersions, Rollout, RolloutTarget, Snapshot } from '../model/index.ts';
import {
  CompatibilityModel,
  compareNames,
  describeVersions,
  satisfiesRange,
  type CompatibilityProblem,
} from './compatibility.ts';

/** Either a bundle (by name or application version), or per-component exact versions or semver ranges. */
export type FirmwareTarget = RolloutTarget;

export type PlanStatus = 'up-to-date' | 'planned' | 'off-matrix' | 'blocked';

export interface PlannedStep {
  component: string;
  /** null when the device reported no version of the component. */
  from: string | null;
  to: string;
  /** The release's artifact size: what the device downloads. */
  bytes: number;
  release: FirmwareRelease;
  /** The combination after the step. */
  after: FirmwareVersions;
  /** Where the step lands: a stable state, a transitional one, or (only on the way back onto the matrix) a bad one. */
  lands: 'stable' | 'transitional' | 'off-matrix';
}

/** Why there is no path, as data. */
export type BlockReason =
  | { code: 'unknown-hardware'; hardware: string; message: string }
  | { code: 'unknown-bundle'; bundle: string; message: string }
  | { code: 'unknown-component'; component: string; message: string }
  | { code: 'no-release'; component: string; range: string; message: string }
  | { code: 'no-good-target'; message: string }
  | { code: 'downgrade-not-allowed'; component: string; from: string | null; to: string; message: string }
  | {
      code: 'incompatible-step';
      component: string;
      from: string | null;
      to: string;
      /** The reachable combination the step was tried from (the closest one). */
      via: FirmwareVersions;
      /** What the combination after the step violates. */
      problems: CompatibilityProblem[];
      message: string;
    }
  | { code: 'unreachable'; message: string };

export interface FirmwarePlan {
  status: PlanStatus;
  hardware: string;
  /** The reported combination, restricted to the matrix's components. */
  from: FirmwareVersions;
  /** The reported combination is not known-good (neither stable nor transitional). */
  offMatrix: boolean;
  /** Why the reported combination is not stable (empty when it is). */
  fromProblems: readonly CompatibilityProblem[];
  steps: readonly PlannedStep[];
  totalBytes: number;
  /** The combination the path ends on (null when blocked). */
  destination: FirmwareVersions | null;
  /** The bundle the destination is, if any. */
  destinationBundle: string | null;
  /** Off the matrix: the 1-based step that first lands on a good state (null otherwise). */
  backOnMatrixAtStep: number | null;
  /** Empty unless blocked. */
  reasons: readonly BlockReason[];
}

export interface PlanOptions {
  /** Allow steps to lower versions (the matrix's own `allowDowngrade` also allows them). */
  allowDowngrade?: boolean;
}

export type PlanFirmwarePathInput = {
  from: FirmwareVersions;
  target: FirmwareTarget;
  allowDowngrade?: boolean;
} & ({ model: CompatibilityModel } | { matrix: CompatibilityMatrix; releases: readonly FirmwareRelease[] });

/** Plans the path of one reported combination to a target. Never throws for a bad state or a missing path: see `status` and `reasons`. */
export function planFirmwarePath(input: PlanFirmwarePathInput): FirmwarePlan {
  const model = 'model' in input ? input.model : new CompatibilityModel(input.matrix, input.releases);
  return planWithModel(model, input.from, input.target, { allowDowngrade: input.allowDowngrade === true });
}

/** A target that takes everything to its newest: the bundle with the highest application version, or every component's latest release. */
export function latestTarget(model: CompatibilityModel): FirmwareTarget | null {
  if (model.strategy === 'bundles') {
    const newest = [...model.bundles].sort((a, b) => compareVersionsLoose(b.version, a.version) || compareNames(a.name, b.name))[0];
    return newest ? { bundle: newest.name } : null;
  }
  const components: Record<string, string> = {};
  model.components.forEach((c, i) => {
    const vs = model.versions[i] ?? [];
    const last = vs[vs.length - 1];
    if (last !== undefined) components[c] = last;
  });
  return Object.keys(components).length > 0 ? { components } : null;
}

function compareVersionsLoose(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  return va && vb ? semver.compareBuild(va, vb) : compareNames(a, b);
}

/** Stable text of a target, for cache keys. */
const targetKeys = new WeakMap<FirmwareTarget, string>();
export function targetKey(target: FirmwareTarget): string {
  let key = targetKeys.get(target);
  if (key === undefined) {
    key =
      'bundle' in target
        ? `bundle:${target.bundle}`
        : 'components:' +
          Object.keys(target.components)
            .sort(compareNames)
            .map((c) => `${c}=${target.components[c]}`)
            .join('\u0001');
    // Targets come from a frozen snapshot (or a caller that keeps them): computed once per object.
    targetKeys.set(target, key);
  }
  return key;
}

// ── the search ────────────────────────────────────────────────────────────

interface Label {
  bytes: number;
  /** Rank of this state's step sequence among its layer (by sequence only); before ranking: the predecessor's rank. */
  rank: number;
  prev: number;
  component: number;
  to: number;
}

/** Largest state space whose goodness is memoized in a flat array (one byte per combination). */
const MEMO_LIMIT = 1 << 23;

/** The state space of one plan: the model's versions plus, per component, the device's own value when it is no release. */
class PlanSpace {
  readonly n: number[];
  readonly radix: number[];
  /** Per component: the value in the extra slot (slot index n[c]); undefined when the slot is unused, null when nothing was reported. */
  readonly extra: (string | null | undefined)[];
  /** Per component: downgrade[c][cur * (n+1) + to] = 1 when stepping from slot cur to slot `to` goes down. */
  readonly downgrade: Uint8Array[];
  readonly sizes: number[][];
  readonly transitionalCodes = new Set<number>();
  readonly bundleCodes = new Map<number, string>();
  readonly fromCode: number;

  constructor(
    readonly model: CompatibilityModel,
    from: FirmwareVersions,
  ) {
    const { components, versions, versionIndex } = model;
    this.n = versions.map((v) => v.length);
    this.radix = [];
    let r = 1;
    for (let c = 0; c < components.length; c++) {
      this.radix.push(r);
      r *= (this.n[c] as number) + 1;
    }
    this.extra = components.map((comp, c) => {
      const value = Object.hasOwn(from, comp) ? (from[comp] ?? null) : null;
      return value !== null && versionIndex[c]?.has(value) ? undefined : value;
    });
    let code = 0;
    components.forEach((comp, c) => {
      const value = from[comp];
      const i = value === undefined ? undefined : versionIndex[c]?.get(value);
      code += (i ?? (this.n[c] as number)) * (this.radix[c] as number);
    });
    this.fromCode = code;
    this.memo = r <= MEMO_LIMIT ? new Uint8Array(r) : null;
    this.sizes = model.releases.map((rs) => rs.map((rel) => rel.spec.artifact.size));
    // The model's table for released versions, plus one row for the device's own value (the extra slot).
    this.downgrade = components.map((_, c) => {
      const n = this.n[c] as number;
      const vs = versions[c] ?? [];
      const table = new Uint8Array((n + 1) * (n + 1));
      const released = model.downgrade[c] as Uint8Array;
      for (let cur = 0; cur < n; cur++) table.set(released.subarray(cur * n, cur * n + n), cur * (n + 1));
      const extra = this.extra[c];
      if (extra != null) for (let to = 0; to < n; to++) table[n * (n + 1) + to] = model.isDowngrade(extra, vs[to] as string) ? 1 : 0;
      return table;
    });
    for (const t of model.transitional) {
      const encoded = this.encode(t);
      if (encoded !== null) this.transitionalCodes.add(encoded);
    }
    if (model.strategy === 'bundles') {
      for (const b of model.bundles) {
        const encoded = this.encode(b.components);
        if (encoded !== null && !this.bundleCodes.has(encoded)) this.bundleCodes.set(encoded, b.name);
      }
    }
  }

  /** The code of a combination, or null when it uses a version outside this space. */
  encode(state: FirmwareVersions): number | null {
    let code = 0;
    const { components, versionIndex } = this.model;
    for (let c = 0; c < components.length; c++) {
      const comp = components[c] as string;
      const value = Object.hasOwn(state, comp) ? state[comp] : undefined;
      let slot: number | undefined = value === undefined ? undefined : versionIndex[c]?.get(value);
      if (slot === undefined) {
        const extra = this.extra[c];
        if (extra === undefined || (extra ?? undefined) !== value) return null;
        slot = this.n[c] as number;
      }
      code += slot * (this.radix[c] as number);
    }
    return code;
  }

  digit(code: number, c: number): number {
    return Math.floor(code / (this.radix[c] as number)) % ((this.n[c] as number) + 1);
  }

  decode(code: number): Record<string, string> {
    const out: Record<string, string> = {};
    this.model.components.forEach((comp, c) => {
      const d = this.digit(code, c);
      const value = d < (this.n[c] as number) ? this.model.versions[c]?.[d] : this.extra[c];
      if (value !== undefined && value !== null) out[comp] = value;
    });
    return out;
  }

  /** Goodness + 1 per code, 0 while unknown: each combination is judged once per plan, however often it is reached. */
  private readonly memo: Uint8Array | null;

  /** 2: stable, 1: transitional only, 0: bad. */
  goodness(code: number): 0 | 1 | 2 {
    const known = this.memo?.[code];
    if (known) return (known - 1) as 0 | 1 | 2;
    const value = this.stable(code) ? 2 : this.transitionalCodes.has(code) ? 1 : 0;
    if (this.memo) this.memo[code] = value + 1;
    return value;
  }

  stable(code: number): boolean {
    if (this.model.strategy === 'bundles') return this.bundleCodes.has(code);
    const k = this.model.components.length;
    const digits: number[] = [];
    for (let c = 0; c < k; c++) {
      const d = this.digit(code, c);
      if (d === this.n[c] || this.model.foreignRequirement[c]?.[d] !== null) return false;
      digits.push(d);
    }
    const accepts = this.model.accepts;
    for (let c = 0; c < k; c++) {
      const row = accepts[c]?.[digits[c] as number];
      if (!row) return false;
      for (let d = 0; d < k; d++) {
        if (d !== c && row[d]?.[digits[d] as number] !== 1) return false;
      }
    }
    return true;
  }
}

/** Which slots of each component the target accepts; or the reasons it cannot be met at all. */
function targetMasks(space: PlanSpace, target: FirmwareTarget): { masks: Uint8Array[] } | { reasons: BlockReason[] } {
  const { model } = space;
  const masks = model.components.map((_, c) => new Uint8Array((space.n[c] as number) + 1).fill(1));
  let wanted: Readonly<Record<string, string>>;
  let exact = false;
  if ('bundle' in target) {
    const bundle = model.strategy === 'bundles' ? model.bundle(target.bundle) : null;
    if (!bundle) {
      return {
        reasons: [
          {
            code: 'unknown-bundle',
            bundle: target.bundle,
            message:
              model.strategy === 'bundles'
                ? `matrix '${model.matrix.metadata.name}' declares no bundle named or versioned '${target.bundle}'`
                : `matrix '${model.matrix.metadata.name}' uses the constraints strategy and declares no bundles ('${target.bundle}')`,
          },
        ],
      };
    }
    wanted = bundle.components;
    exact = true;
  } else {
    wanted = target.components;
  }
  const reasons: BlockReason[] = [];
  for (const comp of Object.keys(wanted).sort(compareNames)) {
    const c = model.components.indexOf(comp);
    const spec = wanted[comp] as string;
    if (c < 0) {
      reasons.push({ code: 'unknown-component', component: comp, message: `hardware '${model.hardware}' has components [${model.components.join(', ')}], not '${comp}'` });
      continue;
    }
    const mask = masks[c] as Uint8Array;
    const vs = model.versions[c] ?? [];
    let any = false;
    for (let j = 0; j < vs.length; j++) {
      const v = vs[j] as string;
      mask[j] = v === spec || (!exact && satisfiesRange(v, spec)) ? 1 : 0;
      if (mask[j]) any = true;
    }
    const extra = space.extra[c];
    mask[vs.length] = extra != null && (extra === spec || (!exact && satisfiesRange(extra, spec))) ? 1 : 0;
    if (!any && !mask[vs.length]) {
      reasons.push({ code: 'no-release', component: comp, range: spec, message: `no released ${model.hardware}/${comp} version matches '${spec}'` });
    }
  }
  return reasons.length > 0 ? { reasons } : { masks };
}

function matchesMasks(space: PlanSpace, masks: readonly Uint8Array[], code: number): boolean {
  for (let c = 0; c < masks.length; c++) if (masks[c]?.[space.digit(code, c)] !== 1) return false;
  return true;
}

const freezeAll = <T extends object>(value: T): T => Object.freeze(value);

/** Plans with a prepared model (the planner caches models per hardware). */
export function planWithModel(model: CompatibilityModel, from: FirmwareVersions, target: FirmwareTarget, options: PlanOptions = {}): FirmwarePlan {
  const allowDowngrade = model.allowDowngrade || options.allowDowngrade === true;
  const space = new PlanSpace(model, from);
  const normalizedFrom = freezeAll(model.normalize(from));
  const fromGoodness = space.goodness(space.fromCode);
  const fromProblems = freezeAll(model.stableProblems(normalizedFrom));
  const offMatrix = fromGoodness === 0;
  const base = {
    hardware: model.hardware,
    from: normalizedFrom,
    offMatrix,
    fromProblems,
  };
  const blocked = (reasons: BlockReason[]): FirmwarePlan =>
    freezeAll({ ...base, status: 'blocked', steps: freezeAll([]), totalBytes: 0, destination: null, destinationBundle: null, backOnMatrixAtStep: null, reasons: freezeAll(reasons) });

  const masked = targetMasks(space, target);
  if ('reasons' in masked) return blocked(masked.reasons);
  const { masks } = masked;
  const isTarget = (code: number): boolean => space.stable(code) && matchesMasks(space, masks, code);

  if (isTarget(space.fromCode)) {
    return freezeAll({
      ...base,
      status: 'up-to-date',
      steps: freezeAll([]),
      totalBytes: 0,
      destination: normalizedFrom,
      destinationBundle: space.bundleCodes.get(space.fromCode) ?? null,
      backOnMatrixAtStep: null,
      reasons: freezeAll([]),
    });
  }

  // A device on the matrix stays on it (p = 0). A device off it must be back on a good state at step p and
  // stay there; p is the smallest that leads to the target: the nearest good states first.
  let outcome = layeredSearch(space, isTarget, allowDowngrade, offMatrix ? 1 : 0);
  let explained = outcome;
  for (let p = 2; offMatrix && outcome.found === null && !outcome.prefixExhausted; p++) {
    outcome = layeredSearch(space, isTarget, allowDowngrade, p);
    if (!explained.reachedGood) explained = outcome;
  }
  const { found, labels } = outcome.found === null ? { found: null, labels: explained.labels } : outcome;
  if (found === null) {
    const reasons = explainBlocked(space, masks, labels, allowDowngrade, target);
    if (outcome.budgetSpent) {
      reasons.push({
        code: 'unreachable',
        message: `gave up after ${BAD_STATE_BUDGET} combinations off the matrix: no way back onto it that leads to the target was found`,
      });
    }
    return blocked(reasons);
  }

  const codes: number[] = [];
  for (let code: number = found; code !== -1; code = (labels.get(code) as Label).prev) codes.push(code);
  codes.reverse();
  const steps: PlannedStep[] = [];
  let backOnMatrixAtStep: number | null = null;
  for (let s = 1; s < codes.length; s++) {
    const code = codes[s] as number;
    const label = labels.get(code) as Label;
    const c = label.component;
    const comp = model.components[c] as string;
    const prevDigit = space.digit(codes[s - 1] as number, c);
    const n = space.n[c] as number;
    const fromVersion = prevDigit < n ? (model.versions[c]?.[prevDigit] as string) : (space.extra[c] ?? null);
    const release = model.releases[c]?.[label.to] as FirmwareRelease;
    const goodness = space.goodness(code);
    if (offMatrix && backOnMatrixAtStep === null && goodness > 0) backOnMatrixAtStep = s;
    steps.push(
      freezeAll({
        component: comp,
        from: fromVersion,
        to: release.spec.version,
        bytes: release.spec.artifact.size,
        release,
        after: freezeAll(space.decode(code)),
        lands: goodness === 2 ? 'stable' : goodness === 1 ? 'transitional' : 'off-matrix',
      }),
    );
  }
  return freezeAll({
    ...base,
    status: offMatrix ? 'off-matrix' : 'planned',
    steps: freezeAll(steps),
    totalBytes: (labels.get(found) as Label).bytes,
    destination: freezeAll(space.decode(found)),
    destinationBundle: space.bundleCodes.get(found) ?? null,
    backOnMatrixAtStep,
    reasons: freezeAll([]),
  });
}

interface SearchOutcome {
  found: number | null;
  labels: Map<number, Label>;
  /** Some good state was reached. */
  reachedGood: boolean;
  /** Off the matrix: the bad states ran out before the layer where the device must be back on a good one. */
  prefixExhausted: boolean;
  /** Off the matrix: the search through bad states stopped at BAD_STATE_BUDGET. */
  budgetSpent: boolean;
}

/**
 * How many bad combinations a device off the matrix may be walked through while looking for the way back.
 * Bad states are every combination of released versions, which grows as versions^components; good ones are
 * few. Devices are normally one or two steps off; the budget keeps a hopeless case from costing seconds.
 */
export const BAD_STATE_BUDGET = 20_000;

/**
 * Layered breadth-first search. Layers before `firstGoodLayer` hold only bad states, layers from it on only
 * good ones (0: the device is on the matrix and never leaves it).
 */
function layeredSearch(space: PlanSpace, isTarget: (code: number) => boolean, allowDowngrade: boolean, firstGoodLayer: number): SearchOutcome {
  const k = space.model.components.length;
  const labels = new Map<number, Label>([[space.fromCode, { bytes: 0, rank: 0, prev: -1, component: -1, to: -1 }]]);
  let layer: number[] = [space.fromCode];
  let found: number | null = null;
  let reachedGood = false;
  let depth = 0;
  let badStates = 0;
  while (layer.length > 0 && found === null) {
    depth++;
    const wantGood = depth >= firstGoodLayer;
    const next = new Map<number, Label>();
    for (const u of layer) {
      const lu = labels.get(u) as Label;
      for (let c = 0; c < k; c++) {
        const n = space.n[c] as number;
        const cur = space.digit(u, c);
        const down = space.downgrade[c] as Uint8Array;
        const radix = space.radix[c] as number;
        const sizes = space.sizes[c] as number[];
        for (let j = 0; j < n; j++) {
          if (j === cur) continue;
          if (!allowDowngrade && down[cur * (n + 1) + j] === 1) continue;
          const v = u + (j - cur) * radix;
          if (labels.has(v)) continue;
          if ((space.goodness(v) > 0) !== wantGood) continue;
          const bytes = lu.bytes + (sizes[j] as number);
          const existing = next.get(v);
          if (
            !existing ||
            bytes < existing.bytes ||
            (bytes === existing.bytes && (lu.rank < existing.rank || (lu.rank === existing.rank && (c < existing.component || (c === existing.component && j < existing.to)))))
          ) {
            next.set(v, { bytes, rank: lu.rank, prev: u, component: c, to: j });
            if (!wantGood && badStates + next.size > BAD_STATE_BUDGET) return { found: null, labels, reachedGood, prefixExhausted: true, budgetSpent: true };
          }
        }
      }
    }
    if (next.size > 0 && wantGood) reachedGood = true;
    if (next.size === 0 && depth < firstGoodLayer) return { found: null, labels, reachedGood, prefixExhausted: true, budgetSpent: false };
    if (!wantGood) badStates += next.size;
    // Rank the new layer by step sequence: the predecessor's rank, then the last step.
    const entries = [...next.entries()].sort(([, a], [, b]) => a.rank - b.rank || a.component - b.component || a.to - b.to);
    let best: Label | null = null;
    layer = [];
    entries.forEach(([code, label], index) => {
      label.rank = index;
      labels.set(code, label);
      layer.push(code);
      if (isTarget(code) && (best === null || label.bytes < best.bytes || (label.bytes === best.bytes && label.rank < best.rank))) {
        best = label;
        found = code;
      }
    });
  }
  return { found, labels, reachedGood, prefixExhausted: depth < firstGoodLayer, budgetSpent: false };
}

/**
 * No path: say which component cannot take which target version, and why, from the closest reachable good
 * combination (fewest steps from the device, then the search's own order).
 */
function explainBlocked(space: PlanSpace, masks: readonly Uint8Array[], labels: ReadonlyMap<number, Label>, allowDowngrade: boolean, target: FirmwareTarget): BlockReason[] {
  const { model } = space;
  if (!anyStableTarget(space, masks)) {
    return [
      {
        code: 'no-good-target',
        message:
          'bundle' in target
            ? `bundle '${target.bundle}' cannot be reached`
            : `no known-good combination of ${model.hardware} has ${Object.entries(target.components)
                .map(([c, r]) => `${c} ${r}`)
                .join(', ')}`,
      },
    ];
  }
  // Reachable states in search order (layer by layer, rank within a layer); the device's own state first.
  const reachable = [...labels.entries()]
    .filter(([code]) => code === space.fromCode || space.goodness(code) > 0)
    .map(([code]) => code);
  const witnesses = new Map<string, BlockReason>();
  const order: string[] = [];
  for (const code of reachable) {
    const state = space.decode(code);
    model.components.forEach((comp, c) => {
      const mask = masks[c] as Uint8Array;
      const n = space.n[c] as number;
      const cur = space.digit(code, c);
      if (mask[cur] === 1) return;
      for (let j = 0; j < n; j++) {
        if (mask[j] !== 1) continue;
        const to = model.versions[c]?.[j] as string;
        const key = `${comp}\u0001${to}`;
        const existing = witnesses.get(key);
        if (existing && existing.code === 'incompatible-step') continue;
        const fromVersion = cur < n ? (model.versions[c]?.[cur] as string) : (space.extra[c] ?? null);
        const downgrade = (space.downgrade[c] as Uint8Array)[cur * (n + 1) + j] === 1;
        if (downgrade && !allowDowngrade) {
          if (!existing) {
            witnesses.set(key, { code: 'downgrade-not-allowed', component: comp, from: fromVersion, to, message: `${comp} ${fromVersion} → ${to} is a downgrade, and neither the matrix nor the rollout allows downgrades` });
            order.push(key);
          }
          continue;
        }
        const after = { ...state, [comp]: to };
        const problems = model
          .stableProblems(after)
          .filter((p) => p.code === 'not-a-known-combination' || p.code === 'missing-component' || p.component === comp || (p.code === 'requirement-unmet' && p.requires === comp));
        const shown = problems.length > 0 ? problems : model.stableProblems(after);
        const reason: BlockReason = {
          code: 'incompatible-step',
          component: comp,
          from: fromVersion,
          to,
          via: freezeAll(state),
          problems: shown,
          message: `${comp} cannot step ${fromVersion ?? '(none)'} → ${to} from ${describeVersions(state, model.matrix.spec.components)}: ${shown.map((p) => p.message).join('; ') || 'the result is not known-good'}`,
        };
        if (!existing) order.push(key);
        witnesses.set(key, reason);
      }
    });
  }
  const reasons = order.map((key) => witnesses.get(key) as BlockReason);
  if (reasons.length === 0) {
    reasons.push({
      code: 'unreachable',
      message: `no known-good combination matching the target is reachable from ${describeVersions(model.normalize(space.decode(space.fromCode)), model.matrix.spec.components)} one component at a time`,
    });
  }
  return reasons;
}

/** Whether any stable combination matches the target at all (backtracking with pairwise pruning for constraints). */
function anyStableTarget(space: PlanSpace, masks: readonly Uint8Array[]): boolean {
  const { model } = space;
  if (model.strategy === 'bundles') {
    for (const code of space.bundleCodes.keys()) if (matchesMasks(space, masks, code)) return true;
    return false;
  }
  const k = model.components.length;
  const chosen: number[] = [];
  let budget = 1_000_000;
  const fits = (c: number, j: number): boolean => {
    if (model.foreignRequirement[c]?.[j] !== null) return false;
    for (let d = 0; d < c; d++) {
      const dj = chosen[d] as number;
      if (model.accepts[c]?.[j]?.[d]?.[dj] !== 1 || model.accepts[d]?.[dj]?.[c]?.[j] !== 1) return false;
    }
    return true;
  };
  const search = (c: number): boolean => {
    if (c === k) return true;
    if (--budget < 0) return true; // too large to decide: do not claim there is none
    const n = space.n[c] as number;
    for (let j = 0; j < n; j++) {
      if (masks[c]?.[j] !== 1 || !fits(c, j)) continue;
      chosen[c] = j;
      if (search(c + 1)) return true;
    }
    return false;
  };
  return search(0);
}

// ── caching ───────────────────────────────────────────────────────────────

/** Plans by (matrix identity, target, downgrade permission, reported combination); a fleet has few distinct states. */
export class PlanCache {
  private readonly entries = new Map<string, FirmwarePlan>();
  hits = 0;
  misses = 0;
  constructor(readonly maxEntries = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  getOrPlan(key: string, plan: () => FirmwarePlan): FirmwarePlan {
    const cached = this.entries.get(key);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const fresh = plan();
    if (this.entries.size >= this.maxEntries) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, fresh);
    return fresh;
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface PlanRequest {
  hardware: string;
  from: FirmwareVersions;
  /** The rollout the device follows: its target and downgrade permission. */
  rollout?: Rollout;
  /** Overrides the rollout's target; without either, the newest target (see `latestTarget`). */
  target?: FirmwareTarget;
  /** Overrides the rollout's downgrade permission. */
  allowDowngrade?: boolean;
}

/** Plans against one snapshot: compatibility models per hardware, plans cached per (revision, hardware, target, from). */
export class FirmwarePlanner {
  private readonly models = new Map<string, CompatibilityModel | null>();
  readonly cache: PlanCache;

  constructor(
    readonly snapshot: Snapshot,
    options: { cache?: PlanCache } = {},
  ) {
    this.cache = options.cache ?? new PlanCache();
  }

  /** The compatibility of a hardware model, or null when the snapshot declares no matrix for it. */
  model(hardware: string): CompatibilityModel | null {
    let model = this.models.get(hardware);
    if (model === undefined) {
      const matrix = this.snapshot.matrices.get(hardware);
      const releases = [...(this.snapshot.releases.get(hardware)?.values() ?? [])].flat();
      model = matrix ? new CompatibilityModel(matrix, releases) : null;
      this.models.set(hardware, model);
    }
    return model;
  }

  plan(request: PlanRequest): FirmwarePlan {
    const model = this.model(request.hardware);
    if (!model) {
      return freezeAll({
        status: 'blocked',
        hardware: request.hardware,
        from: freezeAll({ ...request.from }),
        offMatrix: true,
        fromProblems: freezeAll([]),
        steps: freezeAll([]),
        totalBytes: 0,
        destination: null,
        destinationBundle: null,
        backOnMatrixAtStep: null,
        reasons: freezeAll([{ code: 'unknown-hardware', hardware: request.hardware, message: `no CompatibilityMatrix is declared for hardware '${request.hardware}'` } as BlockReason]),
      });
    }
    const target = request.target ?? request.rollout?.spec.target ?? latestTarget(model);
    if (!target) {
      return planWithModel(model, request.from, { components: {} }, {});
    }
    const allowDowngrade = request.allowDowngrade ?? request.rollout?.spec.allowDowngrade === true;
    const key = `${this.snapshot.revision}\u0002${request.hardware}\u0002${allowDowngrade ? 1 : 0}\u0002${targetKey(target)}\u0002${model.key(request.from)}`;
    return this.cache.getOrPlan(key, () => planWithModel(model, request.from, target, { allowDowngrade }));
  }
}
