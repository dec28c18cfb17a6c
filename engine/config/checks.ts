// Cross-reference checks over the documents that passed their schema. Each check is a SnapshotCheck:
// others (the firmware planner's reachability, the rules' unknown facts) add theirs through compileSnapshot.
import semver from 'semver';
import type {
  Issue,
  LoadedResource,
  ResourceDocument,
  ResourceKind,
  Snapshot,
} from '../model/index.ts';
import type { JsonPath } from './parse.ts';
import { checkConfigLayers } from './layers.ts';
import { checkSecretPlaces } from './secret-places.ts';

export type ResourceOf<K extends ResourceKind> = Extract<ResourceDocument, { kind: K }>;

/** What a check is given. */
export interface CheckContext {
  /** Draft snapshot of the documents that passed their schema (with duplicate names, the first wins). */
  readonly snapshot: Snapshot;
  /** Those documents, in file order, with positions. */
  readonly resources: readonly LoadedResource[];
  ofKind<K extends ResourceKind>(kind: K): LoadedResource<ResourceOf<K>>[];
  /** The first valid resource of that kind and name. */
  find<K extends ResourceKind>(kind: K, name: string): LoadedResource<ResourceOf<K>> | undefined;
  /** Whether any document declares that name, even one with schema errors (so references to it are not "dangling" too). */
  isDeclared(kind: ResourceKind, name: string): boolean;
  /** An issue at a JSON path of a resource, with its file:line:col. */
  issue(resource: LoadedResource, path: JsonPath, code: string, message: string, severity?: Issue['severity']): Issue;
}

/** A pluggable cross-reference check. Return every issue found; never throw for bad input. */
export type SnapshotCheck = (context: CheckContext) => Issue[] | Promise<Issue[]>;

function label(resource: LoadedResource): string {
  return `${resource.resource.kind} '${resource.resource.metadata.name}'`;
}

export const checkDuplicateNames: SnapshotCheck = ({ resources, issue }) => {
  const first = new Map<string, LoadedResource>();
  const issues: Issue[] = [];
  for (const resource of resources) {
    const key = `${resource.resource.kind}/${resource.resource.metadata.name}`;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, resource);
      continue;
    }
    const at = earlier.locate(['metadata', 'name']);
    issues.push(
      issue(resource, ['metadata', 'name'], 'duplicate-name', `${label(resource)} is already declared at ${at.file}:${at.line}:${at.column}`),
    );
  }
  return issues;
};

export const checkSiteReferences: SnapshotCheck = ({ ofKind, isDeclared, issue }) => {
  const issues: Issue[] = [];
  for (const site of ofKind('Site')) {
    const spec = site.resource.spec;
    if (!isDeclared('Tenant', spec.tenant)) {
      issues.push(issue(site, ['spec', 'tenant'], 'dangling-reference', `${label(site)} names tenant '${spec.tenant}', which is not declared`));
    }
    if (!isTimezone(spec.timezone)) {
      issues.push(issue(site, ['spec', 'timezone'], 'invalid-timezone', `'${spec.timezone}' is not an IANA timezone`));
    }
  }
  return issues;
};

// Building an Intl.DateTimeFormat is slow (~50 µs); thousands of sites share a handful of zones.
const knownTimezones = new Map<string, boolean>();

function isTimezone(zone: string): boolean {
  let known = knownTimezones.get(zone);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    knownTimezones.set(zone, known);
  }
  return known;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

export const checkProfileReferences: SnapshotCheck = ({ ofKind, find, snapshot, isDeclared, issue }) => {
  const issues: Issue[] = [];
  for (const profile of ofKind('DeviceProfile')) {
    const spec = profile.resource.spec;
    let matrix = snapshot.matrices.get(spec.hardware);
    if (spec.matrix !== undefined) {
      const named = find('CompatibilityMatrix', spec.matrix);
      if (!named) {
        if (!isDeclared('CompatibilityMatrix', spec.matrix)) {
          issues.push(issue(profile, ['spec', 'matrix'], 'dangling-reference', `${label(profile)} names matrix '${spec.matrix}', which is not declared`));
        }
        continue;
      }
      if (named.resource.spec.hardware !== spec.hardware) {
        issues.push(
          issue(profile, ['spec', 'matrix'], 'dangling-reference', `matrix '${spec.matrix}' is for hardware '${named.resource.spec.hardware}', not '${spec.hardware}'`),
        );
        continue;
      }
      matrix = named.resource;
    }
    if (!matrix) {
      issues.push(
        issue(profile, ['spec', 'hardware'], 'dangling-reference', `no CompatibilityMatrix is declared for hardware '${spec.hardware}'`),
      );
      continue;
    }
    if (!sameSet(spec.components, matrix.spec.components)) {
      issues.push(
        issue(
          profile,
          ['spec', 'components'],
          'component-mismatch',
          `components [${spec.components.join(', ')}] differ from matrix '${matrix.metadata.name}' [${matrix.spec.components.join(', ')}]`,
        ),
      );
    }
  }
  return issues;
};

