// One virtual device: a pure state machine. Given the time (simulated epoch ms) and its own random
// stream it builds check-in requests and reacts to answers — applies config, runs commands, installs
// firmware steps (which may fail, more often when its tower is busy), drains its battery, moves, loses
// its GPS fix, goes silent. No clock, no network: the driver (driver.ts) does the HTTP and the timing.
import {
  cellKey,
  type BleSighting,
  type CheckInAnswer,
  type CheckInRequest,
  type Command,
  type CommandResult,
  type FirmwareStepOrder,
  type FirmwareStepReport,
  type FirmwareVersions,
  type GeoPoint,
  type JsonObject,
  type JsonValue,
  type ServingCell,
} from '../model/index.ts';
import type { DevicePlan, SimulatedTower } from './fleet.ts';

export interface DeviceBehaviour {
  /** Probability that a firmware step fails with an idle tower. */
  failureRate: number;
  /** Each other download in flight on the same tower adds this fraction of `failureRate` (congestion). */
  congestionFactor: number;
  /** Probability per check-in of going silent for a while. */
  silenceProbability: number;
  /** Probability that a GPS fix is missing when the GPS is on. */
  gpsMissingProbability: number;
  /** Probability that a BLE scan hears no beacon. */
  bleMissingProbability: number;
  /** Probability per check-in that the device moved. */
  movementProbability: number;
}

export const DEFAULT_BEHAVIOUR: DeviceBehaviour = {
  failureRate: 0.02,
  congestionFactor: 0.05,
  silenceProbability: 0.01,
  gpsMissingProbability: 0.25,
  bleMissingProbability: 0.3,
  movementProbability: 0.1,
};

/** A firmware change the device made: for the audit of steps. */
export interface FirmwareChange {
  stepId: string;
  component: string;
  from: FirmwareVersions;
  to: FirmwareVersions;
}

/** What the driver needs to know about one answer. */
export interface AnswerOutcome {
  /** A step the device had not seen before (the engine may resend the one in flight: not new). */
  newStep: FirmwareStepOrder | null;
  /** Set when a new step installed successfully. */
  change: FirmwareChange | null;
  /** Simulated milliseconds until the next check-in (silence included). */
  nextCheckInMs: number;
  /** The device went silent after this answer. */
  silent: boolean;
}

/** Where a step the device received stands: installed (or failed) and waiting to be reported. */
interface StepRecord {
  order: FirmwareStepOrder;
  status: 'succeeded' | 'failed';
  error?: string;
  reported: boolean;
}

const COMMAND_MEMORY = 64;

/** RSSI of a beacon at a distance (log-distance path loss, exponent 2). */
function beaconRssi(txPower: number, metres: number): number {
  return Math.round(txPower - 20 * Math.log10(Math.max(1, metres)));
}

export function distanceMetres(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(h)));
}

