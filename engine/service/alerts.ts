// Alerts in the running engine: per-check-in device rules (observer of the check-in path),
// the periodic sweep (offline index, fleet aggregates, hold-down expiry), webhook deliveries
// with HMAC signatures and backoff, the imported cell tower table, and the operator API.
//
// The hot path stays cheap: the rule set is built once per revision (in the revision's memo),
// active device alerts are cached in memory, and the database is written only when an alert
// changes state (open, hold-down start/cancel, resolve) — a check-in that changes nothing
// costs a few microseconds and no round trip.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type {
  AlertAction,
  CellTower,
  DeviceIdentity,
  DeviceStatus,
  JsonObject,
  RuleCondition,
  SecretValue,
  ServingCell,
  Severity,
  Telemetry,
} from '../model/index.ts';
import {
  acknowledgeAlert,
  AlertLifecycleError,
  buildRuleSet,
  deriveDeviceFacts,
  evaluateDeviceRules,
  MIN_BATTERY_RATE_WINDOW_MS,
  evaluateFleetAggregates,
  groupOfflineCohorts,
  nextAlertState,
  nextDeliveryAttemptAt,
  signWebhook,
  type AlertLifecycleState,
  type CohortDimension,
  type DeliveryBackoff,
  type DeviceFacts,
  type FleetDevice,
  type LifecycleAction,
  type PreviousCheckIn,
  type RuleEvaluation,
  type RuleSet,
} from '../rules/index.ts';
import { cellTowerIndex } from '../location/index.ts';
import { AlertStore, type AlertChanges, type IndexedDevice, type NewWebhookDelivery } from '../store/alerts.ts';
import type { AlertRow, WebhookDeliveryRow } from '../store/alert-entities.ts';
import type { FleetStore, OperatorRole } from '../store/index.ts';
import type { CheckInObserver } from './checkin.ts';
import { EngineError, InvalidRequestError, NotFoundError } from './errors.ts';
import type { ActiveRevision } from './revisions.ts';

export interface AlertPrincipal {
  name: string;
  role: OperatorRole;
  /** null: every tenant. */
  tenants: readonly string[] | null;
}

export interface AlertServiceOptions {
  store: FleetStore;
  revision(): ActiveRevision | null;
  now(): Date;
  random(): number;
  log: Logger;
  authorize(token: string | null, role: OperatorRole): Promise<AlertPrincipal>;
  /** Webhook worker period (default 1000 ms; 0: only when `deliverDueWebhooks` is called). */
  webhookIntervalMs?: number;
  /** How often the imported cell tower table is checked for changes (default 60 s; 0 disables). */
  cellTowerRefreshMs?: number;
  backoff?: DeliveryBackoff;
  /** Per attempt (default 10 s). */
  webhookTimeoutMs?: number;
  /** A claimed delivery is retried by any engine after this long if its attempt never finished (default 60 s). */
  webhookLeaseMs?: number;
  /** "Recently offline" for cohort analysis (default 7 days). */
  offlineAnalysisWindowHours?: number;
}

/** What a check-in observer hands over, plus what the alert rules also need. */
export type CheckInEvent = Parameters<CheckInObserver>[0];

export class AlertConflictError extends EngineError {
  constructor(message: string) {
    super(409, 'alert-resolved', message);
  }
}

interface CachedAlert extends AlertLifecycleState {
  id: string;
  rule: string;
  dedupeKey: string;
  deviceId: string | null;
  holdDownSeconds: number;
}

interface AlertDescription {
  scope: 'device' | 'fleet';
  tenant: string | null;
  site: string | null;
  deviceId: string | null;
  summary: string;
  details: JsonObject;
}

interface Change {
  evaluation: { rule: string; severity: Severity; dedupeKey: string; holdDownSeconds: number; actions: readonly AlertAction[] };
  action: LifecycleAction;
  current: CachedAlert | null;
  next: AlertLifecycleState | null;
  /** Opens only: what the new alert says. */
  description?: AlertDescription;
  /** Opens only: the row to insert (its id is chosen before the write). */
  row?: AlertRow;
}

/** One check-in's (or one silent device's) evaluations, waiting for the next batch. */
interface DeviceWork {
  active: ActiveRevision;
  device: Pick<DeviceIdentity, 'id' | 'site' | 'profile'>;
  facts: DeviceFacts;
  evaluations: readonly RuleEvaluation[];
  now: number;
  /** The sweep's view of a silent device: it may open alerts, never clear them. */
  opensOnly: boolean;
}

