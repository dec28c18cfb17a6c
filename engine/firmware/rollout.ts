// Rollout policy as pure functions of the declared rollout, counters and `now`: wave membership by a
// stable hash, throttles, step timeouts, and the automatic pause of a failing wave.
import { createHash } from 'node:crypto';
import { canonicalJson, type InFlightCounts, type InFlightStep, type JsonValue, type Rollout, type RolloutThrottle, type RolloutWave, type WaveProgress } from '../model/index.ts';

/**
 * The device's stable bucket in [0, 100) for a rollout: the first 4 bytes of sha256(rollout, device) as an
 * unsigned integer, scaled. Keyed by the rollout too, so the same devices are not always the canaries.
 */
export function waveBucket(rolloutName: string, deviceId: string): number {
  const digest = createHash('sha256').update(rolloutName).update('\u0000').update(deviceId).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100;
}

/**
 * The key a rollout's bookkeeping (wave success/failure counts, automatic pause) is kept under: its name and
 * a hash of its spec without `paused`. A commit that changes the rollout (the fix, a new target, other
 * waves or thresholds) starts fresh bookkeeping, which is how an automatically paused rollout resumes;
 * pausing and unpausing in git changes nothing. Canonical JSON (sorted keys): YAML key order is not a change.
 */
export function rolloutCampaign(rollout: Rollout): string {
  const cached = campaigns.get(rollout);
  if (cached) return cached;
  const { paused: _paused, ...spec } = rollout.spec;
  const digest = createHash('sha256').update(canonicalJson(spec as unknown as JsonValue)).digest('hex').slice(0, 16);
  const key = `${rollout.metadata.name}#${digest}`;
  campaigns.set(rollout, key);
  return key;
}

/** Snapshots are frozen: a rollout object's campaign never changes. */
const campaigns = new WeakMap<Rollout, string>();

/** The wave a bucket falls in: the first wave (waves are cumulative percentages) whose percent exceeds it. */
export function waveForBucket(waves: readonly RolloutWave[], bucket: number): RolloutWave | null {
  return waves.find((w) => bucket < w.percent) ?? null;
}

/** The rollout's open wave, or null when `activeWave` names none. */
export function activeWave(rollout: Rollout): RolloutWave | null {
  return rollout.spec.waves.find((w) => w.name === rollout.spec.activeWave) ?? null;
}

/** The wave the device falls in by its bucket, open or not (null: beyond the last wave's percent). */
export function deviceWave(rollout: Rollout, deviceId: string): RolloutWave | null {
  return waveForBucket(rollout.spec.waves, waveBucket(rollout.metadata.name, deviceId));
}

/**
 * Eligible when the device's bucket is below the open wave's percentage. Raising `activeWave` (or its percent)
 * only raises the bar, so nobody already in drops out.
 */
export function isDeviceEligible(rollout: Rollout, deviceId: string): boolean {
  const open = activeWave(rollout);
  return open !== null && waveBucket(rollout.metadata.name, deviceId) < open.percent;
}

/** The wave of an eligible device (the first whose percent exceeds its bucket); null when the device is not in the open waves. */
export function waveOfDevice(rollout: Rollout, deviceId: string): RolloutWave | null {
  const open = activeWave(rollout);
  if (!open) return null;
  const bucket = waveBucket(rollout.metadata.name, deviceId);
  if (bucket >= open.percent) return null;
  return waveForBucket(rollout.spec.waves, bucket);
}

// ── throttles and timeouts ───────────────────────────────────────────────

export type ThrottleDecision =
  | { allowed: true }
  | { allowed: false; code: 'max-in-flight' | 'max-in-flight-per-cell'; limit: number; inFlight: number; message: string };

/** Whether one more step may start, given the steps in flight now (total and on the device's serving cell). */
export function throttleAllows(throttle: RolloutThrottle | undefined, counts: InFlightCounts, cell: string | null): ThrottleDecision {
  const total = throttle?.maxInFlight;
  if (total !== undefined && counts.total >= total) {
    return { allowed: false, code: 'max-in-flight', limit: total, inFlight: counts.total, message: `${counts.total} steps in flight, the rollout allows ${total}` };
  }
  const perCell = throttle?.maxInFlightPerCell;
  if (perCell !== undefined && cell !== null) {
    const onCell = counts.perCell.get(cell) ?? 0;
    if (onCell >= perCell) {
      return { allowed: false, code: 'max-in-flight-per-cell', limit: perCell, inFlight: onCell, message: `${onCell} steps in flight on cell ${cell}, the rollout allows ${perCell} per cell` };
    }
  }
  return { allowed: true };
}

/**
 * Every step times out: a device that goes dark mid-step must not hold its throttle slot forever, so a
 * rollout that declares no timeout (or a step whose rollout was removed) gets this one.
 */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 6 * 3600;

/** Epoch ms after which the step counts as failed. */
export function stepDeadline(step: InFlightStep, throttle: RolloutThrottle | undefined): number {
  const seconds = throttle?.stepTimeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
  return step.issuedAt + seconds * 1000;
}

/** A step not reported back by its deadline has timed out (at the deadline itself, too). */
export function isStepTimedOut(step: InFlightStep, throttle: RolloutThrottle | undefined, now: number): boolean {
  return now >= stepDeadline(step, throttle);
}

// ── automatic pause ──────────────────────────────────────────────────────

export type PauseDecision = { pause: false } | { pause: true; wave: string; failed: number; finished: number; reason: string };

/**
 * A wave pauses the rollout once at least `minDevices` (default 1) of its steps finished and the failed share
 * is strictly above `maxFailureRatio`. A wave without `maxFailureRatio` never pauses it.
 */
export function wavePauseDecision(wave: RolloutWave, progress: WaveProgress | undefined): PauseDecision {
  if (wave.maxFailureRatio === undefined || !progress) return { pause: false };
  const finished = progress.succeeded + progress.failed;
  if (finished === 0 || finished < (wave.minDevices ?? 1)) return { pause: false };
  const ratio = progress.failed / finished;
  if (ratio <= wave.maxFailureRatio) return { pause: false };
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  return {
    pause: true,
    wave: wave.name,
    failed: progress.failed,
    finished,
    reason: `wave '${wave.name}': ${progress.failed} of ${finished} finished steps failed (${pct(ratio)}), above its ${pct(wave.maxFailureRatio)} threshold`,
  };
}

/**
 * Whether the rollout should pause itself, given each wave's finished steps and, optionally, the outcome of
 * the step that ends now (not yet counted by the store). Returns the reason, or null.
 */
export function shouldPauseRollout(rollout: Rollout, progress: readonly WaveProgress[], pending?: WaveProgress): string | null {
  for (const wave of rollout.spec.waves) {
    const recorded = progress.find((p) => p.wave === wave.name);
    let counts: WaveProgress | undefined = recorded;
    if (pending && pending.wave === wave.name) {
      counts = {
        wave: wave.name,
        succeeded: (recorded?.succeeded ?? 0) + pending.succeeded,
        failed: (recorded?.failed ?? 0) + pending.failed,
      };
    }
    const decision = wavePauseDecision(wave, counts);
    if (decision.pause) return decision.reason;
  }
  return null;
}
