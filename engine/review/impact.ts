// Fleet impact of a change: which devices change effective config, which firmware paths they will take,
// who becomes blocked or off-matrix, how many fall in each wave. Fast on large fleets because a device's
// outcome depends only on (profile, site, labels, override, explicit group membership) and its reported
// firmware: devices are grouped by those and each group is planned once per revision.
import type { DeviceIdentity, FirmwareVersions, JsonValue, Rollout, SecretValue, Snapshot } from '../model/index.ts';
import { canonicalJson, effectiveConfig, isSecretValue, secretKey, SecretVault } from '../config/index.ts';
import type { FleetDevice } from './fleet.ts';

/** One planned step, as the impact needs it. */
export interface OutlookStep {
  component: string;
  from: string | null;
  to: string;
  size: number;
}

/** Where the firmware planner says a device's reported firmware leads under a revision. */
export interface PlanOutlook {
  status: 'up-to-date' | 'upgrade' | 'blocked';
  /** The reported combination is not a known-good one. */
  offMatrix: boolean;
  steps: readonly OutlookStep[];
}

/** What fleet impact needs from the firmware core; `firmwarePort()` (firmware-port.ts) adapts engine/firmware. */
export interface FirmwarePort {
  rolloutFor(snapshot: Snapshot, device: DeviceIdentity): Rollout | null;
  plan(snapshot: Snapshot, hardware: string, rollout: Rollout, reported: FirmwareVersions): PlanOutlook;
  /** The device's stable wave bucket under a rollout name (a hash: computed once per device and name). */
  bucket(rolloutName: string, deviceId: string): number;
  /** The wave a bucket falls in (open or not; null: in none), and whether steps are handed out to it now. */
  placement(rollout: Rollout, bucket: number): WavePlacement;
}

export interface WavePlacement {
  wave: string | null;
  /** In the open waves: steps are handed out to it now. */
  eligible: boolean;
}

export interface Count {
  name: string;
  devices: number;
}

export interface FirmwarePathGroup {
  rollout: string;
  hardware: string;
  /** Labels of the combinations: reported, after each intermediate step, target. Bundle names where one matches. */
  from: string;
  via: string[];
  to: string;
  steps: number;
  /** Download per device. */
  bytes: number;
  devices: number;
}

export interface StateGroup {
  hardware: string;
  /** Label of the reported combination. */
  firmware: string;
  rollout: string | null;
  devices: number;
  /** Up to five device ids, sorted. */
  examples: string[];
}

export interface WaveCount {
  rollout: string;
  wave: string;
  devices: number;
  /** The wave is open now (at or before the rollout's activeWave). */
  open: boolean;
}

export interface FleetImpact {
  devices: number;
  /** Devices with any change: config, firmware plan, blocked or off-matrix. */
  affected: number;
  config: {
    changed: number;
    bySite: Count[];
    byProfile: Count[];
    /** Devices whose profile or site HEAD no longer declares. */
    orphaned: number;
  };
  firmware: {
    /** Devices whose plan (rollout, path or status) changes, or whose wave opens or closes. */
    planChanged: number;
    /** Devices that will be handed firmware steps at HEAD but were not at BASE (new path, or their wave opened). */
    startsNow: number;
    paths: FirmwarePathGroup[];
    /** Devices that had a path at BASE and, not blocked, have none at HEAD (already there, or no rollout). */
    stopped: number;
    newlyBlocked: StateGroup[];
    newlyOffMatrix: StateGroup[];
    /** Totals at HEAD, newly or not. */
    blockedAtHead: number;
    offMatrixAtHead: number;
    waves: WaveCount[];
  };
}

export interface ImpactInput {
  base: Snapshot;
  head: Snapshot;
  devices: readonly FleetDevice[];
  firmware: FirmwarePort;
  /** Vaults with decrypted secrets (from compileSnapshot with an identity); secrets they lack compare by ciphertext. */
  baseSecrets?: SecretVault;
  headSecrets?: SecretVault;
}

interface Outcome {
  rollout: string | null;
  hardware: string | null;
  plan: PlanOutlook | null;
  /** Combination labels along the path, reported first. */
  states: string[];
  signature: string;
}

