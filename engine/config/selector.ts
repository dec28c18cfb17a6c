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
 * A device is a member of a group when it is listed in `devices`, or when the group has a selector,
 * profiles or sites and the device satisfies all of those that are set.
 */
export function isGroupMember(group: DeviceGroup, device: DeviceIdentity): boolean {
  const spec = group.spec;
  if (spec.devices?.includes(device.id)) return true;
  if (!spec.selector && !spec.profiles && !spec.sites) return false;
  if (spec.profiles && !spec.profiles.includes(device.profile)) return false;
  if (spec.sites && !spec.sites.includes(device.site)) return false;
  return spec.selector ? matchesLabelSelector(spec.selector, device.labels) : true;
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
