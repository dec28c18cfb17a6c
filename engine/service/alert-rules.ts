// Device alert rules at check-in: the observer evaluates each check-in against the applied revision's
// rule set and queues work only when an alert may change state; a single writer turns queued work into
// lifecycle transitions, in arrival order, written in batches.
//
// The hot path stays cheap: the rule set is built once per revision (in the revision's memo),
// active device alerts are cached in memory, and the database is written only when an alert
// changes state (open, hold-down start/cancel, resolve) — a check-in that changes nothing
// costs a few microseconds and no round trip.
import type { Logger } from 'pino';
import type { DeviceIdentity, DeviceStatus, JsonObject, RuleCondition } from '../model/index.ts';
import {
  buildRuleSet,
  deriveDeviceFacts,
  evaluateDeviceRules,
  MIN_BATTERY_RATE_WINDOW_MS,
  nextAlertState,
  type DeviceFacts,
  type PreviousCheckIn,
  type RuleEvaluation,
  type RuleSet,
} from '../rules/index.ts';
import { cacheKey, cached, ruleDescription, type AlertLifecycle, type CachedAlert, type Change } from './alert-lifecycle.ts';
import type { CheckInObserver } from './checkin.ts';
import type { ActiveRevision } from './revisions.ts';

/** What a check-in observer hands over, plus what the alert rules also need. */
export type CheckInEvent = Parameters<CheckInObserver>[0];

/** One check-in's (or one silent device's) evaluations, waiting for the next batch. */
export interface DeviceWork {
  active: ActiveRevision;
  device: Pick<DeviceIdentity, 'id' | 'site' | 'profile'>;
  facts: DeviceFacts;
  evaluations: readonly RuleEvaluation[];
  now: number;
  /** The sweep's view of a silent device: it may open alerts, never clear them. */
  opensOnly: boolean;
}

const RULESET_MEMO = 'alert-rule-set';
const RULE_FACTS_MEMO = 'alert-rule-facts';
const MAX_PREVIOUS = 1_000_000;
/** Device evaluations written per transaction. */
const WRITE_BATCH = 500;

/** The device rules of a revision, built once and kept in the revision's memo. */
export function alertRuleSet(active: ActiveRevision): RuleSet {
  let ruleSet = active.memo.get(RULESET_MEMO) as RuleSet | undefined;
  if (!ruleSet) {
    ruleSet = buildRuleSet(active.snapshot.alertRules);
    active.memo.set(RULESET_MEMO, ruleSet);
  }
  return ruleSet;
}

/**
 * What to remember after a check-in at `now`: the battery reading a drop rate is measured from is kept until
 * the rate window has passed (so whole-percent steps are not read as steep drops), then replaced by this one.
 */
function batteryBaseline(previous: PreviousCheckIn | null, now: number, battery: number | undefined): PreviousCheckIn {
  const fresh = battery !== undefined && (previous?.batteryAt === undefined || now - previous.batteryAt >= MIN_BATTERY_RATE_WINDOW_MS);
  if (previous?.battery !== undefined && !fresh) {
    return { at: now, battery: previous.battery, batteryAt: previous.batteryAt };
  }
  return battery !== undefined ? { at: now, battery, batteryAt: now } : { at: now };
}

/** Scalar facts worth keeping with a device alert: what the device said when it opened. */
function factSummary(facts: DeviceFacts): JsonObject {
  const out: JsonObject = { status: facts.status, locationSource: facts.locationSource, firmware: { ...facts.firmware } };
  for (const name of ['battery', 'uptimeMs', 'uptimeDays', 'batteryDropPerDay', 'temperatureC', 'cell', 'movement', 'movementLock', 'locationAccuracyM'] as const) {
    const value = facts[name];
    if (value !== undefined) out[name] = value;
  }
  const location = facts.location;
  if (location.lat !== undefined && location.lon !== undefined) {
    out.location = { source: location.source, lat: location.lat, lon: location.lon, ...(location.accuracyM !== undefined ? { accuracyM: location.accuracyM } : {}) };
  }
  return out;
}

function referencedFacts(condition: RuleCondition, into = new Set<string>()): Set<string> {
  if ('all' in condition) for (const c of condition.all) referencedFacts(c, into);
  else if ('any' in condition) for (const c of condition.any) referencedFacts(c, into);
  else if ('not' in condition) referencedFacts(condition.not, into);
  else {
    into.add(condition.fact);
    const value = condition.value;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.fact === 'string') into.add(value.fact);
  }
  return into;
}

export class DeviceRuleEvaluator {
  /** Per device: its last check-in here, and the battery reading a drop rate is measured from. */
  private previous = new Map<string, PreviousCheckIn>();
  /**
   * Device evaluations that may change an alert, written in batches by one flush at a time: the
   * batch's transitions are computed in arrival order (so one device's check-ins apply in order)
   * and written in one transaction, whatever the number of devices.
   */
  private queue: DeviceWork[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly lifecycle: AlertLifecycle,
    private readonly log: Logger,
  ) {}

