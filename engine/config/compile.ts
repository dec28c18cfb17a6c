// Source tree → an immutable Snapshot (or null) with every issue, and the vault of decrypted secrets.
import semver from 'semver';
import {
  hasErrors,
  sortIssues,
  type AlertRule,
  type CompatibilityMatrix,
  type DeviceGroup,
  type DeviceProfile,
  type FirmwareRelease,
  type Issue,
  type LoadedResource,
  type ResourceKind,
  type Rollout,
  type Site,
  type Snapshot,
  type SourceTree,
  type Tenant,
} from '../model/index.ts';
import { BUILT_IN_CHECKS, type CheckContext, type ResourceOf, type SnapshotCheck } from './checks.ts';
import { loadResourcesParsedBy, loadResourcesWithNames, issueAt, type LoadOptions } from './load.ts';
import type { YamlFilesParser } from './parallel.ts';
import { SecretVault, decodeArmoredSecret, decryptSecret, parseAgeIdentities, secretKey, type SecretReferenceResolver } from './secrets.ts';
import { DEFAULT_SECRET_SOURCES, SecretSourceRefusedError, secretSourceRefusal, type SecretSources } from './secret-sources.ts';
import { declaredSecrets } from './secret-places.ts';

export interface CompileOptions extends LoadOptions {
  /** The engine's age identity (an `AGE-SECRET-KEY-1…` line, or a whole identity file). Without it secrets are checked for form only. */
  identity?: string;
  /** Resolves `secretRef`s (env/file) for the engine; without it references are checked for form and source only. */
  resolveReference?: SecretReferenceResolver;
  /**
   * The secret sources a `secretRef` may name (default: the resolver's `sources`, else DEFAULT_SECRET_SOURCES —
   * `FLEETFORM_SECRET_*` variables, no files). A reference outside them is `secret-source-not-allowed`.
   */
  secretSources?: SecretSources;
  /** Checks run after the built-in ones, e.g. the firmware planner's reachability check. */
  checks?: readonly SnapshotCheck[];
  /** Parses the YAML texts (default: in this thread). `parallelYamlParser()` spreads a large repo over cores. */
  parseFiles?: YamlFilesParser;
}

export interface CompileResult {
  /** null iff there is at least one error. */
  snapshot: Snapshot | null;
  /** Every issue, sorted by file, line, column, code. */
  issues: Issue[];
  /** Secrets decrypted with the given identity/resolver; empty without them. */
  secrets: SecretVault;
}

