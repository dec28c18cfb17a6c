// The fleet driver: registers the virtual devices through the operator API, then checks each one in at
// its answer's nextCheckInSeconds / speed, a bounded number at a time, and watches what happens: valid
// steps only, per-tower throttles, and when the fleet reached its rollout targets.
import type { CheckInAnswer, FirmwareVersions, Snapshot } from '../model/index.ts';
import { FirmwarePlanner } from '../firmware/index.ts';
import { StepAuditor, TowerThrottleMonitor, type StepViolation, type ThrottleBreach } from './audit.ts';
import { DEFAULT_BEHAVIOUR, VirtualDevice, requestTower, type DeviceBehaviour, type FirmwareChange } from './device.ts';
import { convergenceTarget, firmwareLabel, planFleet, type DevicePlan } from './fleet.ts';
import { EngineClient } from './http.ts';
import { deviceRandom, seededRandom } from './random.ts';

export class SimulationError extends Error {
  constructor(
    readonly code: 'engine-not-ready' | 'registration-failed' | 'device-exists' | 'unauthorized',
    message: string,
  ) {
    super(message);
  }
}

export interface SimulationOptions {
  /** Engine base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Operator token with the operator (or admin) role: registers the devices. */
  adminToken: string;
  /** The compiled fleet the engine serves: sites, profiles, towers, matrices, rollouts. */
  snapshot: Snapshot;
  devices: number;
  /** Check-in intervals are divided by this. */
  speed: number;
  /** Probability that a firmware step fails on an idle tower. */
  failureRate: number;
  towersPerSite: number;
  /** Stop after this many real milliseconds (null: only on `signal` or convergence with `stopWhenConverged`). */
  durationMs: number | null;
  seed: number;
  /** Requests in flight at most (sockets). Default 64. */
  concurrency?: number;
  /** Device id prefix (default `sim-<seed>-`). */
  prefix?: string;
  behaviour?: Partial<DeviceBehaviour>;
  stopWhenConverged?: boolean;
  /** How often onProgress is called (default 2000 ms). */
  progressIntervalMs?: number;
  onProgress?(progress: SimulationProgress): void;
  /** Called once when every device has reached its target. */
  onConverged?(progress: SimulationProgress): void;
  /** Read the engine's device statuses from /metrics for the progress (default true). */
  engineStatus?: boolean;
  signal?: AbortSignal;
  /** Every answered or refused check-in, with its round-trip milliseconds (benchmarks). */
  onCheckIn?(result: { status: number; latencyMs: number }): void;
  /** How long to wait for the engine's /readyz (default 60 s). */
  readyTimeoutMs?: number;
}

export type LocalStatus = 'at-target' | 'installing' | 'behind' | 'silent';

export interface SimulationProgress {
  /** Real milliseconds since the first check-in was due. */
  elapsedMs: number;
  /** Simulated milliseconds (elapsed × speed). */
  simulatedMs: number;
  devices: number;
  atTarget: number;
  /** The devices' own view. */
  byLocalStatus: Record<LocalStatus, number>;
  /** Firmware combinations, most common first. */
  byFirmware: { firmware: string; devices: number }[];
  /** The engine's view (fleetform_devices{status}); null when not read. */
  byEngineStatus: Record<string, number> | null;
  checkIns: number;
  /** Refused or failed check-ins by HTTP status (`network` when no answer). */
  errors: Record<string, number>;
  stepsIssued: number;
  stepsSucceeded: number;
  stepsFailed: number;
  downloadsInFlight: number;
  /** Real milliseconds from the start until every device was at its target; null while not. */
  convergedAfterMs: number | null;
  /** Rollouts the engine reports paused (in git or automatically), with why: their devices stop where they are. */
  pausedRollouts: { name: string; reason: string }[];
}

export interface DeviceOutcome {
  id: string;
  profile: string;
  site: string;
  hardware: string;
  rollout: string | null;
  initial: FirmwareVersions;
  target: FirmwareVersions;
  firmware: FirmwareVersions;
  atTarget: boolean;
  /** Valid steps the device made, in order. */
  steps: FirmwareChange[];
}

export interface SimulationReport extends SimulationProgress {
  converged: boolean;
  convergedAfterSimulatedMs: number | null;
  registrationMs: number;
  violations: StepViolation[];
  breaches: ThrottleBreach[];
  /** Highest downloads in flight per rollout and tower, with the limit. */
  throttlePeaks: { rollout: string; tower: string; peak: number; limit: number | null }[];
  outcomes: DeviceOutcome[];
  /** Check-in latency as the devices saw it, milliseconds. */
  latency: { p50: number; p90: number; p99: number; max: number };
}

