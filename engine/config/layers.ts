// "Validated by the profile's configSchema" means the config a device receives. Every layer git can put
// into a device's config is checked against every profile it can reach, at the file:line:col of the value
// that breaks it; for schemas whose keywords relate several keys, the combinations git can produce too.
// docs/config.md ("Every layer is checked") explains why this is exact and where it is bounded.
import { canonicalJson, type DeviceGroup, type DeviceProfile, type Issue, type JsonObject, type JsonValue, type LoadedResource, type Site } from '../model/index.ts';
import type { CheckContext, SnapshotCheck } from './checks.ts';
import { mergeConfig, siteLayer, siteLayerWith } from './effective.ts';
import { pointer, type JsonPath } from './parse.ts';
import { matchesPattern, profileConfigSchema, valuesAt, type ProfileConfigSchema } from './profile-schema.ts';
import { findSecretValues, isSecretValue } from './secrets.ts';
import { atomsSatisfiable, negateAtom, selectorAtoms, type LabelAtom } from './selector.ts';

/** Stacks (site + groups) validated per profile with a relational schema before the rest is left unchecked. */
export const MAX_COMBINATIONS_PER_PROFILE = 2000;
/** Label sets tried when deciding which groups can select a device together. */
const MAX_MEMBERSHIP_STEPS = 50_000;
const LISTED_IN_MESSAGE = 5;

type Placed = LoadedResource<Site> | LoadedResource<DeviceGroup>;

/** Where a path of a layer's config is in its document (`wifi` of a site that lists networks: its `spec.wifi`). */
function layerPath(resource: Placed, path: JsonPath, receivesWifi: boolean): JsonPath {
  const site = resource.resource.kind === 'Site' ? resource.resource : null;
  if (site && receivesWifi && (site.spec.wifi?.length ?? 0) > 0 && path[0] === 'wifi') return ['spec', ...path];
  return ['spec', 'config', ...path];
}

function list(names: Iterable<string>): string {
  const all = [...new Set(names)].sort();
  return all.length <= LISTED_IN_MESSAGE ? all.join(', ') : `${all.slice(0, LISTED_IN_MESSAGE).join(', ')} and ${all.length - LISTED_IN_MESSAGE} more`;
}

/** Issues at one place gathered over profiles (and sites), so a site config breaking two profiles is one issue each. */
class Findings {
  readonly #found = new Map<string, { resource: LoadedResource; path: JsonPath; code: string; text: string; profiles: Set<string>; sites: Set<string>; context: string }>();

  add(resource: LoadedResource, path: JsonPath, code: string, text: string, profile: string, context: string, site?: string): void {
    const key = `${resource.file}\0${resource.documentIndex}\0${pointer(path)}\0${code}\0${text}\0${context}`;
    let entry = this.#found.get(key);
    if (!entry) this.#found.set(key, (entry = { resource, path, code, text, profiles: new Set(), sites: new Set(), context }));
    entry.profiles.add(profile);
    if (site) entry.sites.add(site);
  }

  /** Whether this violation was found at this place in that context (e.g. by the layer on its own). */
  has(resource: LoadedResource, path: JsonPath, code: string, text: string, context: string): boolean {
    return this.#found.has(`${resource.file}\0${resource.documentIndex}\0${pointer(path)}\0${code}\0${text}\0${context}`);
  }

  issues(context: CheckContext): Issue[] {
    return [...this.#found.values()].map(({ resource, path, code, text, profiles, sites, context: where }) => {
      const who = `profile${profiles.size > 1 ? 's' : ''} ${list(profiles)}`;
      const at = sites.size > 0 ? ` at site${sites.size > 1 ? 's' : ''} ${list(sites)}` : '';
      return context.issue(resource, path, code, `${text} — for ${who}${at}${where}`);
    });
  }
}

/** What is wrong with one layer's values for one profile, at paths inside the layer. */
interface Verdict {
  path: JsonPath;
  code: string;
  text: string;
}