const RULESET_MEMO = 'alert-rule-set';
const RULE_DESCRIPTIONS_MEMO = 'alert-rule-descriptions';
const RULE_FACTS_MEMO = 'alert-rule-facts';
const MAX_PREVIOUS = 1_000_000;
const MAX_TOWERS_PER_REQUEST = 10_000;
/** Device evaluations written per transaction. */
const WRITE_BATCH = 500;
const DELIVERY_BATCH = 20;
const ALERT_STATUSES = new Set(['open', 'acknowledged', 'resolved', 'active']);
const SEVERITIES = new Set(['info', 'warning', 'critical']);
const COHORT_DIMENSIONS = new Set(['uptime', 'firmware', 'site', 'cell']);
const MAX_OFFLINE_WINDOW_HOURS = 366 * 24;

function cacheKey(rule: string, dedupeKey: string): string {
  return `${rule}\u0000${dedupeKey}`;
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function cached(row: AlertRow): CachedAlert {
  return {
    id: row.id,
    rule: row.rule,
    dedupeKey: row.dedupeKey,
    deviceId: row.deviceId,
    holdDownSeconds: row.holdDownSeconds,
    status: row.status,
    openedAt: row.openedAt.getTime(),
    acknowledgedAt: row.acknowledgedAt?.getTime() ?? null,
    resolvedAt: row.resolvedAt?.getTime() ?? null,
    clearSince: row.clearSince?.getTime() ?? null,
  };
}

/** An alert as operators and webhook receivers see it. */
export function alertView(row: AlertRow): JsonObject {
  return {
    id: row.id,
    rule: row.rule,
    scope: row.scope,
    severity: row.severity,
    status: row.status,
    dedupeKey: row.dedupeKey,
    summary: row.summary,
    tenant: row.tenant,
    site: row.site,
    deviceId: row.deviceId,
    openedAt: iso(row.openedAt),
    acknowledgedAt: iso(row.acknowledgedAt),
    acknowledgedBy: row.acknowledgedBy,
    resolvedAt: iso(row.resolvedAt),
    inHoldDownSince: iso(row.clearSince),
    holdDownSeconds: row.holdDownSeconds,
    details: row.details,
  };
}

function deliveryView(row: WebhookDeliveryRow): JsonObject {
  // Never the secret, not even its reference: the view is for operators of every role.
  return {
    id: row.id,
    event: row.event,
    target: webhookTarget(row.url),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? iso(row.nextAttemptAt) : null,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: iso(row.createdAt),
    deliveredAt: iso(row.deliveredAt),
  };
}

function fleetDevice(device: IndexedDevice): FleetDevice {
  return {
    id: device.id,
    site: device.site,
    cell: device.cell,
    firmware: device.firmware,
    profile: device.profile,
    status: device.status,
    lastCheckInAt: device.lastCheckInAt?.getTime() ?? null,
    lastUptimeMs: device.lastUptimeMs,
  };
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

/** The facts a device rule sees when the sweep finds the device silent: identity, last known state, `offline`. */
function offlineFacts(device: IndexedDevice, now: number): DeviceFacts {
  return deriveDeviceFacts({
    device: { id: device.id, profile: device.profile, site: device.site, labels: device.labels },
    telemetry: { time: new Date(now).toISOString() } as Telemetry,
    reported: { firmware: device.firmware, configHash: null },
    desiredConfigHash: null,
    previous: device.lastCheckInAt ? { at: device.lastCheckInAt.getTime() } : null,
    location: { source: 'unknown' },
    status: 'offline',
    now,
  });
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

export class AlertService {
  readonly alerts: AlertStore;
  /** Active device alerts by (rule, key): what a check-in compares against without a read. */
  private active = new Map<string, CachedAlert>();
  /** Per device: its last check-in here, and the battery reading a drop rate is measured from. */
  private previous = new Map<string, PreviousCheckIn>();
  /**
   * Device evaluations that may change an alert, written in batches by one flush at a time: the
   * batch's transitions are computed in arrival order (so one device's check-ins apply in order)
   * and written in one transaction, whatever the number of devices.
   */
  private queue: DeviceWork[] = [];
  private flushing: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private towerLookup: (cell: ServingCell) => CellTower | undefined = () => undefined;
  private towerVersion = '';
  private delivering: Promise<number> | null = null;
  private sweeping: Promise<void> | null = null;
  private webhookAttempts: Counter<'outcome'> | null = null;
  private closed = false;

  constructor(private readonly options: AlertServiceOptions) {
    this.alerts = new AlertStore(options.store);
  }

  /** Loads the active alerts and the cell tower table; starts the webhook worker and the tower refresh. */
  async start(): Promise<void> {
    await this.refreshActiveAlerts();
    await this.refreshCellTowers();
    const webhookMs = this.options.webhookIntervalMs ?? 1000;
    if (webhookMs > 0) {
      this.timers.push(setInterval(() => void this.deliverDueWebhooks().catch((error: unknown) => this.options.log.warn({ err: error }, 'webhook worker failed')), webhookMs));
    }
    const towerMs = this.options.cellTowerRefreshMs ?? 60_000;
    if (towerMs > 0) {
      this.timers.push(setInterval(() => void this.refreshCellTowers().catch((error: unknown) => this.options.log.warn({ err: error }, 'cell tower refresh failed')), towerMs));
    }
    for (const timer of this.timers) timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.idle();
    await this.delivering?.catch(() => undefined);
    await this.sweeping?.catch(() => undefined);
  }

  /** Resolves once every alert change queued by check-ins so far is written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) this.flushQueue();
      await this.flushing?.catch(() => undefined);
    }
  }

  /** The imported tower table (site-declared towers win in the check-in path). */
  cellTower(cell: ServingCell): CellTower | undefined {
    return this.towerLookup(cell);
  }

  registerMetrics(registry: Registry): void {
    const alerts = this.alerts;
    new Gauge({
      name: 'fleetform_alerts_open',
      help: 'Active alerts (open or acknowledged) by rule, severity and status',
      labelNames: ['rule', 'severity', 'status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await alerts.activeAlertCounts()) this.set({ rule: row.rule, severity: row.severity, status: row.status }, row.n);
      },
    });
    this.webhookAttempts = new Counter({
      name: 'fleetform_webhook_attempts_total',
      help: 'Webhook delivery attempts by this process, by outcome (delivered, retry, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  // ── per check-in ─────────────────────────────────────────────────────────

  /** The device rules of a revision, built once and kept in the revision's memo. */
  ruleSet(active: ActiveRevision): RuleSet {
    let ruleSet = active.memo.get(RULESET_MEMO) as RuleSet | undefined;
    if (!ruleSet) {
      ruleSet = buildRuleSet(active.snapshot.alertRules);
      active.memo.set(RULESET_MEMO, ruleSet);
    }
    return ruleSet;
  }

  private ruleDescription(active: ActiveRevision, rule: string): string | undefined {
    let descriptions = active.memo.get(RULE_DESCRIPTIONS_MEMO) as Map<string, string | undefined> | undefined;
    if (!descriptions) {
      descriptions = new Map(active.snapshot.alertRules.map((r) => [r.metadata.name, r.spec.description]));
      active.memo.set(RULE_DESCRIPTIONS_MEMO, descriptions);
    }
    return descriptions.get(rule);
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
    const ruleSet = this.ruleSet(event.revision);
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
    if (!evaluations.some((e) => e.holds || this.active.has(cacheKey(e.rule, e.dedupeKey)))) return;
    this.enqueue({ active: event.revision, device: event.device, facts, evaluations, now, opensOnly: false });
  };

  private enqueue(work: DeviceWork): void {
    this.queue.push(work);
    if (!this.flushing) setImmediate(() => this.flushQueue());
  }

  private flushQueue(): void {
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, WRITE_BATCH);
    this.flushing = this.writeDeviceWork(batch)
      .catch((error: unknown) => this.options.log.warn({ err: error, checkIns: batch.length }, 'alert write failed; the next check-ins will retry'))
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
        const current = (overlay.has(key) ? overlay.get(key) : this.active.get(key)) ?? null;
        // A check-in that lacks a fact the rule reads (no battery reading) says nothing about it:
        // it neither starts the hold-down nor resolves the alert.
        if (!evaluation.holds && current && this.ruleFacts(active, evaluation.rule).some((fact) => facts[fact as keyof DeviceFacts] === undefined)) continue;
        const transition = nextAlertState(current, evaluation.holds, work.now, evaluation.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        const change: Change = { evaluation, action: transition.action, current, next: transition.next };
        if (transition.action === 'open') {
          const description = this.ruleDescription(active, evaluation.rule);
          change.description = {
            scope: 'device',
            tenant: active.snapshot.sites.get(device.site)?.spec.tenant ?? null,
            site: device.site,
            deviceId: device.id,
            summary: `${evaluation.rule} on device ${device.id}${description ? `: ${description}` : ''}`,
            details: { facts: factSummary(facts) },
          };
        }
        this.prepare(change, work.now);
        changes.push(change);
        if (change.row) overlay.set(key, cached(change.row));
        else if (transition.action === 'resolve') overlay.set(key, null);
        else if (current && transition.next) overlay.set(key, { ...current, clearSince: transition.next.clearSince });
      }
    }
    const active = batch[batch.length - 1]?.active;
    if (changes.length > 0 && active) await this.writeChanges(active, changes, batch[0]!.now);
  }

  /** An open gets its row (and id) before the write, so later changes in the batch can name it. */
  private prepare(change: Change, now: number): void {
    if (change.action !== 'open' || change.row) return;
    const description = change.description ?? { scope: 'device', tenant: null, site: null, deviceId: null, summary: change.evaluation.rule, details: {} };
    change.row = {
      id: randomUUID(),
      rule: change.evaluation.rule,
      dedupeKey: change.evaluation.dedupeKey,
      scope: description.scope,
      severity: change.evaluation.severity,
      status: 'open',
      tenant: description.tenant,
      site: description.site,
      deviceId: description.deviceId,
      summary: description.summary,
      details: description.details,
      openedAt: new Date(now),
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      clearSince: null,
      holdDownSeconds: change.evaluation.holdDownSeconds,
    };
  }

  /** Writes a batch of transitions, runs the actions of new alerts, and keeps the cache in step. */
  private async writeChanges(active: ActiveRevision, changes: readonly Change[], now: number): Promise<void> {
    const batch: AlertChanges = { opens: [], holdDowns: [], resolves: [] };
    for (const change of changes) {
      const { evaluation } = change;
      this.prepare(change, now);
      if (change.action === 'open' && change.row) {
        const row = change.row;
        const deviceId = row.deviceId;
        batch.opens.push({
          alert: row,
          // Device actions need a device: a fleet alert's command actions have none to go to.
          commands:
            deviceId === null
              ? []
              : evaluation.actions.flatMap((action) => (action.type === 'command' ? [{ deviceId, type: action.command, params: action.params ?? {} }] : [])),
          webhooks: this.webhooksFor(active, evaluation.actions, 'alert.opened', row),
        });
      } else if (change.current && (change.action === 'start-hold-down' || change.action === 'cancel-hold-down')) {
        batch.holdDowns.push({ id: change.current.id, clearSince: change.next?.clearSince != null ? new Date(change.next.clearSince) : null });
      } else if (change.current && change.action === 'resolve') {
        const at = new Date(change.next?.resolvedAt ?? now);
        const clearSince = new Date(change.next?.clearSince ?? now);
        const resolvedRow = evaluation.actions.some((a) => a.type === 'webhook') ? await this.alerts.getAlert(change.current.id) : null;
        const webhooks = resolvedRow
          ? this.webhooksFor(active, evaluation.actions, 'alert.resolved', { ...resolvedRow, status: 'resolved', resolvedAt: at, clearSince })
          : [];
        batch.resolves.push({ id: change.current.id, at, clearSince, webhooks });
      }
    }
    const result = await this.alerts.writeAlertChanges(batch);
    const opened = new Set(result.opened);
    const resolved = new Set(result.resolved);
    const reload = new Set<string>();
    // The cache follows the changes in order, as the batch computed them.
    for (const change of changes) {
      const key = cacheKey(change.evaluation.rule, change.evaluation.dedupeKey);
      const row = change.row;
      if (change.action === 'open' && row) {
        if (opened.has(row.id)) {
          if (row.scope === 'device') this.active.set(key, cached(row));
          reload.delete(key);
          this.options.log.info({ alert: row.id, rule: row.rule, key: row.dedupeKey, severity: row.severity }, 'alert opened');
        } else {
          // Another engine (or a stale cache) had it open already: adopt the stored one.
          reload.add(key);
        }
      } else if (change.current && change.action === 'resolve') {
        if (this.active.get(key)?.id === change.current.id) this.active.delete(key);
        if (resolved.has(change.current.id)) this.options.log.info({ alert: change.current.id, rule: change.current.rule }, 'alert resolved');
      } else if (change.current && change.next && this.active.get(key)?.id === change.current.id) {
        this.active.set(key, { ...change.current, clearSince: change.next.clearSince });
      }
    }
    for (const key of reload) {
      const [rule = '', dedupeKey = ''] = key.split('\u0000');
      const existing = await this.alerts.activeAlert(rule, dedupeKey);
      if (existing && existing.scope === 'device') this.active.set(key, cached(existing));
      else this.active.delete(key);
    }
  }

  private webhooksFor(active: ActiveRevision, actions: readonly AlertAction[], event: string, row: AlertRow): NewWebhookDelivery[] {
    const webhooks: NewWebhookDelivery[] = [];
    for (const action of actions) {
      if (action.type !== 'webhook') continue;
      const description = this.ruleDescription(active, row.rule);
      const body = JSON.stringify({
        event,
        revision: active.sha,
        alert: { ...alertView(row), ...(description ? { description } : {}) },
      });
      webhooks.push({ event, url: action.url, secret: (action.secret as unknown as JsonObject | undefined) ?? null, body });
    }
    return webhooks;
  }

  /** Reloads the active device alerts: picks up what other engines opened, acknowledged or resolved. */
  async refreshActiveAlerts(): Promise<void> {
    const rows = await this.alerts.activeAlerts('device');
    const next = new Map<string, CachedAlert>();
    for (const row of rows) next.set(cacheKey(row.rule, row.dedupeKey), cached(row));
    this.active = next;
  }

  // ── the periodic sweep ───────────────────────────────────────────────────

  /**
   * One sweep at `now` (the engine runs it on one process, the leader; tests call it directly):
   * marks devices past their offline deadline (an index range, not a telemetry scan) and runs the
   * device rules that hold for a silent device; resolves alerts whose hold-down ran out while their
   * device stayed quiet, and alerts of rules that left the revision; evaluates the fleet
   * aggregates into one alert per group.
   */
  async sweep(now: Date = this.options.now()): Promise<{ markedOffline: number; fleetResults: number }> {
    while (this.sweeping) await this.sweeping.catch(() => undefined);
    let outcome = { markedOffline: 0, fleetResults: 0 };
    const run = (async () => {
      outcome = await this.sweepOnce(now);
    })();
    this.sweeping = run;
    try {
      await run;
    } finally {
      this.sweeping = null;
    }
    return outcome;
  }

  private async sweepOnce(now: Date): Promise<{ markedOffline: number; fleetResults: number }> {
    const at = now.getTime();
    const active = this.options.revision();
    const marked = await this.alerts.markOffline(now);
    if (!active) return { markedOffline: marked.length, fleetResults: 0 };
    const ruleSet = this.ruleSet(active);

    // Device rules for devices that just went silent (e.g. status == offline).
    if (ruleSet.deviceRules.length > 0) {
      for (const device of marked) {
        const facts = offlineFacts(device, at);
        const evaluations = evaluateDeviceRules(ruleSet, facts);
        if (evaluations.some((e) => e.holds)) this.enqueue({ active, device, facts, evaluations, now: at, opensOnly: true });
      }
    }
    await this.idle();

    // Hold-downs that ran out while the device stayed quiet, and rules no longer in the revision.
    const rules = new Map<string, { severity: Severity; holdDownSeconds: number; actions: readonly AlertAction[] }>();
    for (const rule of ruleSet.deviceRules) rules.set(rule.name, rule);
    for (const rule of ruleSet.fleetRules) rules.set(rule.name, rule);
    const stale: Change[] = [];
    for (const row of await this.alerts.alertsInHoldDown()) {
      const rule = rules.get(row.rule);
      const holdDownSeconds = rule?.holdDownSeconds ?? row.holdDownSeconds;
      const transition = nextAlertState(cached(row), false, at, holdDownSeconds);
      if (transition.action === 'resolve') {
        stale.push({ evaluation: { rule: row.rule, severity: row.severity, dedupeKey: row.dedupeKey, holdDownSeconds, actions: rule?.actions ?? [] }, action: 'resolve', current: cached(row), next: transition.next });
      }
    }
    const activeRows = await this.alerts.activeAlerts();
    for (const row of activeRows) {
      if (rules.has(row.rule) || stale.some((c) => c.current?.id === row.id)) continue;
      stale.push({ evaluation: { rule: row.rule, severity: row.severity, dedupeKey: row.dedupeKey, holdDownSeconds: 0, actions: [] }, action: 'resolve', current: cached(row), next: { ...cached(row), status: 'resolved', resolvedAt: at, clearSince: at } });
    }
    if (stale.length > 0) await this.writeChanges(active, stale, at);

    // Fleet aggregates: one alert per (rule, group).
    let fleetResults = 0;
    if (ruleSet.fleetRules.length > 0) {
      const devices = await this.alerts.fleetIndex();
      // No check-in policy: the stored deadline (marked just above) is the truth about offline.
      const results = evaluateFleetAggregates(ruleSet, devices, at);
      fleetResults = results.length;
      const fleetActive = new Map<string, CachedAlert>();
      for (const row of activeRows) if (row.scope === 'fleet' && rules.has(row.rule)) fleetActive.set(cacheKey(row.rule, row.dedupeKey), cached(row));
      const changes: Change[] = [];
      const seen = new Set<string>();
      const byKey = new Map<string, (typeof results)[number]>();
      for (const result of results) {
        const key = cacheKey(result.rule, result.dedupeKey);
        // Two groups rendering one key: the key holds if any of them holds.
        const earlier = byKey.get(key);
        if (!earlier || (!earlier.holds && result.holds)) byKey.set(key, result);
      }
      for (const [key, result] of byKey) {
        seen.add(key);
        const current = fleetActive.get(key) ?? null;
        const transition = nextAlertState(current, result.holds, at, result.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        const change: Change = { evaluation: result, action: transition.action, current, next: transition.next };
        if (transition.action === 'open') {
          const site = result.groupBy === 'site' ? result.group : null;
          change.description = {
            scope: 'fleet',
            tenant: site ? (active.snapshot.sites.get(site)?.spec.tenant ?? null) : null,
            site,
            deviceId: null,
            summary: result.summary,
            details: {
              groupBy: result.groupBy,
              group: result.group,
              measure: result.measure,
              total: result.total,
              affected: result.affected,
              share: result.share,
              threshold: result.threshold,
              minDevices: result.minDevices,
              sampleDeviceIds: result.sampleDeviceIds,
            },
          };
        }
        changes.push(change);
      }
      // An active fleet alert whose group no longer exists: its condition no longer holds.
      for (const [key, current] of fleetActive) {
        if (seen.has(key)) continue;
        const rule = rules.get(current.rule);
        const transition = nextAlertState(current, false, at, rule?.holdDownSeconds ?? current.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        changes.push({
          evaluation: { rule: current.rule, severity: rule?.severity ?? 'warning', dedupeKey: current.dedupeKey, holdDownSeconds: rule?.holdDownSeconds ?? 0, actions: rule?.actions ?? [] },
          action: transition.action,
          current,
          next: transition.next,
        });
      }
      if (changes.length > 0) await this.writeChanges(active, changes, at);
    }
    await this.refreshActiveAlerts();
    return { markedOffline: marked.length, fleetResults };
  }

  // ── webhooks ─────────────────────────────────────────────────────────────

  /**
   * Attempts every due delivery once (the worker calls this every second; tests call it with `now`).
   * Returns how many were attempted. State lives in the database: a restarted engine carries on.
   */
  async deliverDueWebhooks(now: Date = this.options.now()): Promise<number> {
    while (this.delivering) await this.delivering.catch(() => 0);
    const run = this.deliverOnce(now);
    this.delivering = run;
    try {
      return await run;
    } finally {
      this.delivering = null;
    }
  }

  private async deliverOnce(now: Date): Promise<number> {
    const lease = new Date(now.getTime() + (this.options.webhookLeaseMs ?? 60_000));
    const due = await this.alerts.claimDueDeliveries(now, lease, DELIVERY_BATCH);
    await Promise.all(due.map((delivery) => this.attempt(delivery, now)));
    return due.length;
  }

  private async attempt(delivery: WebhookDeliveryRow, now: Date): Promise<void> {
    const attempt = delivery.attempts + 1;
    let statusCode: number | null = null;
    let error: string | null = null;
    const started = process.hrtime.bigint();
    const secret = delivery.secret as SecretValue | null;
    const vault = this.options.revision()?.secrets;
    if (secret !== null && !vault?.has(secret)) {
      // The applied revision cannot reveal it (removed or not decryptable): try again later.
      error = 'secret-unavailable: the applied revision does not hold this webhook secret';
    } else {
      // Signed afresh at each attempt: the timestamp inside the MAC is the attempt's.
      const headers: Record<string, string> =
        secret !== null && vault ? signWebhook(delivery.body, vault.reveal(secret), now.getTime() / 1000).headers : { 'content-type': 'application/json' };
      headers['x-fleetform-delivery'] = delivery.id;
      headers['x-fleetform-event'] = delivery.event;
      try {
        const response = await fetch(delivery.url, {
          method: 'POST',
          headers,
          body: delivery.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.webhookTimeoutMs ?? 10_000),
        });
        statusCode = response.status;
        await response.body?.cancel().catch(() => undefined);
        if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
      } catch (cause) {
        error = cause instanceof Error ? `${cause.name}: ${(cause as Error & { cause?: { code?: string } }).cause?.code ?? cause.message}` : String(cause);
      }
    }
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    const retryAt = error === null ? null : nextDeliveryAttemptAt(attempt, now.getTime(), this.options.random(), this.options.backoff);
    const status = error === null ? 'delivered' : retryAt === null ? 'failed' : 'pending';
    this.webhookAttempts?.inc({ outcome: status === 'pending' ? 'retry' : status });
    if (error !== null) this.options.log.warn({ delivery: delivery.id, target: webhookTarget(delivery.url), attempt, error }, status === 'failed' ? 'webhook delivery given up' : 'webhook delivery failed; will retry');
    await this.alerts.recordWebhookAttempt({
      deliveryId: delivery.id,
      attempt,
      at: now,
      statusCode,
      error,
      durationMs,
      status,
      nextAttemptAt: retryAt === null ? null : new Date(retryAt),
    });
  }

  // ── cell towers ──────────────────────────────────────────────────────────

  /** Reloads the in-memory tower index when the table changed. */
  async refreshCellTowers(): Promise<void> {
    const version = await this.alerts.cellTowerVersion();
    if (version === this.towerVersion) return;
    const towers = await this.alerts.loadCellTowers();
    this.towerLookup = cellTowerIndex(towers);
    this.towerVersion = version;
  }

  // ── operator API ─────────────────────────────────────────────────────────

  async listAlerts(token: string | null, query: AlertListQuery): Promise<object> {
    const principal = await this.options.authorize(token, 'viewer');
    if (query.status !== undefined && !ALERT_STATUSES.has(query.status)) {
      throw new InvalidRequestError('invalid-request', '/status', 'status must be open, acknowledged, resolved or active');
    }
    if (query.severity !== undefined && !SEVERITIES.has(query.severity)) {
      throw new InvalidRequestError('invalid-request', '/severity', 'severity must be info, warning or critical');
    }
    const rows = await this.alerts.listAlerts({
      tenants: principal.tenants,
      ...(query.status !== undefined ? { status: query.status as 'open' | 'acknowledged' | 'resolved' | 'active' } : {}),
      ...(query.severity !== undefined ? { severity: query.severity as Severity } : {}),
      ...(query.site !== undefined ? { site: query.site } : {}),
      ...(query.rule !== undefined ? { rule: query.rule } : {}),
      ...(query.device !== undefined ? { deviceId: query.device } : {}),
      limit: Math.min(query.limit ?? 100, 1000),
      offset: query.offset ?? 0,
    });
    return { alerts: rows.map(alertView) };
  }

  private async scopedAlert(principal: AlertPrincipal, id: string): Promise<AlertRow> {
    const row = await this.alerts.getAlert(id);
    // An alert outside the token's tenants does not exist for it.
    if (!row || (principal.tenants !== null && (row.tenant === null || !principal.tenants.includes(row.tenant)))) throw new NotFoundError('alert', id);
    return row;
  }

  async getAlert(token: string | null, id: string): Promise<object> {
    const principal = await this.options.authorize(token, 'viewer');
    const row = await this.scopedAlert(principal, id);
    const deliveries = await this.alerts.deliveriesForAlert(id);
    const attempts = await Promise.all(deliveries.map((d) => this.alerts.webhookAttempts(d.id)));
    return {
      ...alertView(row),
      deliveries: deliveries.map((d, i) => ({
        ...deliveryView(d),
        history: (attempts[i] ?? []).map((a) => ({ attempt: a.attempt, at: iso(a.at), statusCode: a.statusCode, error: a.error, durationMs: a.durationMs })),
      })),
    };
  }

  async acknowledgeAlert(token: string | null, id: string): Promise<object> {
    const principal = await this.options.authorize(token, 'operator');
    const row = await this.scopedAlert(principal, id);
    const at = this.options.now();
    try {
      acknowledgeAlert(cached(row), at.getTime());
    } catch (error) {
      if (error instanceof AlertLifecycleError) throw new AlertConflictError(`alert ${id} is resolved; it cannot be acknowledged`);
      throw error;
    }
    const updated = await this.alerts.acknowledge(id, principal.name, at);
    if (!updated) throw new AlertConflictError(`alert ${id} is resolved; it cannot be acknowledged`);
    const key = cacheKey(updated.rule, updated.dedupeKey);
    if (this.active.has(key)) this.active.set(key, cached(updated));
    this.options.log.info({ alert: id, operator: principal.name }, 'alert acknowledged');
    return alertView(updated);
  }

  async offlineAnalysis(token: string | null, by: string | undefined, windowHours?: number): Promise<object> {
    const principal = await this.options.authorize(token, 'viewer');
    if (by === undefined || !COHORT_DIMENSIONS.has(by)) throw new InvalidRequestError('invalid-request', '/by', 'by must be uptime, firmware, site or cell');
    // Bounded so the window start stays a valid date and the query a sane one.
    if (windowHours !== undefined && !integerIn(windowHours, 1, MAX_OFFLINE_WINDOW_HOURS)) {
      throw new InvalidRequestError('invalid-request', '/windowHours', `windowHours must be an integer from 1 to ${MAX_OFFLINE_WINDOW_HOURS}`);
    }
    const hours = windowHours ?? this.options.offlineAnalysisWindowHours ?? 24 * 7;
    const now = this.options.now();
    const since = new Date(now.getTime() - hours * 3_600_000);
    const devices = await this.alerts.recentlyOffline(since, principal.tenants);
    return {
      by,
      since: since.toISOString(),
      devices: devices.length,
      cohorts: groupOfflineCohorts(devices.map(fleetDevice), by as CohortDimension),
    };
  }

  async importCellTowers(token: string | null, body: unknown): Promise<object> {
    await this.options.authorize(token, 'operator');
    const towers = validateCellTowers(body);
    const upserted = await this.alerts.upsertCellTowers(towers, this.options.now());
    await this.refreshCellTowers();
    return { upserted };
  }
}

export interface AlertListQuery {
  status?: string;
  severity?: string;
  site?: string;
  rule?: string;
  device?: string;
  limit?: number;
  offset?: number;
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

/** Where a webhook goes, for logs and operator views: the origin only (hook URLs often carry a token in the path). */
export function webhookTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function integerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function numberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/** `{ towers: CellTower[] }`: the first bad field is named by its JSON path. */
export function validateCellTowers(body: unknown): CellTower[] {
  const towers = (body as { towers?: unknown } | null)?.towers;
  if (!Array.isArray(towers)) throw new InvalidRequestError('invalid-request', '/towers', 'body must be {"towers": [...]}');
  if (towers.length > MAX_TOWERS_PER_REQUEST) throw new InvalidRequestError('invalid-request', '/towers', `at most ${MAX_TOWERS_PER_REQUEST} towers per request`);
  const out: CellTower[] = [];
  towers.forEach((tower: unknown, i) => {
    const t = tower as Record<string, unknown> | null;
    const field = (name: string): string => `/towers/${i}/${name}`;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new InvalidRequestError('invalid-request', `/towers/${i}`, 'each tower must be an object');
    const checks: [string, boolean][] = [
      ['mcc', integerIn(t.mcc, 0, 999)],
      ['mnc', integerIn(t.mnc, 0, 999)],
      ['lac', integerIn(t.lac, 0, 2 ** 31 - 1)],
      ['cid', integerIn(t.cid, 0, 2 ** 40)],
      ['lat', numberIn(t.lat, -90, 90)],
      ['lon', numberIn(t.lon, -180, 180)],
      ['rangeM', t.rangeM === undefined || numberIn(t.rangeM, 0, 1_000_000)],
    ];
    for (const [name, ok] of checks) if (!ok) throw new InvalidRequestError('invalid-request', field(name), `${field(name)}: missing or out of range`);
    out.push({
      mcc: t.mcc as number,
      mnc: t.mnc as number,
      lac: t.lac as number,
      cid: t.cid as number,
      lat: t.lat as number,
      lon: t.lon as number,
      ...(t.rangeM !== undefined ? { rangeM: t.rangeM as number } : {}),
    });
  });
  return out;
}