interface Slot {
  device: VirtualDevice;
  plan: DevicePlan;
  token: string;
  target: FirmwareVersions;
  due: number;
  /** Not scheduled any more (token refused). */
  dead: boolean;
}

/** A min-heap of slots by due time. */
class DueQueue {
  private readonly items: Slot[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Slot | undefined {
    return this.items[0];
  }
  push(slot: Slot): void {
    const items = this.items;
    items.push(slot);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as Slot).due <= slot.due) break;
      items[i] = items[parent] as Slot;
      i = parent;
    }
    items[i] = slot;
  }
  pop(): Slot | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const mDue = (): number => (m === i ? last.due : (items[m] as Slot).due);
        if (l < items.length && (items[l] as Slot).due < mDue()) m = l;
        if (r < items.length && (items[r] as Slot).due < mDue()) m = r;
        if (m === i) break;
        items[i] = items[m] as Slot;
        i = m;
      }
      items[i] = last;
    }
    return top;
  }
}

function sameFirmware(a: FirmwareVersions, b: FirmwareVersions): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const LATENCY_RESERVOIR = 100_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** fleetform_devices{status="x"} n → { x: n }. */
export function parseDeviceStatusMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^fleetform_devices\{status="([^"]+)"\}\s+([0-9.eE+-]+)$/gm)) {
    const value = Number(match[2]);
    if (match[1] && Number.isFinite(value) && value > 0) out[match[1]] = value;
  }
  return out;
}

