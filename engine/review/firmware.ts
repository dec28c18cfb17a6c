// The firmware section of a review: releases, bundles, requirements and rollouts that changed. The part reviewers read most.
import type { Bundle, CompatibilityMatrix, FirmwareRelease, JsonValue, Rollout } from '../model/index.ts';
import { diffValues, type FieldChange, type ResourceSide } from './semantic.ts';

export interface ReleaseChange {
  type: 'added' | 'removed' | 'changed';
  name: string;
  hardware: string;
  component: string;
  /** At HEAD (at BASE for a removed release). */
  version: string;
  sha256: string;
  size: number;
  /** For `changed`: version, artifact, notes (requirements are listed apart). */
  fields: FieldChange[];
}

export interface BundleChange {
  type: 'added' | 'removed' | 'changed';
  matrix: string;
  hardware: string;
  bundle: string;
  version: string;
  components: Readonly<Record<string, string>>;
  fields: FieldChange[];
}

export interface RequirementChange {
  /** `FirmwareRelease/<name>` (its `requires`) or `CompatibilityMatrix/<name>` (strategy, transitional, components…). */
  subject: string;
  fields: FieldChange[];
}

export interface RolloutChange {
  type: 'added' | 'removed' | 'changed';
  name: string;
  /** Target at HEAD (BASE when removed), e.g. `bundle app-3.3.0` or `mcu 2.4.0, lte 5.1.0`. */
  target: string;
  activeWave: string;
  fields: FieldChange[];
}

export interface FirmwareReview {
  releases: ReleaseChange[];
  bundles: BundleChange[];
  requirements: RequirementChange[];
  rollouts: RolloutChange[];
}

function byName<R extends { metadata: { name: string } }>(sides: readonly ResourceSide[], kind: string): Map<string, R> {
  const map = new Map<string, R>();
  for (const { resource } of sides) {
    if (resource.kind === kind && !map.has(resource.metadata.name)) map.set(resource.metadata.name, resource as unknown as R);
  }
  return map;
}

function names<T>(base: Map<string, T>, head: Map<string, T>): string[] {
  return [...new Set([...base.keys(), ...head.keys()])].sort();
}

const json = (value: unknown): JsonValue | undefined => value as JsonValue | undefined;

export function describeTarget(rollout: Rollout): string {
  const target = rollout.spec.target;
  if ('bundle' in target) return `bundle ${target.bundle}`;
  return Object.entries(target.components)
    .map(([component, version]) => `${component} ${version}`)
    .join(', ');
}

function releaseChanges(base: Map<string, FirmwareRelease>, head: Map<string, FirmwareRelease>): { releases: ReleaseChange[]; requirements: RequirementChange[] } {
  const releases: ReleaseChange[] = [];
  const requirements: RequirementChange[] = [];
  for (const name of names(base, head)) {
    const old = base.get(name);
    const next = head.get(name);
    const release = (next ?? old) as FirmwareRelease;
    const summary = {
      name,
      hardware: release.spec.hardware,
      component: release.spec.component,
      version: release.spec.version,
      sha256: release.spec.artifact.sha256,
      size: release.spec.artifact.size,
    };
    if (!old || !next) {
      releases.push({ type: old ? 'removed' : 'added', ...summary, fields: [] });
      continue;
    }
    const { requires: oldRequires, ...oldSpec } = old.spec;
    const { requires: nextRequires, ...nextSpec } = next.spec;
    const fields = diffValues(json(oldSpec), json(nextSpec), 'spec');
    if (fields.length > 0) releases.push({ type: 'changed', ...summary, fields });
    const requires = diffValues(json(oldRequires), json(nextRequires), 'spec.requires');
    if (requires.length > 0) requirements.push({ subject: `FirmwareRelease/${name}`, fields: requires });
  }
  return { releases, requirements };
}

function matrixChanges(
  base: Map<string, CompatibilityMatrix>,
  head: Map<string, CompatibilityMatrix>,
): { bundles: BundleChange[]; requirements: RequirementChange[] } {
  const bundles: BundleChange[] = [];
  const requirements: RequirementChange[] = [];
  for (const name of names(base, head)) {
    const old = base.get(name);
    const next = head.get(name);
    const matrix = (next ?? old) as CompatibilityMatrix;
    const oldBundles = new Map<string, Bundle>((old?.spec.bundles ?? []).map((b) => [b.name, b]));
    const nextBundles = new Map<string, Bundle>((next?.spec.bundles ?? []).map((b) => [b.name, b]));
    for (const bundleName of names(oldBundles, nextBundles)) {
      const a = oldBundles.get(bundleName);
      const b = nextBundles.get(bundleName);
      const bundle = (b ?? a) as Bundle;
      const summary = { matrix: name, hardware: matrix.spec.hardware, bundle: bundleName, version: bundle.version, components: bundle.components };
      if (!a || !b) bundles.push({ type: a ? 'removed' : 'added', ...summary, fields: [] });
      else {
        const fields = diffValues(json(a), json(b), `bundles[${bundleName}]`);
        if (fields.length > 0) bundles.push({ type: 'changed', ...summary, fields });
      }
    }
    if (old && next) {
      const { bundles: _a, ...oldRest } = old.spec;
      const { bundles: _b, ...nextRest } = next.spec;
      const fields = diffValues(json(oldRest), json(nextRest), 'spec');
      if (fields.length > 0) requirements.push({ subject: `CompatibilityMatrix/${name}`, fields });
    }
  }
  return { bundles, requirements };
}

function rolloutChanges(base: Map<string, Rollout>, head: Map<string, Rollout>): RolloutChange[] {
  const changes: RolloutChange[] = [];
  for (const name of names(base, head)) {
    const old = base.get(name);
    const next = head.get(name);
    const rollout = (next ?? old) as Rollout;
    const summary = { name, target: describeTarget(rollout), activeWave: rollout.spec.activeWave };
    if (!old || !next) {
      changes.push({ type: old ? 'removed' : 'added', ...summary, fields: [] });
      continue;
    }
    const fields = diffValues(json(old.spec), json(next.spec), 'spec');
    if (fields.length > 0) changes.push({ type: 'changed', ...summary, fields });
  }
  return changes;
}

export function reviewFirmware(base: readonly ResourceSide[], head: readonly ResourceSide[]): FirmwareReview {
  const releases = releaseChanges(byName(base, 'FirmwareRelease'), byName(head, 'FirmwareRelease'));
  const matrices = matrixChanges(byName(base, 'CompatibilityMatrix'), byName(head, 'CompatibilityMatrix'));
  return {
    releases: releases.releases,
    bundles: matrices.bundles,
    requirements: [...releases.requirements, ...matrices.requirements],
    rollouts: rolloutChanges(byName(base, 'Rollout'), byName(head, 'Rollout')),
  };
}
