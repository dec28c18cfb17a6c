// One device check-in: authenticate, rate-limit, decide with the pure core against the revision
// the check-in started with, take a throttle slot atomically if a step is due, store, answer.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  cellKey,
  type CheckInAnswer,
  type CheckInRequest,
  type DeviceIdentity,
  type JsonObject,
  type CellTower,
  type DeviceStatus,
  type ResolvedLocation,
  type ServingCell,
  type Rollout,
} from '../model/index.ts';
import { SecretUnavailableError, UnknownDeviceReferenceError } from '../config/index.ts';
import { rolloutCampaign } from '../firmware/index.ts';
import { beaconPositionIndex, cellTowerIndex, resolveLocation, type LocationSources } from '../location/index.ts';
import type { CheckInRecord, FirmwareEventRecord, FleetStore, RolloutRuntimeState } from '../store/index.ts';
import type { CheckInInput, FirmwareEvent, RolloutRuntime } from '../reconcile/types.ts';
import { answerCheckIn, assessCheckIn, effectiveConfig } from './core.ts';
import { DeviceOutOfConfigError, NoRevisionError, SecretsUnavailableError, TooManyCheckInsError, UnauthorizedError } from './errors.ts';
import type { ActiveRevision } from './revisions.ts';
import { hashesEqual, hashToken } from './tokens.ts';

/** Seam for per-check-in observers (alert rules, analytics): called after the check-in is stored. */
export interface CheckInObserver {
  (event: {
    device: DeviceIdentity;
    request: CheckInRequest;
    answer: CheckInAnswer;
    location: ResolvedLocation;
    revision: ActiveRevision;
    at: Date;
    /** The status this check-in stored. */
    status?: DeviceStatus;
    /** When the device checked in before this one (null at its first check-in). */
    previousCheckInAt?: Date | null;
  }): void;
}

export interface CheckInServiceOptions {
  store: FleetStore;
  revision(): ActiveRevision | null;
  now(): Date;
  random(): number;
  log: Logger;
  /** Check-ins closer together than this are refused with 429 (default 10 s; 0 disables). */
  minCheckInIntervalMs: number;
  observers?: CheckInObserver[];
  /** Imported tower table (POST /v1/cell-towers), consulted after the sites' declared towers. */
  cellTower?(cell: ServingCell): CellTower | undefined;
}

const NO_RUNTIME: RolloutRuntime = { autoPausedReason: null, waves: [] };
const EMPTY_TOKEN_HASH = hashToken('');
const DEFAULT_OFFLINE_AFTER_MISSED = 3;
const CONFIG_MEMO_LIMIT = 50_000;

function eventRecord(event: FirmwareEvent): FirmwareEventRecord {
  switch (event.type) {
    case 'step-succeeded':
    case 'step-failed':
    case 'step-timed-out':
      return {
        type: event.type,
        rollout: event.step.rollout,
        wave: event.wave,
        stepId: event.step.id,
        component: event.step.component,
        fromVersion: event.step.from,
        toVersion: event.step.to,
        cell: event.step.cell,
        error: event.type === 'step-failed' ? event.error : event.type === 'step-timed-out' ? 'step timed out' : null,
      };
    case 'quarantined':
      return { type: event.type, rollout: event.rollout, wave: null, stepId: null, component: null, fromVersion: null, toVersion: null, cell: null, error: event.reason };
    case 'rollout-paused':
      return { type: event.type, rollout: event.rollout, wave: event.wave, stepId: null, component: null, fromVersion: null, toVersion: null, cell: null, error: event.reason };
  }
}

/** The rollout of that name in the revision the check-in uses (a handful per fleet: a scan is enough). */
function declaredRollout(active: ActiveRevision, name: string): Rollout | undefined {
  return active.snapshot.rollouts.find((r) => r.metadata.name === name);
}

export class CheckInService {
  /** Rollout runtime (auto-pause, wave progress) as of the last refresh plus this process's own updates. */
  private runtimes = new Map<string, RolloutRuntimeState>();

  constructor(private readonly options: CheckInServiceOptions) {}

  async refreshRolloutRuntimes(): Promise<void> {
    this.runtimes = await this.options.store.rollouts.loadRuntimes();
  }

  /** The bookkeeping of the rollout as declared now: a changed rollout is a new campaign with none. */
  rolloutRuntime(rollout: Rollout): RolloutRuntime {
    return this.runtimes.get(rolloutCampaign(rollout)) ?? NO_RUNTIME;
  }