function jsonObject(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

export class VirtualDevice {
  readonly plan: DevicePlan;
  firmware: FirmwareVersions;
  configHash: string | null = null;
  config: JsonObject | null = null;
  battery: number;
  position: GeoPoint;
  towerIndex = 0;
  movementLock = false;
  /** Simulated epoch ms of the last boot. */
  bootedAt: number;
  /** Simulated epoch ms until which the device says nothing (null: not silent). */
  silentUntil: number | null = null;
  moved = false;
  /** The step received last, until its outcome has been acknowledged by an answer. */
  private step: StepRecord | null = null;
  private readonly seenSteps = new Set<string>();
  /** Results not yet acknowledged, then remembered so a redelivered command is not run twice. */
  private readonly pendingResults = new Map<string, CommandResult>();
  private readonly doneResults = new Map<string, CommandResult>();
  /** What the last request carried, so an answer acknowledges exactly that. */
  private inFlightReport: { stepId: string | null; commandIds: string[] } | null = null;
  private lastTelemetryAt: number;

  constructor(
    plan: DevicePlan,
    private readonly behaviour: DeviceBehaviour,
    private readonly random: () => number,
    now: number,
  ) {
    this.plan = plan;
    this.firmware = { ...plan.firmware };
    this.battery = 40 + Math.round(random() * 60);
    this.position = { ...plan.home };
    this.bootedAt = now - Math.round(random() * 86_400_000);
    this.lastTelemetryAt = now;
  }

  get id(): string {
    return this.plan.id;
  }

  get tower(): SimulatedTower | undefined {
    return this.plan.towers[this.towerIndex % Math.max(1, this.plan.towers.length)];
  }

  /** The step installed or failed and not yet acknowledged, if any. */
  get unreportedStep(): { stepId: string; status: 'succeeded' | 'failed' } | null {
    return this.step ? { stepId: this.step.order.stepId, status: this.step.status } : null;
  }

  isSilent(now: number): boolean {
    return this.silentUntil !== null && now < this.silentUntil;
  }

  /** The check-in the device sends at `now` (simulated ms); `wallClock` is the device clock's ISO time. */
  checkInRequest(now: number, wallClock: string): CheckInRequest {
    if (this.silentUntil !== null && now >= this.silentUntil) this.silentUntil = null;
    this.advance(now);
    const firmwareStep: FirmwareStepReport | undefined = this.step
      ? { id: this.step.order.stepId, status: this.step.status, ...(this.step.error ? { error: this.step.error } : {}) }
      : undefined;
    const commandResults = [...this.pendingResults.values()].slice(0, 32);
    this.inFlightReport = { stepId: firmwareStep?.id ?? null, commandIds: commandResults.map((r) => r.id) };
    const telemetry: CheckInRequest['telemetry'] = {
      time: wallClock,
      battery: Math.round(this.battery * 10) / 10,
      uptimeMs: Math.max(0, Math.round(now - this.bootedAt)),
      movement: this.moved,
      temperatureC: Math.round((12 + this.random() * 18) * 10) / 10,
      ...this.locationTelemetry(),
    };
    return {
      reported: {
        firmware: { ...this.firmware },
        configHash: this.configHash,
        ...(firmwareStep ? { firmwareStep } : {}),
        ...(commandResults.length > 0 ? { commandResults } : {}),
        state: { movementLock: this.movementLock },
      },
      telemetry,
    };
  }

  /** The cell the device is on (what its next request reports). */
  servingCell(): ServingCell | null {
    return this.tower ? { ...this.tower.cell } : null;
  }

  /**
   * The engine processed the request and answered. `towerDownloads`: downloads in flight on the device's
   * tower right now, other than its own (the driver's count) — congestion makes a step fail more often.
   */
  receiveAnswer(answer: CheckInAnswer, now: number, towerDownloads: number): AnswerOutcome {
    this.acknowledge();
    if (answer.config !== undefined) {
      this.config = answer.config;
      this.configHash = answer.configHash;
      const lock = this.config.movementLock;
      if (typeof lock === 'boolean') this.movementLock = lock;
    }
    for (const command of answer.commands) this.execute(command, now);

    let newStep: FirmwareStepOrder | null = null;
    let change: FirmwareChange | null = null;
    const order = answer.firmware;
    if (order && !this.seenSteps.has(order.stepId)) {
      this.seenSteps.add(order.stepId);
      newStep = order;
      const congestion = 1 + this.behaviour.congestionFactor * Math.max(0, towerDownloads);
      const failed = this.random() < Math.min(0.95, this.behaviour.failureRate * congestion);
      if (failed) {
        const error = towerDownloads > 0 ? `download of ${order.component} ${order.version} interrupted (${towerDownloads + 1} downloads on the tower)` : `install of ${order.component} ${order.version} failed verification`;
        this.step = { order, status: 'failed', error, reported: false };
      } else {
        const before = { ...this.firmware };
        this.firmware = { ...this.firmware, [order.component]: order.version };
        this.step = { order, status: 'succeeded', reported: false };
        change = { stepId: order.stepId, component: order.component, from: before, to: { ...this.firmware } };
        // Installing reboots the device.
        this.bootedAt = now;
      }
    }

    let nextCheckInMs = Math.max(1, answer.nextCheckInSeconds) * 1000;
    let silent = false;
    if (this.random() < this.behaviour.silenceProbability) {
      // Out of coverage, or powered down: 1 to 5 check-ins' worth of nothing.
      silent = true;
      nextCheckInMs += Math.round((1 + this.random() * 4) * this.plan.intervalSeconds * 1000);
      this.silentUntil = now + nextCheckInMs;
      if (this.random() < 0.5) this.bootedAt = now + nextCheckInMs;
    }
    return { newStep, change, nextCheckInMs, silent };
  }

  /** The engine did not process the request (429, 503, network): everything it carried is reported again. */
  requestLost(): void {
    this.inFlightReport = null;
  }

  private acknowledge(): void {
    const report = this.inFlightReport;
    this.inFlightReport = null;
    if (!report) return;
    if (this.step && report.stepId === this.step.order.stepId) this.step = null;
    for (const id of report.commandIds) {
      const result = this.pendingResults.get(id);
      this.pendingResults.delete(id);
      if (result) this.remember(id, result);
    }
  }

  private remember(id: string, result: CommandResult): void {
    this.doneResults.set(id, result);
    if (this.doneResults.size > COMMAND_MEMORY) {
      const oldest = this.doneResults.keys().next().value;
      if (oldest !== undefined) this.doneResults.delete(oldest);
    }
  }

  /** Runs a command once; a redelivered one (its result not seen by the engine yet) is answered again. */
  private execute(command: Command, now: number): void {
    if (this.pendingResults.has(command.id)) return;
    const done = this.doneResults.get(command.id);
    if (done) {
      this.pendingResults.set(command.id, done);
      return;
    }
    let result: CommandResult;
    switch (command.type) {
      case 'lock-movement': {
        const locked = command.params.locked;
        if (typeof locked !== 'boolean') {
          result = { id: command.id, status: 'failed', output: { error: 'params.locked must be a boolean' } };
          break;
        }
        this.movementLock = locked;
        result = { id: command.id, status: 'succeeded', output: { movementLock: locked } };
        break;
      }
      case 'reboot':
      case 'schedule-reboot':
        this.bootedAt = now;
        result = { id: command.id, status: 'succeeded', output: { rebootedAt: new Date(now).toISOString() } };
        break;
      case 'locate':
        result = { id: command.id, status: 'succeeded', output: { lat: this.position.lat, lon: this.position.lon } };
        break;
      case 'enable-theft-recovery':
        this.movementLock = true;
        result = { id: command.id, status: 'succeeded', output: { theftRecovery: true } };
        break;
      case 'ping':
        result = { id: command.id, status: 'succeeded', output: { battery: Math.round(this.battery) } };
        break;
      default:
        result = { id: command.id, status: 'rejected', output: { error: `unknown command ${command.type}` } };
    }
    this.pendingResults.set(command.id, result);
  }

  /** Time passes: the battery drains (faster with the GPS always on), the device may move (and charge while driven). */
  private advance(now: number): void {
    const hours = Math.max(0, now - this.lastTelemetryAt) / 3_600_000;
    this.lastTelemetryAt = now;
    const gpsMode = this.gpsMode();
    const drainPerHour = gpsMode === 'always' ? 1.2 : gpsMode === 'off' ? 0.2 : 0.5;
    this.battery -= drainPerHour * hours;
    this.moved = this.random() < this.behaviour.movementProbability;
    if (this.moved) {
      // Driven around the lot or off it and back; the engine charges the battery.
      const away = this.random() < 0.5;
      const north = (this.random() - 0.5) * (away ? 2000 : 200);
      const east = (this.random() - 0.5) * (away ? 2000 : 200);
      this.position = {
        lat: this.plan.home.lat + north / 111_320,
        lon: this.plan.home.lon + east / (111_320 * Math.max(0.1, Math.cos((this.plan.home.lat * Math.PI) / 180))),
      };
      this.battery += 2 + this.random() * 6;
      if (away && this.plan.towers.length > 1 && this.random() < 0.3) this.towerIndex = (this.towerIndex + 1) % this.plan.towers.length;
    }
    if (this.battery <= 1) {
      // Flat, then found and charged: a reboot at full charge.
      this.battery = 100;
      this.bootedAt = now;
    }
    this.battery = Math.max(0, Math.min(100, this.battery));
  }

  private gpsMode(): string {
    const gps = jsonObject(this.config?.gps);
    return typeof gps?.mode === 'string' ? gps.mode : 'on-movement';
  }

  /** GPS when it has a fix; else BLE sightings of the site's beacons; else only the serving cell. */
  private locationTelemetry(): Pick<CheckInRequest['telemetry'], 'gps' | 'ble' | 'cell'> {
    const cell = this.servingCell();
    const out: Pick<CheckInRequest['telemetry'], 'gps' | 'ble' | 'cell'> = cell ? { cell: { ...cell, rssi: -60 - Math.round(this.random() * 50) } } : {};
    const gpsMode = this.gpsMode();
    if (gpsMode !== 'off' && this.random() >= this.behaviour.gpsMissingProbability) {
      out.gps = {
        lat: Math.round(this.position.lat * 1e6) / 1e6,
        lon: Math.round(this.position.lon * 1e6) / 1e6,
        accuracyM: Math.round(3 + this.random() * 20),
      };
      return out;
    }
    if (this.plan.beacons.length > 0 && this.random() >= this.behaviour.bleMissingProbability) {
      const heard: BleSighting[] = this.plan.beacons
        .map((b) => ({ id: b.id, distance: distanceMetres(this.position, b) }))
        .filter((b) => b.distance < 80)
        .sort((a, b) => a.distance - b.distance)
        .slice(0, 3)
        .map((b) => {
          const beacon = this.plan.beacons.find((x) => x.id === b.id);
          return { id: b.id, rssi: Math.max(-120, beaconRssi(beacon?.txPower ?? -59, b.distance) - Math.round(this.random() * 6)) };
        });
      if (heard.length > 0) out.ble = heard;
    }
    return out;
  }
}

/** The key of the tower a request reports, or null. */
export function requestTower(request: CheckInRequest): string | null {
  return request.telemetry.cell ? cellKey(request.telemetry.cell) : null;
}
