// The alert lifecycle in the engine: the in-memory cache of active device alerts, and batches of state
// changes (open, hold-down start/cancel, resolve) written in one transaction with the device commands and
// webhook deliveries an opening or resolution queues; the cache follows what was written.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlertAction, JsonObject, Severity } from '../model/index.ts';
import type { AlertLifecycleState, LifecycleAction } from '../rules/index.ts';
import type { AlertChanges, AlertStore, NewWebhookDelivery } from '../store/alerts.ts';
import type { AlertRow } from '../store/alert-entities.ts';
import { iso } from './operator-context.ts';
import type { ActiveRevision } from './revisions.ts';

export interface CachedAlert extends AlertLifecycleState {
  id: string;
  rule: string;
  dedupeKey: string;
  deviceId: string | null;
  holdDownSeconds: number;
}

export interface AlertDescription {
  scope: 'device' | 'fleet';
  tenant: string | null;
  site: string | null;
  deviceId: string | null;
  summary: string;
  details: JsonObject;
}

export interface Change {
  evaluation: { rule: string; severity: Severity; dedupeKey: string; holdDownSeconds: number; actions: readonly AlertAction[] };
  action: LifecycleAction;
  current: CachedAlert | null;
  next: AlertLifecycleState | null;
  /** Opens only: what the new alert says. */
  description?: AlertDescription;
  /** Opens only: the row to insert (its id is chosen before the write). */
  row?: AlertRow;
}

const RULE_DESCRIPTIONS_MEMO = 'alert-rule-descriptions';

export function cacheKey(rule: string, dedupeKey: string): string {
  return `${rule}\u0000${dedupeKey}`;
}

export function cached(row: AlertRow): CachedAlert {
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

/** A rule's description in a revision (kept in the revision's memo). */
export function ruleDescription(active: ActiveRevision, rule: string): string | undefined {
  let descriptions = active.memo.get(RULE_DESCRIPTIONS_MEMO) as Map<string, string | undefined> | undefined;
  if (!descriptions) {
    descriptions = new Map(active.snapshot.alertRules.map((r) => [r.metadata.name, r.spec.description]));
    active.memo.set(RULE_DESCRIPTIONS_MEMO, descriptions);
  }
  return descriptions.get(rule);
}

export class AlertLifecycle {
  /** Active device alerts by (rule, key): what a check-in compares against without a read. */
  private active = new Map<string, CachedAlert>();

  constructor(
    private readonly alerts: AlertStore,
    private readonly log: Logger,
  ) {}

  /** Whether an alert is active for (rule, key) — `cacheKey(rule, dedupeKey)`. */
  has(key: string): boolean {
    return this.active.has(key);
  }

  get(key: string): CachedAlert | undefined {
    return this.active.get(key);
  }

  /** An alert changed outside a batch (acknowledged): the cache takes it if it holds that key. */
  update(row: AlertRow): void {
    const key = cacheKey(row.rule, row.dedupeKey);
    if (this.active.has(key)) this.active.set(key, cached(row));
  }

  /** An open gets its row (and id) before the write, so later changes in the batch can name it. */
  prepare(change: Change, now: number): void {
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
  async writeChanges(active: ActiveRevision, changes: readonly Change[], now: number): Promise<void> {
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
          this.log.info({ alert: row.id, rule: row.rule, key: row.dedupeKey, severity: row.severity }, 'alert opened');
        } else {
          // Another engine (or a stale cache) had it open already: adopt the stored one.
          reload.add(key);
        }
      } else if (change.current && change.action === 'resolve') {
        if (this.active.get(key)?.id === change.current.id) this.active.delete(key);
        if (resolved.has(change.current.id)) this.log.info({ alert: change.current.id, rule: change.current.rule }, 'alert resolved');
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
      const description = ruleDescription(active, row.rule);
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
  async refresh(): Promise<void> {
    const rows = await this.alerts.activeAlerts('device');
    const next = new Map<string, CachedAlert>();
    for (const row of rows) next.set(cacheKey(row.rule, row.dedupeKey), cached(row));
    this.active = next;
  }
}