  async checkIn(deviceId: string, token: string | null, request: CheckInRequest): Promise<CheckInAnswer> {
    const { store } = this.options;
    // The revision this check-in uses from start to end, whatever is applied meanwhile.
    const active = this.options.revision();
    const context = await store.checkIns.loadContext(deviceId);
    const presented = hashToken(token ?? '');
    if (!context || context.tokenRevoked || !token || !hashesEqual(presented, context?.tokenHash ?? EMPTY_TOKEN_HASH)) {
      throw new UnauthorizedError();
    }
    const now = this.options.now();
    const minInterval = this.options.minCheckInIntervalMs;
    if (minInterval > 0 && context.lastCheckInAt) {
      const elapsed = now.getTime() - context.lastCheckInAt.getTime();
      if (elapsed < minInterval) throw new TooManyCheckInsError(Math.max(1, Math.ceil((minInterval - elapsed) / 1000)));
    }
    if (!active) throw new NoRevisionError();

    const device: DeviceIdentity = {
      id: context.id,
      profile: context.profile,
      site: context.site,
      labels: context.labels,
      ...(context.configOverride ? { configOverride: context.configOverride } : {}),
    };
    const config = this.configFor(active, device);
    const input: CheckInInput = {
      snapshot: active.snapshot,
      device,
      request,
      firmwareState: context.firmwareState,
      config,
      pendingCommands: context.pendingCommands,
      rolloutRuntime: (name) => {
        const rollout = declaredRollout(active, name);
        return rollout ? this.rolloutRuntime(rollout) : NO_RUNTIME;
      },
      now: now.getTime(),
      random: this.options.random,
    };
    const assessment = assessCheckIn(input);
    let grant: { stepId: string } | null = null;
    const candidate = assessment.candidate;
    if (candidate) {
      const taken = await store.slots.take({
        rollout: candidate.rollout,
        cell: candidate.cell,
        maxInFlight: candidate.maxInFlight,
        maxInFlightPerCell: candidate.maxInFlightPerCell,
      });
      if (taken) grant = { stepId: randomUUID() };
    }
    const decision = answerCheckIn(input, assessment, grant);

    const events = assessment.events.map(eventRecord);
    const issued = grant ? decision.firmwareState.step : null;
    if (issued && candidate) {
      events.push({
        type: 'step-issued',
        rollout: issued.rollout,
        wave: candidate.wave,
        stepId: issued.id,
        component: issued.component,
        fromVersion: issued.from,
        toVersion: issued.to,
        cell: issued.cell,
        error: null,
      });
    }
    const waveResults: CheckInRecord['waveResults'] = [];
    let autoPause: CheckInRecord['autoPause'] = null;
    // Counted under the rollout's campaign; a rollout gone from git has no wave and no pause here.
    const campaignOf = (name: string): string | null => {
      const rollout = declaredRollout(active, name);
      return rollout ? rolloutCampaign(rollout) : null;
    };
    for (const event of assessment.events) {
      if (event.type === 'rollout-paused') {
        const campaign = campaignOf(event.rollout);
        if (campaign) autoPause = { campaign, reason: event.reason };
      } else if (event.type !== 'quarantined' && event.wave !== null) {
        const campaign = campaignOf(event.step.rollout);
        if (campaign) waveResults.push({ campaign, wave: event.wave, succeeded: event.type === 'step-succeeded' ? 1 : 0, failed: event.type === 'step-succeeded' ? 0 : 1 });
      }
    }
    const location = resolveLocation(request.telemetry, this.locationSources(active, device.site));
    const profile = active.snapshot.profiles.get(device.profile);
    const interval = decision.answer.nextCheckInSeconds;
    const missed = profile?.spec.checkIn.offlineAfterMissed ?? DEFAULT_OFFLINE_AFTER_MISSED;
    const baseInterval = Math.max(interval, profile?.spec.checkIn.intervalSeconds ?? interval);
    const cell = request.telemetry.cell ? cellKey(request.telemetry.cell) : null;
    const record: CheckInRecord = {
      deviceId: device.id,
      receivedAt: now,
      revision: active.sha,
      reported: request.reported as unknown as JsonObject,
      telemetry: request.telemetry as unknown as JsonObject,
      battery: request.telemetry.battery ?? null,
      cell,
      status: decision.status,
      reportedFirmware: { ...request.reported.firmware },
      reportedConfigHash: request.reported.configHash,
      reportedState: request.reported.state ?? null,
      desiredConfigHash: decision.answer.configHash,
      firmwareState: decision.firmwareState,
      location: location.source === 'unknown' ? null : (location as unknown as JsonObject),
      uptimeMs: request.telemetry.uptimeMs ?? null,
      nextExpectedAt: new Date(now.getTime() + interval * 1000),
      offlineAfterAt: new Date(now.getTime() + interval * 1000 + (missed - 1) * baseInterval * 1000),
      events,
      deliveredCommandIds: decision.answer.commands.map((c) => c.id),
      commandResults: (request.reported.commandResults ?? []).map((r) => ({ id: r.id, status: r.status, output: r.output ?? null })),
      releasedSlot: assessment.releasedStep
        ? { rollout: assessment.releasedStep.rollout, cell: assessment.releasedStep.cell, stepId: assessment.releasedStep.id }
        : null,
      waveResults,
      autoPause,
    };
    try {
      await store.checkIns.record(record);
    } catch (error) {
      // Not acknowledged: give the slot back so the step can go to a device that hears the answer.
      if (grant && candidate) {
        store.slots.release([{ rollout: candidate.rollout, cell: candidate.cell }]).catch(() => undefined);
      }
      throw error;
    }
    this.applyLocally(waveResults, autoPause);
    for (const observer of this.options.observers ?? []) {
      try {
        observer({ device, request, answer: decision.answer, location, revision: active, at: now, status: decision.status, previousCheckInAt: context.lastCheckInAt });
      } catch (error) {
        this.options.log.warn({ err: error, device: device.id }, 'check-in observer failed');
      }
    }
    return decision.answer;
  }