/** A ReadonlyMap with no way to change it at run time (a frozen Map still has set()). */
function frozenMap<K, V>(entries: Iterable<readonly [K, V]>): ReadonlyMap<K, V> {
  const map = new Map<K, V>(entries);
  const view: ReadonlyMap<K, V> = {
    get: (key) => map.get(key),
    has: (key) => map.has(key),
    get size() {
      return map.size;
    },
    forEach: (callback, thisArg) => map.forEach((value, key) => callback.call(thisArg, value, key, view)),
    entries: () => map.entries(),
    keys: () => map.keys(),
    values: () => map.values(),
    [Symbol.iterator]: () => map[Symbol.iterator](),
  };
  return Object.freeze(view);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

function byPriorityThenName(a: { priority?: number; name: string }, b: { priority?: number; name: string }): number {
  return (a.priority ?? 0) - (b.priority ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Indexes over resources; with duplicates the first declaration wins (the duplicate is an issue). */
export function buildSnapshot(revision: string, resources: readonly LoadedResource[]): Snapshot {
  const tenants = new Map<string, Tenant>();
  const profiles = new Map<string, DeviceProfile>();
  const sites = new Map<string, Site>();
  const groups = new Map<string, DeviceGroup>();
  const matrices = new Map<string, CompatibilityMatrix>();
  const rollouts = new Map<string, Rollout>();
  const alertRules = new Map<string, AlertRule>();
  const releases = new Map<string, Map<string, FirmwareRelease[]>>();
  const releaseNames = new Set<string>();
  const setOnce = <T>(map: Map<string, T>, key: string, value: T): void => {
    if (!map.has(key)) map.set(key, value);
  };
  for (const { resource } of resources) {
    const name = resource.metadata.name;
    switch (resource.kind) {
      case 'Tenant':
        setOnce(tenants, name, resource);
        break;
      case 'DeviceProfile':
        setOnce(profiles, name, resource);
        break;
      case 'Site':
        setOnce(sites, name, resource);
        break;
      case 'DeviceGroup':
        setOnce(groups, name, resource);
        break;
      case 'CompatibilityMatrix':
        setOnce(matrices, resource.spec.hardware, resource);
        break;
      case 'Rollout':
        setOnce(rollouts, name, resource);
        break;
      case 'AlertRule':
        setOnce(alertRules, name, resource);
        break;
      case 'FirmwareRelease': {
        if (releaseNames.has(name)) break;
        releaseNames.add(name);
        let byComponent = releases.get(resource.spec.hardware);
        if (!byComponent) releases.set(resource.spec.hardware, (byComponent = new Map()));
        let list = byComponent.get(resource.spec.component);
        if (!list) byComponent.set(resource.spec.component, (list = []));
        list.push(resource);
        break;
      }
    }
  }
  const sortedReleases = [...releases].map(
    ([hardware, byComponent]) =>
      [
        hardware,
        frozenMap(
          [...byComponent].map(
            ([component, list]) =>
              [component, Object.freeze([...list].sort((a, b) => semver.compare(a.spec.version, b.spec.version)))] as const,
          ),
        ),
      ] as const,
  );
  return Object.freeze({
    revision,
    resources: Object.freeze([...resources]),
    tenants: frozenMap(tenants),
    profiles: frozenMap(profiles),
    sites: frozenMap(sites),
    groups: Object.freeze(
      [...groups.values()].sort((a, b) =>
        byPriorityThenName({ priority: a.spec.priority, name: a.metadata.name }, { priority: b.spec.priority, name: b.metadata.name }),
      ),
    ),
    releases: frozenMap(sortedReleases),
    matrices: frozenMap(matrices),
    rollouts: Object.freeze(
      [...rollouts.values()].sort((a, b) =>
        byPriorityThenName({ priority: a.spec.priority, name: a.metadata.name }, { priority: b.spec.priority, name: b.metadata.name }),
      ),
    ),
    alertRules: Object.freeze([...alertRules.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))),
  });
}

function checkContext(snapshot: Snapshot, resources: readonly LoadedResource[], declared: ReadonlyMap<ResourceKind, ReadonlySet<string>>): CheckContext {
  const byKind = new Map<ResourceKind, LoadedResource[]>();
  const byName = new Map<string, LoadedResource>();
  for (const resource of resources) {
    let list = byKind.get(resource.resource.kind);
    if (!list) byKind.set(resource.resource.kind, (list = []));
    list.push(resource);
    const key = `${resource.resource.kind}/${resource.resource.metadata.name}`;
    if (!byName.has(key)) byName.set(key, resource);
  }
  return {
    snapshot,
    resources,
    ofKind: <K extends ResourceKind>(kind: K) => (byKind.get(kind) ?? []) as LoadedResource<ResourceOf<K>>[],
    find: <K extends ResourceKind>(kind: K, name: string) => byName.get(`${kind}/${name}`) as LoadedResource<ResourceOf<K>> | undefined,
    isDeclared: (kind, name) => declared.get(kind)?.has(name) ?? false,
    issue: (resource, path, code, message, severity = 'error') => issueAt(resource, path, code, message, severity),
  };
}

/** Why a secret could not be had: a reference outside the declared sources, or one the environment lacks. */
function secretFailure(error: unknown, what: string): { code: string; message: string } {
  if (error instanceof SecretSourceRefusedError) return { code: 'secret-source-not-allowed', message: `secretRef: ${error.message}` };
  return { code: 'secret-unresolved', message: `secretRef: ${what} could not be read (${error instanceof Error ? error.message : String(error)})` };
}

async function resolveSecrets(resources: readonly LoadedResource[], options: CompileOptions, vault: SecretVault): Promise<Issue[]> {
  const issues: Issue[] = [];
  const identities = options.identity ? parseAgeIdentities(options.identity) : [];
  const sources = options.secretSources ?? options.resolveReference?.sources ?? DEFAULT_SECRET_SOURCES;
  const outcome = new Map<string, { code: string; message: string } | null>(); // by secret key; null when resolved
  for (const { resource, path, secret } of declaredSecrets(resources)) {
    const key = secretKey(secret);
    if (!outcome.has(key)) {
      let failure: { code: string; message: string } | null = null;
      if ('encrypted' in secret) {
        try {
          decodeArmoredSecret(secret.encrypted);
          if (identities.length > 0) vault.store(secret, await decryptSecret(secret.encrypted, identities));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          failure =
            error instanceof Error && 'code' in error && error.code === 'invalid-secret'
              ? { code: 'invalid-secret', message: `not armored age ciphertext: ${reason}` }
              : { code: 'secret-decrypt-failed', message: `the engine's age identity cannot decrypt this secret (${reason}); was it encrypted to the right recipient?` };
        }
      } else {
        const ref = secret.secretRef;
        const what = 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
        // Checked before anything is read, in validate as in the engine: a config author names a declared source or nothing.
        const refusal = secretSourceRefusal(ref, sources);
        if (refusal) failure = { code: 'secret-source-not-allowed', message: `secretRef: ${refusal}` };
        else if (options.resolveReference) {
          try {
            const value = await options.resolveReference(ref);
            if (value === undefined) failure = { code: 'secret-unresolved', message: `secretRef: ${what} is not set` };
            else vault.store(secret, value);
          } catch (error) {
            failure = secretFailure(error, what);
          }
        }
      }
      outcome.set(key, failure);
    }
    const failure = outcome.get(key);
    if (failure) issues.push(issueAt(resource, path, failure.code, failure.message));
  }
  vault.seal(identities.join('\n') || undefined);
  return issues;
}

export async function compileSnapshot(tree: SourceTree, options: CompileOptions = {}): Promise<CompileResult> {
  const loaded = options.parseFiles ? await loadResourcesParsedBy(tree, options, options.parseFiles) : loadResourcesWithNames(tree, options);
  const issues = [...loaded.issues];
  const draft = buildSnapshot(tree.revision, loaded.resources);
  const context = checkContext(draft, loaded.resources, loaded.declaredNames);
  for (const check of [...BUILT_IN_CHECKS, ...(options.checks ?? [])]) {
    try {
      issues.push(...(await check(context)));
    } catch (error) {
      // A faulty plug-in check must not hide the other issues; it is itself an error.
      issues.push({
        code: 'check-failed',
        severity: 'error',
        file: '',
        line: 1,
        column: 1,
        path: '',
        message: `check ${check.name || '(anonymous)'} failed: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }
  const secrets = new SecretVault();
  issues.push(...(await resolveSecrets(loaded.resources, options, secrets)));
  const sorted = sortIssues(issues);
  if (hasErrors(sorted)) return { snapshot: null, issues: sorted, secrets };
  for (const resource of loaded.resources) {
    deepFreeze(resource.resource);
    Object.freeze(resource);
  }
  return { snapshot: draft, issues: sorted, secrets };
}