interface ConfigGroup {
  baseHash: string | null;
  headHash: string | null;
  baseRollout: Rollout | null;
  headRollout: Rollout | null;
  hardwareBase: string | null;
  hardwareHead: string | null;
  /** Same rollout, waves and open wave at BASE and HEAD. */
  sameRollout: boolean;
  plans: Map<string, { base: Outcome; head: Outcome }>;
}

/**
 * A vault holding every secret it is shown: decrypted ones (from the compiled snapshot's vault) as they are,
 * the rest by their ciphertext or reference — so config hashes compare without the engine's identity.
 */
class ComparableVault extends SecretVault {
  constructor(private readonly given: SecretVault | undefined) {
    super();
  }

  include(value: JsonValue): void {
    if (value === null || typeof value !== 'object') return;
    if (isSecretValue(value)) {
      const secret = value as SecretValue;
      if (!this.has(secret)) this.store(secret, this.given?.has(secret) ? this.given.reveal(secret) : `unresolved:${secretKey(secret)}`);
      return;
    }
    if (Array.isArray(value)) for (const item of value) this.include(item);
    else for (const item of Object.values(value)) this.include(item);
  }
}

function comparableVault(snapshot: Snapshot, given: SecretVault | undefined): ComparableVault {
  const vault = new ComparableVault(given);
  for (const { resource } of snapshot.resources) vault.include(resource.spec as unknown as JsonValue);
  return vault;
}

function labelsKey(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const k of keys) key += k + '\u0002' + labels[k] + '\u0003';
  return key;
}

function firmwareKey(firmware: FirmwareVersions): string {
  const keys = Object.keys(firmware);
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const k of keys) key += k + '@' + firmware[k] + ' ';
  return key;
}

/** A combination as reviewers know it: the bundle name when it is one, else `mcu 2.3.1 · ble 1.4.0`. */
export function combinationLabel(snapshot: Snapshot, hardware: string | null, firmware: FirmwareVersions): string {
  const matrix = hardware ? snapshot.matrices.get(hardware) : undefined;
  const order = matrix?.spec.components ?? Object.keys(firmware).sort();
  for (const bundle of matrix?.spec.bundles ?? []) {
    const components = Object.keys(bundle.components);
    if (components.length === Object.keys(firmware).length && components.every((c) => bundle.components[c] === firmware[c])) {
      return bundle.name;
    }
  }
  const parts = order.filter((c) => firmware[c] !== undefined).map((c) => `${c} ${firmware[c]}`);
  for (const c of Object.keys(firmware).sort()) if (!order.includes(c)) parts.push(`${c} ${firmware[c]}`);
  return parts.length > 0 ? parts.join(' · ') : '(nothing reported)';
}

function outcome(
  firmware: FirmwarePort,
  snapshot: Snapshot,
  hardware: string | null,
  rollout: Rollout | null,
  reported: FirmwareVersions,
): Outcome {
  if (!rollout || !hardware) {
    return { rollout: null, hardware, plan: null, states: [], signature: 'none' };
  }
  const plan = firmware.plan(snapshot, hardware, rollout, reported);
  const states = [combinationLabel(snapshot, hardware, reported)];
  let current: Record<string, string> = { ...reported };
  for (const step of plan.steps) {
    current = { ...current, [step.component]: step.to };
    states.push(combinationLabel(snapshot, hardware, current));
  }
  const path = plan.steps.map((s) => `${s.component}@${s.to}`).join('>');
  const signature = `${rollout.metadata.name}|${plan.status}|${plan.offMatrix ? 'off' : 'on'}|${path}`;
  return { rollout: rollout.metadata.name, hardware, plan, states, signature };
}

function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function counts(map: Map<string, number>): Count[] {
  return [...map]
    .map(([name, devices]) => ({ name, devices }))
    .sort((a, b) => b.devices - a.devices || (a.name < b.name ? -1 : 1));
}

/** Same rollout name, waves and open wave: a device's placement and eligibility are the same under both. */
function placementEquivalent(a: Rollout | null, b: Rollout | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.metadata.name !== b.metadata.name || a.spec.activeWave !== b.spec.activeWave) return false;
  const waves = (r: Rollout): string => r.spec.waves.map((w) => `${w.name}:${w.percent}`).join(',');
  return waves(a) === waves(b);
}