export async function waitForEngine(client: EngineClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await client.request<{ checks?: object }>('GET', '/readyz', null);
      if (res.status === 200) return;
      last = `readyz answered ${res.status} ${JSON.stringify(res.body?.checks ?? {})}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new SimulationError('engine-not-ready', `the engine is not ready: ${last}`);
    await sleep(250);
  }
}

/** Runs `work` over `items`, `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const concurrency = Math.max(1, options.concurrency ?? 64);
  const client = new EngineClient(options.url, concurrency);
  const behaviour: DeviceBehaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour, failureRate: options.failureRate };
  const { snapshot } = options;
  try {
    await waitForEngine(client, options.readyTimeoutMs ?? 60_000);
    const plan = planFleet(snapshot, {
      devices: options.devices,
      towersPerSite: options.towersPerSite,
      prefix: options.prefix ?? `sim-${options.seed}-`,
      random: seededRandom(options.seed),
    });

    // ── registration ──
    const registrationStarted = Date.now();
    const tokens = new Map<string, string>();
    await eachLimited(plan.devices, Math.min(concurrency, 16), async (device) => {
      if (options.signal?.aborted) return;
      const res = await client.request<{ token?: string; error?: { code: string; message: string } }>('POST', '/v1/devices', options.adminToken, {
        id: device.id,
        profile: device.profile,
        site: device.site,
        labels: { ...device.labels, simulated: 'true' },
      });
      if (res.status === 201 && res.body?.token) {
        tokens.set(device.id, res.body.token);
        return;
      }
      if (res.status === 401 || res.status === 403) throw new SimulationError('unauthorized', `the engine refused the operator token (${res.status}): pass an operator or admin token with --token`);
      if (res.status === 409) throw new SimulationError('device-exists', `device ${device.id} is already registered: pick another --prefix or --seed`);
      throw new SimulationError('registration-failed', `registering ${device.id} failed: ${res.status} ${res.body?.error?.message ?? ''}`.trim());
    });
    const registrationMs = Date.now() - registrationStarted;

    // ── the run ──
    const planner = new FirmwarePlanner(snapshot);
    const auditor = new StepAuditor(snapshot);
    const limits = new Map(snapshot.rollouts.map((r) => [r.metadata.name, r.spec.throttle?.maxInFlightPerCell ?? null] as const));
    const monitor = new TowerThrottleMonitor(limits);
    const realStart = Date.now();
    const simNow = (): number => realStart + (Date.now() - realStart) * options.speed;
    const queue = new DueQueue();
    const slots: Slot[] = [];
    for (const devicePlan of plan.devices) {
      const token = tokens.get(devicePlan.id);
      if (!token) continue;
      const random = deviceRandom(options.seed, devicePlan.index);
      const device = new VirtualDevice(devicePlan, behaviour, random, realStart);
      // First check-ins spread over one (sped-up) interval, at most 30 s.
      const spread = Math.min(30_000, (devicePlan.intervalSeconds * 1000) / options.speed);
      const slot: Slot = { device, plan: devicePlan, token, target: convergenceTarget(snapshot, devicePlan, planner), due: realStart + random() * spread, dead: false };
      slots.push(slot);
      queue.push(slot);
    }
    const atTarget = new Set<string>();
    const updateTarget = (slot: Slot): void => {
      const at = sameFirmware(slot.device.firmware, slot.target) && slot.device.unreportedStep === null && monitor.holding(slot.plan.id) === null;
      if (at) atTarget.add(slot.plan.id);
      else atTarget.delete(slot.plan.id);
    };
    for (const slot of slots) updateTarget(slot);

    let checkIns = 0;
    let stepsIssued = 0;
    let stepsSucceeded = 0;
    let stepsFailed = 0;
    const errors: Record<string, number> = {};
    const latencies: number[] = [];
    let latencySamples = 0;
    const reservoirRandom = seededRandom(options.seed ^ 0x5eed);
    let convergedAt: number | null = null;
    let lastEngineStatus: Record<string, number> | null = null;
    let pausedRollouts: { name: string; reason: string }[] = [];
    const readPausedRollouts = async (): Promise<void> => {
      const res = await client.request<{ rollouts?: { name: string; paused?: boolean; pausedReason?: string | null }[] }>('GET', '/v1/rollouts', options.adminToken);
      if (res.status === 200 && res.body?.rollouts) {
        pausedRollouts = res.body.rollouts.filter((r) => r.paused === true).map((r) => ({ name: r.name, reason: r.pausedReason ?? 'paused' }));
      }
    };

    const progress = (): SimulationProgress => {
      const now = Date.now();
      const byLocalStatus: Record<LocalStatus, number> = { 'at-target': 0, installing: 0, behind: 0, silent: 0 };
      const firmware = new Map<string, number>();
      const sim = simNow();
      for (const slot of slots) {
        const status: LocalStatus = slot.device.isSilent(sim)
          ? 'silent'
          : monitor.holding(slot.plan.id) !== null
            ? 'installing'
            : atTarget.has(slot.plan.id)
              ? 'at-target'
              : 'behind';
        byLocalStatus[status] += 1;
        const label = firmwareLabel(slot.plan.hardware, slot.device.firmware);
        firmware.set(label, (firmware.get(label) ?? 0) + 1);
      }
      return {
        elapsedMs: now - realStart,
        simulatedMs: (now - realStart) * options.speed,
        devices: slots.length,
        atTarget: atTarget.size,
        byLocalStatus,
        byFirmware: [...firmware].map(([f, n]) => ({ firmware: f, devices: n })).sort((a, b) => b.devices - a.devices || (a.firmware < b.firmware ? -1 : 1)),
        byEngineStatus: lastEngineStatus,
        checkIns,
        errors: { ...errors },
        stepsIssued,
        stepsSucceeded,
        stepsFailed,
        downloadsInFlight: monitor.total,
        convergedAfterMs: convergedAt === null ? null : convergedAt - realStart,
        pausedRollouts,
      };
    };

    const checkConverged = (): void => {
      if (convergedAt === null && slots.length > 0 && atTarget.size === slots.length) {
        convergedAt = Date.now();
        options.onConverged?.(progress());
      }
    };
    checkConverged();

    const checkInOnce = async (slot: Slot): Promise<void> => {
      const { device, plan: devicePlan } = slot;
      const sim = simNow();
      const request = device.checkInRequest(sim, new Date().toISOString());
      const tower = requestTower(request);
      // The report of a step leaves the device now: from here the engine may release its slot.
      const reportedStep = request.reported.firmwareStep?.id ?? null;
      const held = reportedStep !== null && monitor.holding(devicePlan.id) === reportedStep ? monitor.release(devicePlan.id) : null;
      const started = Date.now();
      let res;
      try {
        res = await client.request<CheckInAnswer>('POST', `/v1/devices/${encodeURIComponent(devicePlan.id)}/check-in`, slot.token, request);
      } catch {
        // No answer: whether the engine processed it is unknown, so the held slot is not counted again.
        device.requestLost();
        errors.network = (errors.network ?? 0) + 1;
        slot.due = Date.now() + 2000;
        return;
      }
      const latencyMs = Date.now() - started;
      // A reservoir: percentiles of a long run without keeping every sample.
      latencySamples += 1;
      if (latencies.length < LATENCY_RESERVOIR) latencies.push(latencyMs);
      else {
        const at = Math.floor(reservoirRandom() * latencySamples);
        if (at < LATENCY_RESERVOIR) latencies[at] = latencyMs;
      }
      options.onCheckIn?.({ status: res.status, latencyMs });
      if (res.status !== 200 || !res.body) {
        // Refused before anything was written (429, 503, 4xx): the engine still holds the step.
        device.requestLost();
        if (held) monitor.restore(devicePlan.id, held);
        errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
        if (res.status === 401) {
          slot.dead = true;
          return;
        }
        slot.due = Date.now() + Math.max(0.1, res.retryAfterSeconds ?? 5) * 1000;
        return;
      }
      checkIns += 1;
      const report = request.reported.firmwareStep;
      if (report) {
        if (report.status === 'succeeded') stepsSucceeded += 1;
        else stepsFailed += 1;
      }
      const others = tower ? monitor.onTower(tower) : 0;
      const outcome = device.receiveAnswer(res.body, simNow(), others);
      if (outcome.newStep) {
        stepsIssued += 1;
        if (devicePlan.rollout && tower) monitor.issued(devicePlan.id, outcome.newStep.stepId, devicePlan.rollout, tower);
      }
      if (outcome.change) auditor.record(devicePlan.id, devicePlan.hardware, outcome.change);
      updateTarget(slot);
      checkConverged();
      slot.due = Date.now() + outcome.nextCheckInMs / options.speed;
    };

    // ── the loop: at most `concurrency` check-ins in flight ──
    const deadline = options.durationMs === null ? Infinity : realStart + options.durationMs;
    let active = 0;
    let wake: (() => void) | null = null;
    const finished = (): boolean =>
      options.signal?.aborted === true || Date.now() >= deadline || (options.stopWhenConverged === true && convergedAt !== null);
    const progressTimer = setInterval(() => {
      if (options.engineStatus !== false) {
        client
          .text('/metrics')
          .then((m) => {
            if (m.status === 200) lastEngineStatus = parseDeviceStatusMetrics(m.text);
          })
          .catch(() => undefined);
      }
      readPausedRollouts().catch(() => undefined);
      options.onProgress?.(progress());
    }, options.progressIntervalMs ?? 2000);
    try {
      while (!finished()) {
        const now = Date.now();
        let next = queue.peek();
        while (next && next.due <= now && active < concurrency) {
          const slot = queue.pop() as Slot;
          active += 1;
          void checkInOnce(slot)
            .catch(() => {
              errors.internal = (errors.internal ?? 0) + 1;
              slot.due = Date.now() + 5000;
            })
            .finally(() => {
              active -= 1;
              if (!slot.dead) queue.push(slot);
              wake?.();
            });
          next = queue.peek();
        }
        const waitMs = active >= concurrency || !next ? 50 : Math.max(0, Math.min(50, next.due - Date.now()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      while (active > 0) await sleep(10);
    } finally {
      clearInterval(progressTimer);
    }

    await readPausedRollouts().catch(() => undefined);
    const final = progress();
    latencies.sort((a, b) => a - b);
    return {
      ...final,
      converged: convergedAt !== null,
      convergedAfterSimulatedMs: final.convergedAfterMs === null ? null : final.convergedAfterMs * options.speed,
      registrationMs,
      violations: auditor.violations,
      breaches: monitor.breaches,
      throttlePeaks: [...monitor.peak].map(([key, peak]) => {
        const [rollout = '', tower = ''] = key.split('|');
        return { rollout, tower, peak, limit: limits.get(rollout) ?? null };
      }),
      outcomes: slots.map((slot) => ({
        id: slot.plan.id,
        profile: slot.plan.profile,
        site: slot.plan.site,
        hardware: slot.plan.hardware,
        rollout: slot.plan.rollout,
        initial: slot.plan.firmware,
        target: slot.target,
        firmware: { ...slot.device.firmware },
        atTarget: atTarget.has(slot.plan.id),
        steps: auditor.steps.get(slot.plan.id) ?? [],
      })),
      latency: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0 },
    };
  } finally {
    client.close();
  }
}
