// Alerts in the running engine, composed: device rule evaluation at check-in (alert-rules.ts), the
// periodic sweep (alert-sweep.ts), the alert lifecycle and its cache (alert-lifecycle.ts), the webhook
// outbox worker (webhook-outbox.ts), the imported cell tower table (cell-towers.ts) and the operator
// API (alerts-api.ts). AlertService builds them over one AlertStore and is what the engine holds.
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { CellTower, ServingCell } from '../model/index.ts';
import type { DeliveryBackoff } from '../rules/index.ts';
import { AlertStore } from '../store/alerts.ts';
import type { FleetStore, OperatorRole } from '../store/index.ts';
import { AlertLifecycle } from './alert-lifecycle.ts';
import { DeviceRuleEvaluator } from './alert-rules.ts';
import { AlertSweep } from './alert-sweep.ts';
import { AlertsOperatorApi, type AlertListQuery, type AlertPrincipal } from './alerts-api.ts';
import { CellTowerTable } from './cell-towers.ts';
import type { ActiveRevision } from './revisions.ts';
import { WebhookOutbox } from './webhook-outbox.ts';

export type { CheckInEvent } from './alert-rules.ts';
export type { AlertListQuery, AlertPrincipal } from './alerts-api.ts';

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

export class AlertService {
  readonly alerts: AlertStore;
  private readonly lifecycle: AlertLifecycle;
  private readonly evaluator: DeviceRuleEvaluator;
  private readonly sweeper: AlertSweep;
  private readonly outbox: WebhookOutbox;
  private readonly towers: CellTowerTable;
  private readonly api: AlertsOperatorApi;
  /** The check-in observer (alert-rules.ts): evaluate, and queue a write only when an alert changes state. */
  readonly observeCheckIn: DeviceRuleEvaluator['observeCheckIn'];

  constructor(private readonly options: AlertServiceOptions) {
    const { log } = options;
    this.alerts = new AlertStore(options.store);
    this.lifecycle = new AlertLifecycle(this.alerts, log);
    this.evaluator = new DeviceRuleEvaluator(this.lifecycle, log);
    this.observeCheckIn = this.evaluator.observeCheckIn;
    this.sweeper = new AlertSweep({ alerts: this.alerts, lifecycle: this.lifecycle, evaluator: this.evaluator, revision: options.revision, now: options.now });
    this.outbox = new WebhookOutbox({
      alerts: this.alerts,
      revision: options.revision,
      now: options.now,
      random: options.random,
      log,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.webhookTimeoutMs !== undefined ? { webhookTimeoutMs: options.webhookTimeoutMs } : {}),
      ...(options.webhookLeaseMs !== undefined ? { webhookLeaseMs: options.webhookLeaseMs } : {}),
    });
    this.towers = new CellTowerTable(this.alerts, log);
    this.api = new AlertsOperatorApi({
      alerts: this.alerts,
      lifecycle: this.lifecycle,
      towers: this.towers,
      authorize: options.authorize,
      now: options.now,
      log,
      ...(options.offlineAnalysisWindowHours !== undefined ? { offlineAnalysisWindowHours: options.offlineAnalysisWindowHours } : {}),
    });
  }

  /** Loads the active alerts and the cell tower table; starts the webhook worker and the tower refresh. */
  async start(): Promise<void> {
    await this.lifecycle.refresh();
    await this.towers.refresh();
    const webhookMs = this.options.webhookIntervalMs ?? 1000;
    if (webhookMs > 0) this.outbox.start(webhookMs);
    const towerMs = this.options.cellTowerRefreshMs ?? 60_000;
    if (towerMs > 0) this.towers.start(towerMs);
  }

  async close(): Promise<void> {
    this.evaluator.close();
    this.outbox.stop();
    this.towers.stop();
    await this.evaluator.idle();
    await this.outbox.settle();
    await this.sweeper.settle();
  }

  /** Resolves once every alert change queued by check-ins so far is written (tests, shutdown). */
  idle(): Promise<void> {
    return this.evaluator.idle();
  }

  /** The imported tower table (site-declared towers win in the check-in path). */
  cellTower(cell: ServingCell): CellTower | undefined {
    return this.towers.lookup(cell);
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
    this.outbox.registerMetrics(registry);
  }

  /** Reloads the active device alerts: picks up what other engines opened, acknowledged or resolved. */
  refreshActiveAlerts(): Promise<void> {
    return this.lifecycle.refresh();
  }

  /** One sweep at `now` (alert-sweep.ts); the engine runs it on the leader, tests call it directly. */
  sweep(now: Date = this.options.now()): Promise<{ markedOffline: number; fleetResults: number }> {
    return this.sweeper.sweep(now);
  }

  /** Attempts every due delivery once (webhook-outbox.ts); returns how many were attempted. */
  deliverDueWebhooks(now: Date = this.options.now()): Promise<number> {
    return this.outbox.deliverDueWebhooks(now);
  }

  /** Reloads the in-memory tower index when the table changed. */
  refreshCellTowers(): Promise<void> {
    return this.towers.refresh();
  }

  // ── operator API (alerts-api.ts) ─────────────────────────────────────────

  listAlerts(token: string | null, query: AlertListQuery): Promise<object> {
    return this.api.listAlerts(token, query);
  }

  getAlert(token: string | null, id: string): Promise<object> {
    return this.api.getAlert(token, id);
  }

  acknowledgeAlert(token: string | null, id: string): Promise<object> {
    return this.api.acknowledgeAlert(token, id);
  }

  offlineAnalysis(token: string | null, by: string | undefined, windowHours?: number): Promise<object> {
    return this.api.offlineAnalysis(token, by, windowHours);
  }

  importCellTowers(token: string | null, body: unknown): Promise<object> {
    return this.api.importCellTowers(token, body);
  }
}