  /** Effective config memoised per revision by what it depends on: profile, site, labels, override, named membership. */
  private configFor(active: ActiveRevision, device: DeviceIdentity): { config: JsonObject; hash: string } {
    let named = active.memo.get('named-members') as Set<string> | undefined;
    if (!named) {
      named = new Set(active.snapshot.groups.flatMap((group) => group.spec.devices ?? []));
      active.memo.set('named-members', named);
    }
    let configs = active.memo.get('configs') as Map<string, { config: JsonObject; hash: string }> | undefined;
    if (!configs || configs.size > CONFIG_MEMO_LIMIT) {
      configs = new Map();
      active.memo.set('configs', configs);
    }
    const labels = Object.keys(device.labels).sort().map((k) => `${k}=${device.labels[k]}`).join(',');
    const key = `${device.profile}\u0000${device.site}\u0000${labels}\u0000${device.configOverride ? JSON.stringify(device.configOverride) : ''}\u0000${named.has(device.id) ? device.id : ''}`;
    let config = configs.get(key);
    if (!config) {
      try {
        config = effectiveConfig(active.snapshot, device, active.secrets);
      } catch (error) {
        if (error instanceof UnknownDeviceReferenceError) throw new DeviceOutOfConfigError(error.message);
        if (error instanceof SecretUnavailableError) throw new SecretsUnavailableError();
        throw error;
      }
      configs.set(key, config);
    }
    return config;
  }

  private locationSources(active: ActiveRevision, siteName: string): LocationSources {
    const key = `location:${siteName}`;
    let sources = active.memo.get(key) as LocationSources | undefined;
    if (!sources) {
      const site = active.snapshot.sites.get(siteName);
      sources = {
        beacons: beaconPositionIndex(site?.spec.beacons ?? []),
        cellTower: withImportedTowers(
          cellTowerIndex([...active.snapshot.sites.values()].flatMap((s) => s.spec.cellTowers ?? [])),
          this.options.cellTower,
        ),
      };
      active.memo.set(key, sources);
    }
    return sources;
  }

  private applyLocally(waveResults: CheckInRecord['waveResults'], autoPause: CheckInRecord['autoPause']): void {
    const entry = (campaign: string): RolloutRuntimeState => {
      let state = this.runtimes.get(campaign);
      if (!state) {
        state = { autoPausedReason: null, waves: [] };
        this.runtimes.set(campaign, state);
      }
      return state;
    };
    for (const result of waveResults) {
      const state = entry(result.campaign);
      const index = state.waves.findIndex((w) => w.wave === result.wave);
      const current = state.waves[index] ?? { wave: result.wave, succeeded: 0, failed: 0 };
      const next = { wave: result.wave, succeeded: current.succeeded + result.succeeded, failed: current.failed + result.failed };
      state.waves = index >= 0 ? state.waves.map((w, i) => (i === index ? next : w)) : [...state.waves, next];
    }
    if (autoPause) {
      const state = entry(autoPause.campaign);
      state.autoPausedReason ??= autoPause.reason;
    }
  }
}

/** Towers declared by the sites win; the imported table fills in the rest. */
function withImportedTowers(
  declared: (cell: ServingCell) => CellTower | undefined,
  imported: ((cell: ServingCell) => CellTower | undefined) | undefined,
): (cell: ServingCell) => CellTower | undefined {
  return imported ? (cell) => declared(cell) ?? imported(cell) : declared;
}