/** One layer against one profile: schema, plaintext in x-secret fields, secrets elsewhere. */
function judgeLayer(schema: ProfileConfigSchema, layer: JsonObject, siteWifi: boolean): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const error of schema.layer?.(layer) ?? []) verdicts.push({ path: error.path, code: 'config-schema-violation', text: error.message });
  for (const pattern of schema.secretPatterns) {
    for (const found of valuesAt(layer, pattern)) {
      if (found.value === null || isSecretValue(found.value)) continue;
      if (siteWifi && found.path[0] === 'wifi') continue; // the Site kind's own check reports a plaintext Wi-Fi password
      verdicts.push({ path: found.path, code: 'plaintext-secret', text: `${pointer(found.path)} is marked x-secret: encrypt it or use a secretRef` });
    }
  }
  for (const found of findSecretValues(layer)) {
    if (schema.secretPatterns.some((pattern) => matchesPattern(found.path, pattern))) continue;
    verdicts.push({
      path: found.path,
      code: 'undeclared-secret',
      text: `${pointer(found.path)} holds a secret, but the configSchema does not mark that field x-secret: it would never be decrypted`,
    });
  }
  return verdicts;
}

function groupContext(group: DeviceGroup): string {
  return group.spec.sites ? ` (the group's sites: ${list(group.spec.sites)})` : ' (at any site)';
}

/** A layer as checked: its value, and a key that is equal for equal values (sites often share a config). */
interface Layer {
  value: JsonObject;
  key: string;
}

function layerOf(value: JsonObject): Layer {
  return { value, key: canonicalJson(value) };
}

/** Every site and group config against every profile it can reach; equal layers are judged once per profile. */
function checkLayers(context: CheckContext, findings: Findings): void {
  const sites = context.ofKind('Site').map((site) => {
    const plain = layerOf(siteLayerWith(site.resource, false));
    const withWifi = site.resource.spec.wifi?.length ? layerOf(siteLayerWith(site.resource, true)) : plain;
    return { site, plain, withWifi };
  });
  const groups = context.ofKind('DeviceGroup').flatMap((group) => (group.resource.spec.config ? [{ group, layer: layerOf(group.resource.spec.config) }] : []));
  for (const profile of context.ofKind('DeviceProfile')) {
    const name = profile.resource.metadata.name;
    const schema = profileConfigSchema(profile.resource);
    if (schema.invalid) continue; // reported as invalid-config-schema
    const judged = new Map<string, Verdict[]>();
    const judge = (layer: Layer, siteWifi: boolean): Verdict[] => {
      const key = `${siteWifi ? 'w' : '-'}${layer.key}`;
      let verdicts = judged.get(key);
      if (!verdicts) judged.set(key, (verdicts = judgeLayer(schema, layer.value, siteWifi)));
      return verdicts;
    };
    for (const { site, plain, withWifi } of sites) {
      const layer = schema.receivesWifi ? withWifi : plain;
      if (layer.key === '{}') continue;
      for (const verdict of judge(layer, schema.receivesWifi && layer !== plain)) {
        findings.add(site, layerPath(site, verdict.path, schema.receivesWifi), verdict.code, verdict.text, name, '');
      }
    }
    for (const { group, layer } of groups) {
      const only = group.resource.spec.profiles;
      if (only && !only.includes(name)) continue;
      for (const verdict of judge(layer, false)) {
        findings.add(group, layerPath(group, verdict.path, false), verdict.code, verdict.text, name, groupContext(group.resource));
      }
    }
  }
}

// ── combinations, for schemas that relate keys ─────────────────────────────

/** A group's membership rule at one (profile, site): by its selector, always, or only for listed devices. */
interface Candidate {
  resource: LoadedResource<DeviceGroup>;
  atoms: LabelAtom[] | 'always' | 'never';
  listed: ReadonlySet<string>;
}