export const checkGroupReferences: SnapshotCheck = ({ ofKind, isDeclared, issue }) => {
  const issues: Issue[] = [];
  for (const group of ofKind('DeviceGroup')) {
    const spec = group.resource.spec;
    (spec.profiles ?? []).forEach((name, i) => {
      if (!isDeclared('DeviceProfile', name)) issues.push(issue(group, ['spec', 'profiles', i], 'dangling-reference', `profile '${name}' is not declared`));
    });
    (spec.sites ?? []).forEach((name, i) => {
      if (!isDeclared('Site', name)) issues.push(issue(group, ['spec', 'sites', i], 'dangling-reference', `site '${name}' is not declared`));
    });
  }
  return issues;
};

/** Releases declared for (hardware, component), by version. */
function releaseVersions(snapshot: Snapshot, hardware: string, component: string): string[] {
  return (snapshot.releases.get(hardware)?.get(component) ?? []).map((release) => release.spec.version);
}

export const checkMatrices: SnapshotCheck = ({ ofKind, snapshot, issue }) => {
  const issues: Issue[] = [];
  const byHardware = new Map<string, LoadedResource>();
  for (const matrix of ofKind('CompatibilityMatrix')) {
    const spec = matrix.resource.spec;
    const earlier = byHardware.get(spec.hardware);
    if (earlier) {
      const at = earlier.locate(['spec', 'hardware']);
      issues.push(
        issue(matrix, ['spec', 'hardware'], 'duplicate-matrix', `hardware '${spec.hardware}' already has a matrix at ${at.file}:${at.line}:${at.column}`),
      );
      continue;
    }
    byHardware.set(spec.hardware, matrix);
    if (spec.strategy === 'constraints' && spec.bundles && spec.bundles.length > 0) {
      issues.push(issue(matrix, ['spec', 'bundles'], 'strategy-mismatch', 'bundles are ignored by the constraints strategy', 'warning'));
    }
    const combination = (versions: Readonly<Record<string, string>>, path: JsonPath, what: string): void => {
      const components = Object.keys(versions);
      if (!sameSet(components, spec.components)) {
        issues.push(
          issue(matrix, path, 'component-mismatch', `${what} has components [${components.join(', ')}]; the matrix declares [${spec.components.join(', ')}]`),
        );
      }
      for (const [component, version] of Object.entries(versions)) {
        if (!spec.components.includes(component)) continue;
        if (!releaseVersions(snapshot, spec.hardware, component).includes(version)) {
          issues.push(
            issue(matrix, [...path, component], 'unknown-release', `${what} names ${component} ${version}, but no FirmwareRelease of ${spec.hardware}/${component} ${version} exists`),
          );
        }
      }
    };
    const bundleNames = new Map<string, number>();
    (spec.bundles ?? []).forEach((bundle, i) => {
      const seen = bundleNames.get(bundle.name);
      if (seen !== undefined) {
        issues.push(issue(matrix, ['spec', 'bundles', i, 'name'], 'duplicate-name', `bundle '${bundle.name}' is already declared at /spec/bundles/${seen}`));
      } else {
        bundleNames.set(bundle.name, i);
      }
      combination(bundle.components, ['spec', 'bundles', i, 'components'], `bundle '${bundle.name}'`);
    });
    (spec.transitional ?? []).forEach((versions, i) => combination(versions, ['spec', 'transitional', i], 'transitional combination'));
  }
  return issues;
};

export const checkReleases: SnapshotCheck = ({ ofKind, snapshot, issue }) => {
  const issues: Issue[] = [];
  const seen = new Map<string, LoadedResource>();
  for (const release of ofKind('FirmwareRelease')) {
    const spec = release.resource.spec;
    const key = `${spec.hardware}/${spec.component}@${semver.valid(spec.version) ?? spec.version}`;
    const earlier = seen.get(key);
    if (earlier) {
      issues.push(
        issue(release, ['spec', 'version'], 'duplicate-release', `${spec.hardware}/${spec.component} ${spec.version} is already released as '${earlier.resource.metadata.name}'`),
      );
    } else {
      seen.set(key, release);
    }
    const matrix = snapshot.matrices.get(spec.hardware);
    if (!matrix) {
      issues.push(issue(release, ['spec', 'hardware'], 'dangling-reference', `no CompatibilityMatrix is declared for hardware '${spec.hardware}'`));
      continue;
    }
    if (!matrix.spec.components.includes(spec.component)) {
      issues.push(
        issue(release, ['spec', 'component'], 'unknown-component', `hardware '${spec.hardware}' has components [${matrix.spec.components.join(', ')}], not '${spec.component}'`),
      );
    }
    if (spec.requires && matrix.spec.strategy === 'bundles') {
      issues.push(issue(release, ['spec', 'requires'], 'strategy-mismatch', `requires is ignored: matrix '${matrix.metadata.name}' uses the bundles strategy`, 'warning'));
    }
    for (const [component, range] of Object.entries(spec.requires ?? {})) {
      if (component === spec.component || !matrix.spec.components.includes(component)) {
        issues.push(issue(release, ['spec', 'requires', component], 'unknown-component', `requires names '${component}', which is not another component of '${spec.hardware}'`));
      }
      if (semver.validRange(range) === null) {
        issues.push(issue(release, ['spec', 'requires', component], 'invalid-range', `'${range}' is not a semver range`));
      }
    }
  }
  return issues;
};