  /** No more check-ins are observed (shutdown); queued work is still written by `idle`. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once every alert change queued by check-ins so far is written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) this.flushQueue();
      await this.flushing?.catch(() => undefined);
    }
  }

  /** Fact names each device rule's conditions read (leaves and fact-valued operands), per revision. */
  private ruleFacts(active: ActiveRevision, rule: string): readonly string[] {
    let byRule = active.memo.get(RULE_FACTS_MEMO) as Map<string, string[]> | undefined;
    if (!byRule) {
      byRule = new Map(active.snapshot.alertRules.map((r) => [r.metadata.name, r.spec.conditions ? [...referencedFacts(r.spec.conditions)] : []]));
      active.memo.set(RULE_FACTS_MEMO, byRule);
    }
    return byRule.get(rule) ?? [];
  }

  /** The check-in observer: evaluate, and queue a write only when an alert changes state. */
  readonly observeCheckIn = (event: CheckInEvent & { status?: DeviceStatus; previousCheckInAt?: Date | null }): void => {
    if (this.closed) return;
    const ruleSet = alertRuleSet(event.revision);
    const now = event.at.getTime();
    const known = this.previous.get(event.device.id);
    const previousAt = event.previousCheckInAt?.getTime() ?? known?.at ?? null;
    // The remembered battery reading stays true with its own time, even when another engine took check-ins since.
    const reading = known?.battery !== undefined ? { battery: known.battery, batteryAt: known.batteryAt ?? known.at } : {};
    const previous: PreviousCheckIn | null = previousAt === null ? null : { at: previousAt, ...reading };
    const battery = event.request.telemetry.battery;
    if (this.previous.size >= MAX_PREVIOUS && !known) this.previous.clear();
    this.previous.set(event.device.id, batteryBaseline(previous, now, battery));
    if (ruleSet.deviceRules.length === 0) return;
    const facts = deriveDeviceFacts({
      device: event.device,
      telemetry: event.request.telemetry,
      reported: event.request.reported,
      desiredConfigHash: event.answer.configHash,
      previous,
      location: event.location,
      status: event.status ?? 'converged',
      now,
    });
    const evaluations = evaluateDeviceRules(ruleSet, facts);
    // Most check-ins: nothing holds and nothing is active for this device — no work queued.
    if (!evaluations.some((e) => e.holds || this.lifecycle.has(cacheKey(e.rule, e.dedupeKey)))) return;
    this.enqueue({ active: event.revision, device: event.device, facts, evaluations, now, opensOnly: false });
  };

  /** Queues evaluations for the next batch (the sweep queues silent devices here too). */
  enqueue(work: DeviceWork): void {
    this.queue.push(work);
    if (!this.flushing) setImmediate(() => this.flushQueue());
  }

  private flushQueue(): void {
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, WRITE_BATCH);
    this.flushing = this.writeDeviceWork(batch)
      .catch((error: unknown) => this.log.warn({ err: error, checkIns: batch.length }, 'alert write failed; the next check-ins will retry'))
      .finally(() => {
        this.flushing = null;
        if (this.queue.length > 0) this.flushQueue();
      });
  }

  /** Transitions for a batch of device evaluations, in arrival order, then one write. */
  private async writeDeviceWork(batch: readonly DeviceWork[]): Promise<void> {
    // What the batch itself changed so far: a later check-in of the same device sees it.
    const overlay = new Map<string, CachedAlert | null>();
    const changes: Change[] = [];
    for (const work of batch) {
      const { active, device, facts } = work;
      for (const evaluation of work.evaluations) {
        if (work.opensOnly && !evaluation.holds) continue;
        const key = cacheKey(evaluation.rule, evaluation.dedupeKey);
        const current = (overlay.has(key) ? overlay.get(key) : this.lifecycle.get(key)) ?? null;
        // A check-in that lacks a fact the rule reads (no battery reading) says nothing about it:
        // it neither starts the hold-down nor resolves the alert.
        if (!evaluation.holds && current && this.ruleFacts(active, evaluation.rule).some((fact) => facts[fact as keyof DeviceFacts] === undefined)) continue;
        const transition = nextAlertState(current, evaluation.holds, work.now, evaluation.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        const change: Change = { evaluation, action: transition.action, current, next: transition.next };
        if (transition.action === 'open') {
          const description = ruleDescription(active, evaluation.rule);
          change.description = {
            scope: 'device',
            tenant: active.snapshot.sites.get(device.site)?.spec.tenant ?? null,
            site: device.site,
            deviceId: device.id,
            summary: `${evaluation.rule} on device ${device.id}${description ? `: ${description}` : ''}`,
            details: { facts: factSummary(facts) },
          };
        }
        this.lifecycle.prepare(change, work.now);
        changes.push(change);
        if (change.row) overlay.set(key, cached(change.row));
        else if (transition.action === 'resolve') overlay.set(key, null);
        else if (current && transition.next) overlay.set(key, { ...current, clearSince: transition.next.clearSince });
      }
    }
    const active = batch[batch.length - 1]?.active;
    if (changes.length > 0 && active) await this.lifecycle.writeChanges(active, changes, batch[0]!.now);
  }
}