function candidates(groups: readonly LoadedResource<DeviceGroup>[], profile: string, site: string): Candidate[] {
  const out: Candidate[] = [];
  for (const group of groups) {
    const spec = group.resource.spec;
    if (spec.profiles && !spec.profiles.includes(profile)) continue;
    if (spec.sites && !spec.sites.includes(site)) continue;
    const atoms = spec.selector ? selectorAtoms(spec.selector) : spec.devices ? 'never' : spec.profiles || spec.sites ? 'always' : 'never';
    if (atoms === 'never' && !spec.devices?.length) continue;
    out.push({ resource: group, atoms, listed: new Set(spec.devices ?? []) });
  }
  return out;
}

/**
 * The sets of groups (in merge order) a device of this profile at this site can be in at once: for a
 * device listed by id in some groups, or any other device, with some set of labels. A group whose
 * selector the labels satisfy cannot be left out; one whose selector they fail cannot be joined.
 */
function memberships(groups: readonly Candidate[], budget: { steps: number }): Candidate[][] {
  const ids = new Set<string | null>([null]);
  for (const group of groups) for (const id of group.listed) ids.add(id);
  const found = new Map<string, Candidate[]>();
  for (const id of ids) {
    const chosen: Candidate[] = [];
    const required: LabelAtom[] = [];
    const excluded: LabelAtom[][] = [];
    const canExclude = (index: number, atoms: LabelAtom[]): boolean => {
      // One negated atom per excluded selector, all satisfiable together with what members require.
      if (budget.steps-- <= 0) return false;
      if (index === excluded.length) return atomsSatisfiable(atoms);
      return (excluded[index] ?? []).some((atom) => canExclude(index + 1, [...atoms, negateAtom(atom)]));
    };
    const visit = (index: number): void => {
      if (budget.steps <= 0) return;
      if (index === groups.length) {
        if (canExclude(0, required)) found.set(chosen.map((g) => g.resource.resource.metadata.name).join('\0'), [...chosen]);
        return;
      }
      const group = groups[index] as Candidate;
      if ((id !== null && group.listed.has(id)) || group.atoms === 'always') {
        chosen.push(group);
        visit(index + 1);
        chosen.pop();
        return;
      }
      if (group.atoms === 'never') return visit(index + 1);
      const atoms = group.atoms;
      if (atomsSatisfiable([...required, ...atoms])) {
        chosen.push(group);
        required.push(...atoms);
        visit(index + 1);
        required.splice(required.length - atoms.length, atoms.length);
        chosen.pop();
      }
      if (atoms.length > 0) {
        excluded.push(atoms);
        visit(index + 1);
        excluded.pop();
      }
    };
    visit(0);
  }
  return [...found.values()];
}

