// What the simulator checks about the engine from the devices' side: every firmware change a device
// made was one valid step (one component, onto a known-good combination of the planner's model), and
// no tower ever carried more downloads of a rollout than its throttle allows.
import type { FirmwareVersions, Snapshot } from '../model/index.ts';
import { FirmwarePlanner, describeVersions } from '../firmware/index.ts';
import type { FirmwareChange } from './device.ts';

export interface StepViolation {
  device: string;
  stepId: string;
  from: FirmwareVersions;
  to: FirmwareVersions;
  reason: 'not-one-component' | 'not-known-good' | 'unknown-release' | 'no-matrix';
  message: string;
}

/** Checks each firmware change against the compatibility model of the device's hardware. */
export class StepAuditor {
  private readonly planner: FirmwarePlanner;
  readonly violations: StepViolation[] = [];
  /** Valid steps per device, in order. */
  readonly steps = new Map<string, FirmwareChange[]>();

  constructor(snapshot: Snapshot) {
    this.planner = new FirmwarePlanner(snapshot);
  }

  /** Records a change; returns the violation, if the change was not a valid step. */
  record(device: string, hardware: string, change: FirmwareChange): StepViolation | null {
    const violation = this.check(device, hardware, change);
    if (violation) this.violations.push(violation);
    else {
      const list = this.steps.get(device) ?? [];
      list.push(change);
      this.steps.set(device, list);
    }
    return violation;
  }

  check(device: string, hardware: string, change: FirmwareChange): StepViolation | null {
    const base = { device, stepId: change.stepId, from: change.from, to: change.to };
    const model = this.planner.model(hardware);
    if (!model) return { ...base, reason: 'no-matrix', message: `${device}: no compatibility matrix for hardware ${hardware}` };
    const changed = [...new Set([...Object.keys(change.from), ...Object.keys(change.to)])].filter((c) => change.from[c] !== change.to[c]);
    if (changed.length !== 1) {
      return { ...base, reason: 'not-one-component', message: `${device}: step ${change.stepId} changed ${changed.length} components (${changed.join(', ') || 'none'})` };
    }
    const component = changed[0] as string;
    const version = change.to[component];
    if (version === undefined || model.release(component, version) === null) {
      return { ...base, reason: 'unknown-release', message: `${device}: ${component} ${version ?? '(none)'} is not a release of ${hardware}` };
    }
    if (!model.isGood(change.to)) {
      return {
        ...base,
        reason: 'not-known-good',
        message: `${device}: step ${change.stepId} landed on ${describeVersions(change.to)}, not a known-good combination of ${hardware}`,
      };
    }
    return null;
  }
}

export interface HeldDownload {
  key: string;
  stepId: string;
}

export interface ThrottleBreach {
  rollout: string;
  tower: string;
  inFlight: number;
  limit: number;
  device: string;
}

/**
 * Downloads in flight per (rollout, tower) as the devices see them: from the answer that handed out a step
 * until the request reporting its outcome is sent. Both ends sit inside the engine's own slot lifetime
 * (taken before it answers, released when it processes the report), so this count never exceeds the
 * engine's — a breach here is a breach there.
 */
export class TowerThrottleMonitor {
  private readonly inFlight = new Map<string, number>();
  private readonly byDevice = new Map<string, HeldDownload>();
  /** Highest count seen per `rollout|tower`. */
  readonly peak = new Map<string, number>();
  readonly breaches: ThrottleBreach[] = [];

  constructor(private readonly limits: ReadonlyMap<string, number | null>) {}

  static key(rollout: string, tower: string): string {
    return `${rollout}|${tower}`;
  }

  /** Downloads in flight on a tower (all rollouts), for congestion. */
  onTower(tower: string): number {
    let total = 0;
    for (const [key, count] of this.inFlight) if (key.endsWith(`|${tower}`)) total += count;
    return total;
  }

  count(rollout: string, tower: string): number {
    return this.inFlight.get(TowerThrottleMonitor.key(rollout, tower)) ?? 0;
  }

  issued(device: string, stepId: string, rollout: string, tower: string): void {
    if (this.byDevice.get(device)?.stepId === stepId) return;
    this.release(device);
    const key = TowerThrottleMonitor.key(rollout, tower);
    const count = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, count);
    this.byDevice.set(device, { key, stepId });
    if (count > (this.peak.get(key) ?? 0)) this.peak.set(key, count);
    const limit = this.limits.get(rollout) ?? null;
    if (limit !== null && count > limit) this.breaches.push({ rollout, tower, inFlight: count, limit, device });
  }

  /** The device sent the outcome of its step: returns what it held (for `restore` if the request is refused). */
  release(device: string): HeldDownload | null {
    const held = this.byDevice.get(device);
    if (!held) return null;
    this.byDevice.delete(device);
    const count = (this.inFlight.get(held.key) ?? 1) - 1;
    if (count <= 0) this.inFlight.delete(held.key);
    else this.inFlight.set(held.key, count);
    return held;
  }

  /** The request carrying the outcome was refused unprocessed: the engine still holds the slot. */
  restore(device: string, held: HeldDownload): void {
    const [rollout = '', tower = ''] = held.key.split('|');
    this.issued(device, held.stepId, rollout, tower);
  }

  /** The step a device holds, if any. */
  holding(device: string): string | null {
    return this.byDevice.get(device)?.stepId ?? null;
  }

  get total(): number {
    let total = 0;
    for (const count of this.inFlight.values()) total += count;
    return total;
  }
}