export const checkRollouts: SnapshotCheck = ({ ofKind, snapshot, isDeclared, issue }) => {
  const issues: Issue[] = [];
  for (const rollout of ofKind('Rollout')) {
    const spec = rollout.resource.spec;
    const kinds = { profiles: 'DeviceProfile', sites: 'Site', groups: 'DeviceGroup' } as const;
    const refs: [keyof typeof kinds, readonly string[] | undefined][] = [
      ['profiles', spec.selector.profiles],
      ['sites', spec.selector.sites],
      ['groups', spec.selector.groups],
    ];
    for (const [field, names] of refs) {
      (names ?? []).forEach((name, i) => {
        if (!isDeclared(kinds[field], name)) {
          issues.push(issue(rollout, ['spec', 'selector', field, i], 'dangling-reference', `${kinds[field]} '${name}' is not declared`));
        }
      });
    }
    const waveNames = new Set<string>();
    let previous = -1;
    spec.waves.forEach((wave, i) => {
      if (waveNames.has(wave.name)) issues.push(issue(rollout, ['spec', 'waves', i, 'name'], 'invalid-waves', `wave '${wave.name}' is declared twice`));
      waveNames.add(wave.name);
      if (wave.percent < previous) {
        issues.push(issue(rollout, ['spec', 'waves', i, 'percent'], 'invalid-waves', `wave '${wave.name}' covers ${wave.percent} %, less than the wave before it (${previous} %): waves only widen`));
      }
      previous = wave.percent;
    });
    if (!waveNames.has(spec.activeWave)) {
      issues.push(issue(rollout, ['spec', 'activeWave'], 'dangling-reference', `activeWave '${spec.activeWave}' is not one of the waves [${[...waveNames].join(', ')}]`));
    }
    // The hardware models the rollout can reach: its profiles', or every matrix's.
    const hardware = new Set<string>();
    for (const name of spec.selector.profiles ?? []) {
      const profile = snapshot.profiles.get(name);
      if (profile) hardware.add(profile.spec.hardware);
    }
    if (hardware.size === 0) for (const h of snapshot.matrices.keys()) hardware.add(h);
    const target = spec.target;
    if ('bundle' in target) {
      const found = [...hardware].some((h) =>
        (snapshot.matrices.get(h)?.spec.bundles ?? []).some((b) => b.name === target.bundle || b.version === target.bundle),
      );
      if (!found) {
        issues.push(
          issue(rollout, ['spec', 'target', 'bundle'], 'unknown-bundle', `no matrix of hardware [${[...hardware].join(', ')}] declares a bundle named or versioned '${target.bundle}'`),
        );
      }
    } else {
      for (const [component, range] of Object.entries(target.components)) {
        const path = ['spec', 'target', 'components', component];
        if (semver.validRange(range) === null) {
          issues.push(issue(rollout, path, 'invalid-range', `'${range}' is neither a version nor a semver range`));
          continue;
        }
        const withComponent = [...hardware].filter((h) => snapshot.matrices.get(h)?.spec.components.includes(component));
        if (withComponent.length === 0) {
          issues.push(issue(rollout, path, 'unknown-component', `no selected hardware has a component '${component}'`));
          continue;
        }
        const satisfied = withComponent.some((h) => releaseVersions(snapshot, h, component).some((v) => semver.satisfies(v, range)));
        if (!satisfied) {
          issues.push(issue(rollout, path, 'unknown-release', `no FirmwareRelease of ${component} satisfies '${range}'`));
        }
      }
    }
  }
  return issues;
};

/** The checks every compile runs, in order. */
export const BUILT_IN_CHECKS: readonly SnapshotCheck[] = [
  checkDuplicateNames,
  checkSiteReferences,
  checkProfileReferences,
  checkGroupReferences,
  checkMatrices,
  checkReleases,
  checkRollouts,
  checkSecretPlaces,
  checkConfigLayers,
];