function explicitMembers(snapshot: Snapshot, into: Set<string>): void {
  for (const group of snapshot.groups) for (const id of group.spec.devices ?? []) into.add(id);
}

function configOf(snapshot: Snapshot, vault: ComparableVault, device: DeviceIdentity): string | null {
  if (!snapshot.profiles.has(device.profile) || !snapshot.sites.has(device.site)) return null;
  // An override's secret forms are never revealed (effectiveConfig merges it as data): nothing to include.
  return effectiveConfig(snapshot, device, vault).hash;
}

export function fleetImpact(input: ImpactInput): FleetImpact {
  const { base, head, devices, firmware } = input;
  const baseVault = comparableVault(base, input.baseSecrets);
  const headVault = comparableVault(head, input.headSecrets);
  const explicit = new Set<string>();
  explicitMembers(base, explicit);
  explicitMembers(head, explicit);

  const groups = new Map<string, ConfigGroup>();
  const bySite = new Map<string, number>();
  const byProfile = new Map<string, number>();
  const paths = new Map<string, FirmwarePathGroup>();
  const blocked = new Map<string, StateGroup & { all: string[] }>();
  const offMatrix = new Map<string, StateGroup & { all: string[] }>();
  const waves = new Map<string, WaveCount>();
  let affected = 0;
  let configChanged = 0;
  let orphaned = 0;
  let planChanged = 0;
  let startsNow = 0;
  let stopped = 0;
  let blockedAtHead = 0;
  let offMatrixAtHead = 0;

  const noteState = (map: Map<string, StateGroup & { all: string[] }>, out: Outcome, firmwareLabel: string, id: string): void => {
    const key = `${out.hardware}\u0001${firmwareLabel}\u0001${out.rollout}`;
    let group = map.get(key);
    if (!group) {
      group = { hardware: out.hardware ?? '', firmware: firmwareLabel, rollout: out.rollout, devices: 0, examples: [], all: [] };
      map.set(key, group);
    }
    group.devices += 1;
    if (group.all.length < 5 || id < (group.all[group.all.length - 1] ?? '')) {
      group.all.push(id);
      group.all.sort();
      if (group.all.length > 5) group.all.length = 5;
    }
  };

  for (const device of devices) {
    const identityKey =
      device.profile + '\u0001' + device.site + '\u0001' + labelsKey(device.labels) + '\u0001' +
      (device.configOverride ? canonicalJson(device.configOverride) : '') + '\u0001' + (explicit.has(device.id) ? device.id : '');
    let group = groups.get(identityKey);
    if (!group) {
      const hardwareBase = base.profiles.get(device.profile)?.spec.hardware ?? null;
      const hardwareHead = head.profiles.get(device.profile)?.spec.hardware ?? null;
      const baseRollout = hardwareBase ? firmware.rolloutFor(base, device) : null;
      const headRollout = hardwareHead ? firmware.rolloutFor(head, device) : null;
      group = {
        baseHash: configOf(base, baseVault, device),
        headHash: configOf(head, headVault, device),
        baseRollout,
        headRollout,
        hardwareBase,
        hardwareHead,
        sameRollout: placementEquivalent(baseRollout, headRollout),
        plans: new Map(),
      };
      groups.set(identityKey, group);
    }
    const fwKey = firmwareKey(device.firmware);
    let plan = group.plans.get(fwKey);
    if (!plan) {
      plan = {
        base: outcome(firmware, base, group.hardwareBase, group.baseRollout, device.firmware),
        head: outcome(firmware, head, group.hardwareHead, group.headRollout, device.firmware),
      };
      group.plans.set(fwKey, plan);
    }

    let isAffected = false;
    if (group.headHash === null && group.baseHash !== null) {
      orphaned += 1;
      isAffected = true;
    }
    if (group.baseHash !== group.headHash) {
      configChanged += 1;
      increment(bySite, device.site);
      increment(byProfile, device.profile);
      isAffected = true;
    }
    const { base: was, head: now } = plan;
    const headBlocked = now.plan?.status === 'blocked';
    const headOff = now.plan?.offMatrix === true;
    if (headBlocked) blockedAtHead += 1;
    if (headOff) offMatrixAtHead += 1;
    const wasUpgrading = was.plan?.status === 'upgrade';
    const nowUpgrading = now.plan?.status === 'upgrade';
    const sameRollout = group.sameRollout;
    let changed = was.signature !== now.signature;
    let nowPlacement: WavePlacement | null = null;
    if (changed || !sameRollout) {
      // Wave placement hashes the device id: only for devices whose plan or rollout changes, and once when
      // both revisions name the same rollout (the bucket depends on the name and the id only).
      const headBucket = nowUpgrading && group.headRollout ? firmware.bucket(group.headRollout.metadata.name, device.id) : null;
      nowPlacement = headBucket !== null && group.headRollout ? firmware.placement(group.headRollout, headBucket) : null;
      let wasEligible = false;
      if (wasUpgrading && group.baseRollout) {
        if (sameRollout && nowPlacement) wasEligible = nowPlacement.eligible;
        else {
          const baseBucket =
            headBucket !== null && group.baseRollout.metadata.name === group.headRollout?.metadata.name
              ? headBucket
              : firmware.bucket(group.baseRollout.metadata.name, device.id);
          wasEligible = firmware.placement(group.baseRollout, baseBucket).eligible;
        }
      }
      const nowEligible = nowPlacement?.eligible ?? false;
      if (nowEligible && !wasEligible) startsNow += 1;
      if (wasEligible !== nowEligible) changed = true;
    }
    if (changed) {
      planChanged += 1;
      isAffected = true;
      const label = now.states[0] ?? '';
      if (headBlocked && was.plan?.status !== 'blocked') noteState(blocked, now, label, device.id);
      if (headOff && was.plan?.offMatrix !== true) noteState(offMatrix, now, label, device.id);
      if (nowUpgrading && now.plan && now.rollout && group.headRollout) {
        const key = `${now.rollout}\u0001${now.states.join('\u0001')}`;
        let path = paths.get(key);
        if (!path) {
          path = {
            rollout: now.rollout,
            hardware: now.hardware ?? '',
            from: now.states[0] ?? '',
            via: now.states.slice(1, -1),
            to: now.states[now.states.length - 1] ?? '',
            steps: now.plan.steps.length,
            bytes: now.plan.steps.reduce((sum, step) => sum + step.size, 0),
            devices: 0,
          };
          paths.set(key, path);
        }
        path.devices += 1;
        const rollout = group.headRollout;
        const placement = nowPlacement ?? firmware.placement(rollout, firmware.bucket(rollout.metadata.name, device.id));
        const wave = placement.wave ?? '(beyond the last wave)';
        const waveKey = `${rollout.metadata.name}\u0001${wave}`;
        let count = waves.get(waveKey);
        if (!count) {
          count = { rollout: rollout.metadata.name, wave, devices: 0, open: placement.eligible };
          waves.set(waveKey, count);
        }
        count.devices += 1;
      } else if (wasUpgrading && !headBlocked) {
        stopped += 1;
      }
    }
    if (isAffected) affected += 1;
  }

  const stateGroups = (map: Map<string, StateGroup & { all: string[] }>): StateGroup[] =>
    [...map.values()]
      .map(({ all, ...group }) => ({ ...group, examples: all }))
      .sort((a, b) => b.devices - a.devices || a.hardware.localeCompare(b.hardware) || a.firmware.localeCompare(b.firmware));
  const waveOrder = (count: WaveCount): number => {
    const rollout = head.rollouts.find((r) => r.metadata.name === count.rollout);
    const index = rollout?.spec.waves.findIndex((w) => w.name === count.wave) ?? -1;
    return index < 0 ? Number.MAX_SAFE_INTEGER : index;
  };
  return {
    devices: devices.length,
    affected,
    config: { changed: configChanged, bySite: counts(bySite), byProfile: counts(byProfile), orphaned },
    firmware: {
      planChanged,
      startsNow,
      paths: [...paths.values()].sort(
        (a, b) => b.devices - a.devices || a.rollout.localeCompare(b.rollout) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
      ),
      stopped,
      newlyBlocked: stateGroups(blocked),
      newlyOffMatrix: stateGroups(offMatrix),
      blockedAtHead,
      offMatrixAtHead,
      waves: [...waves.values()].sort((a, b) => a.rollout.localeCompare(b.rollout) || waveOrder(a) - waveOrder(b) || a.wave.localeCompare(b.wave)),
    },
  };
}
