// Label selectors and group membership: shared by effective config and by rollouts.
import type { DeviceGroup, DeviceIdentity, LabelSelector, RolloutSelector, Snapshot } from '../model/index.ts';

/** Kubernetes semantics: every matchLabels pair and every expression must hold; an empty selector matches all. */
export function matchesLabelSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expression.key);
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * A device is a member of a group when it is of one of the group's `profiles` and at one of its `sites`
 * (where those are set), and it is listed in `devices`, or matches the `selector`, or — for a group that
 * sets neither — the group sets `profiles` or `sites` (every such device). `profiles` and `sites` restrict
 * the listed devices too, so a group's config is checked against the profiles it names only.
 */
export function isGroupMember(group: DeviceGroup, device: DeviceIdentity): boolean {
  const spec = group.spec;
  if (spec.profiles && !spec.profiles.includes(device.profile)) return false;
  if (spec.sites && !spec.sites.includes(device.site)) return false;
  if (spec.devices?.includes(device.id)) return true;
  if (spec.selector) return matchesLabelSelector(spec.selector, device.labels);
  return !spec.devices && (spec.profiles !== undefined || spec.sites !== undefined);
}

/** The device's groups in merge order: priority ascending, ties by name (the snapshot keeps that order). */
export function groupsForDevice(snapshot: Snapshot, device: DeviceIdentity): DeviceGroup[] {
  return snapshot.groups.filter((group) => isGroupMember(group, device));
}

/** A rollout selector: labels, and the profiles/sites/groups that are set (all must hold). */
export function matchesRolloutSelector(snapshot: Snapshot, selector: RolloutSelector, device: DeviceIdentity): boolean {
  if (selector.profiles && !selector.profiles.includes(device.profile)) return false;
  if (selector.sites && !selector.sites.includes(device.site)) return false;
  if (selector.groups) {
    const member = new Set(groupsForDevice(snapshot, device).map((g) => g.metadata.name));
    if (!selector.groups.some((name) => member.has(name))) return false;
  }
  return matchesLabelSelector(selector, device.labels);
}

// ── what label sets can exist: used to know which groups can select a device together ──

/** One requirement of a selector on one label; a selector is the conjunction of its atoms. */
export interface LabelAtom {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: readonly string[];
}

export function selectorAtoms(selector: LabelSelector): LabelAtom[] {
  const atoms: LabelAtom[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({ key, operator: 'In', values: [value] }));
  for (const expression of selector.matchExpressions ?? []) atoms.push({ key: expression.key, operator: expression.operator, values: expression.values ?? [] });
  return atoms;
}

const NEGATION = { In: 'NotIn', NotIn: 'In', Exists: 'DoesNotExist', DoesNotExist: 'Exists' } as const;

/** The atom that holds exactly when this one does not (NotIn also holds for a missing label). */
export function negateAtom(atom: LabelAtom): LabelAtom {
  return { key: atom.key, operator: NEGATION[atom.operator], values: atom.values };
}

/** Whether some set of labels satisfies every atom. Label values are free strings, so NotIn alone always can. */
export function atomsSatisfiable(atoms: readonly LabelAtom[]): boolean {
  const byKey = new Map<string, LabelAtom[]>();
  for (const atom of atoms) {
    let list = byKey.get(atom.key);
    if (!list) byKey.set(atom.key, (list = []));
    list.push(atom);
  }
  for (const list of byKey.values()) {
    const mustExist = list.some((a) => a.operator === 'In' || a.operator === 'Exists');
    const mustNotExist = list.some((a) => a.operator === 'DoesNotExist');
    if (mustExist && mustNotExist) return false;
    const ins = list.filter((a) => a.operator === 'In');
    if (ins.length > 0) {
      const forbidden = new Set(list.filter((a) => a.operator === 'NotIn').flatMap((a) => a.values));
      const allowed = ins.slice(1).reduce((set, a) => new Set([...set].filter((v) => a.values.includes(v))), new Set(ins[0]?.values ?? []));
      if (![...allowed].some((v) => !forbidden.has(v))) return false;
    }
  }
  return true;
}