function relationalCombinations(context: CheckContext, findings: Findings, profile: LoadedResource<DeviceProfile>, schema: ProfileConfigSchema): Issue[] {
  const name = profile.resource.metadata.name;
  const full = schema.full;
  if (!full) return [];
  const groups = context.snapshot.groups
    .map((group) => context.find('DeviceGroup', group.metadata.name))
    .filter((group): group is LoadedResource<DeviceGroup> => group !== undefined && group.resource.spec.config !== undefined);
  const defaults = mergeConfig({}, profile.resource.spec.defaults ?? {});
  const defaultsKeys = new Set(full(defaults).map((error) => error.key));
  let checked = 0;
  let skipped = 0;
  const budget = { steps: MAX_MEMBERSHIP_STEPS };
  for (const site of context.ofKind('Site')) {
    const siteName = site.resource.metadata.name;
    const base = mergeConfig(defaults, siteLayer(site.resource, profile.resource));
    const baseErrors = full(base);
    const baseKeys = new Set(baseErrors.map((error) => error.key));
    for (const error of baseErrors) {
      if (defaultsKeys.has(error.key)) continue;
      findings.add(site, layerPath(site, error.path, schema.receivesWifi), 'config-schema-violation', error.message, name, '');
    }
    const sets = memberships(candidates(groups, name, siteName), budget);
    if (budget.steps <= 0) skipped++;
    // Each prefix of a stack is validated once; the layer whose addition brings a violation is the one to blame.
    const memo = new Map<string, { config: JsonObject; keys: Set<string> }>();
    for (const set of sets) {
      if (set.length === 0) continue;
      if (checked >= MAX_COMBINATIONS_PER_PROFILE) {
        skipped++;
        continue;
      }
      checked++;
      let config = base;
      let keys = baseKeys;
      const stack: string[] = [];
      for (const group of set) {
        stack.push(group.resource.resource.metadata.name);
        const prefix = stack.join('\0');
        let state = memo.get(prefix);
        if (!state) {
          const next = mergeConfig(config, group.resource.resource.spec.config ?? {});
          const errors = full(next);
          state = { config: next, keys: new Set(errors.map((error) => error.key)) };
          memo.set(prefix, state);
          for (const error of errors) {
            if (keys.has(error.key)) continue;
            const path = layerPath(group.resource, error.path, false);
            if (findings.has(group.resource, path, 'config-schema-violation', error.message, groupContext(group.resource.resource))) continue;
            findings.add(group.resource, path, 'config-schema-violation', error.message, name, ` with groups ${stack.join(', ')} (in merge order)`, siteName);
          }
        }
        keys = state.keys;
        config = state.config;
      }
    }
  }
  if (skipped === 0) return [];
  return [
    context.issue(
      profile,
      ['spec', 'configSchema'],
      'config-combinations-unchecked',
      `the configSchema relates keys that different layers set (${schema.relationalKeywords.join(', ')}): ${checked} combinations of site and groups were checked, more (${skipped} at least) were not; keep such keywords inside fields one layer sets, or split the profile`,
      'warning',
    ),
  ];
}

/**
 * The profile's defaults against its whole configSchema; every site and group layer against each profile it
 * can reach; for relational schemas every combination of site and groups a device can be in (bounded).
 */
export const checkConfigLayers: SnapshotCheck = (context) => {
  const issues: Issue[] = [];
  const findings = new Findings();
  for (const profile of context.ofKind('DeviceProfile')) {
    const spec = profile.resource.spec;
    const schema = profileConfigSchema(profile.resource);
    if (schema.invalid) {
      issues.push(context.issue(profile, ['spec', 'configSchema'], 'invalid-config-schema', `configSchema is not a valid JSON Schema: ${schema.invalid}`));
      continue;
    }
    const name = profile.resource.metadata.name;
    const defaults = spec.defaults ?? {};
    for (const error of schema.full?.(defaults) ?? []) {
      issues.push(
        context.issue(profile, ['spec', 'defaults', ...error.path], 'config-schema-violation', `defaults: ${error.message} (per the profile's configSchema)`),
      );
    }
    for (const pattern of schema.secretPatterns) {
      for (const found of valuesAt(defaults, pattern)) {
        if (found.value === null || isSecretValue(found.value)) continue;
        issues.push(context.issue(profile, ['spec', 'defaults', ...found.path], 'plaintext-secret', `${pointer(found.path)} is marked x-secret: encrypt it or use a secretRef`));
      }
    }
    for (const found of findSecretValues(defaults as JsonValue)) {
      if (schema.secretPatterns.some((pattern) => matchesPattern(found.path, pattern))) continue;
      issues.push(
        context.issue(profile, ['spec', 'defaults', ...found.path], 'undeclared-secret', `${pointer(found.path)} holds a secret, but the configSchema does not mark that field x-secret of profile ${name}`),
      );
    }
  }
  checkLayers(context, findings);
  for (const profile of context.ofKind('DeviceProfile')) {
    const schema = profileConfigSchema(profile.resource);
    if (!schema.invalid && schema.relationalKeywords.length > 0) issues.push(...relationalCombinations(context, findings, profile, schema));
  }
  return [...issues, ...findings.issues(context)];
};
