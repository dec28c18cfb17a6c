// The alerts operator API: list, detail (with webhook deliveries and their attempts), acknowledge,
// offline cohort analysis, and the cell tower import (its batches validated here).
import type { Logger } from 'pino';
import type { CellTower, JsonObject, Severity } from '../model/index.ts';
import { acknowledgeAlert, AlertLifecycleError, groupOfflineCohorts, type CohortDimension, type FleetDevice } from '../rules/index.ts';
import type { AlertStore, IndexedDevice } from '../store/alerts.ts';
import type { AlertRow, WebhookDeliveryRow } from '../store/alert-entities.ts';
import type { OperatorRole } from '../store/index.ts';
import { alertView, cached, type AlertLifecycle } from './alert-lifecycle.ts';
import type { CellTowerTable } from './cell-towers.ts';
import { EngineError, InvalidRequestError, NotFoundError } from './errors.ts';
import { iso } from './operator-context.ts';
import { webhookTarget } from './webhook-outbox.ts';

export interface AlertPrincipal {
  name: string;
  role: OperatorRole;
  /** null: every tenant. */
  tenants: readonly string[] | null;
}

export class AlertConflictError extends EngineError {
  constructor(message: string) {
    super(409, 'alert-resolved', message);
  }
}

const MAX_TOWERS_PER_REQUEST = 10_000;
const ALERT_STATUSES = new Set(['open', 'acknowledged', 'resolved', 'active']);
const SEVERITIES = new Set(['info', 'warning', 'critical']);
const COHORT_DIMENSIONS = new Set(['uptime', 'firmware', 'site', 'cell']);
const MAX_OFFLINE_WINDOW_HOURS = 366 * 24;

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

export interface AlertListQuery {
  status?: string;
  severity?: string;
  site?: string;
  rule?: string;
  device?: string;
  limit?: number;
  offset?: number;
}

export interface AlertsOperatorApiOptions {
  alerts: AlertStore;
  lifecycle: AlertLifecycle;
  towers: CellTowerTable;
  authorize(token: string | null, role: OperatorRole): Promise<AlertPrincipal>;
  now(): Date;
  log: Logger;
  /** "Recently offline" for cohort analysis (default 7 days). */
  offlineAnalysisWindowHours?: number;
}

export class AlertsOperatorApi {
  private readonly alerts: AlertStore;

  constructor(private readonly options: AlertsOperatorApiOptions) {
    this.alerts = options.alerts;
  }

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
    this.options.lifecycle.update(updated);
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
    await this.options.towers.refresh();
    return { upserted };
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
