// The alert store: alerts (one active per rule and dedupe key, history kept), the device
// commands and webhook deliveries an opening queues (written in the same transaction), the
// webhook attempts, the offline index sweep and the imported cell tower table.
// Writes happen only when an alert changes state; the check-in hot path reads nothing here.
import { randomUUID } from 'node:crypto';
import type { Knex } from '@mikro-orm/knex';
import type { CellTower, DeviceStatus, FirmwareVersions, JsonObject, Severity } from '../model/index.ts';
import type { AlertRow, AlertRowStatus, WebhookDeliveryRow, WebhookDeliveryStatus } from './alert-entities.ts';
import { translateStoreError } from './errors.ts';
import type { FleetStore } from './store.ts';
import type { FleetDevice } from '../rules/index.ts';

/** An alert as first written: open, not acknowledged, no hold-down running. */
export type NewAlert = Omit<AlertRow, 'status' | 'acknowledgedAt' | 'acknowledgedBy' | 'resolvedAt' | 'clearSince'>;

export interface NewWebhookDelivery {
  event: string;
  url: string;
  /** The rule's SecretValue as written in git (ciphertext or reference); never a plaintext. */
  secret: JsonObject | null;
  body: string;
}

export interface NewAlertCommand {
  deviceId: string;
  type: string;
  params: JsonObject;
}

/** One batch of alert state changes, written in one transaction. */
export interface AlertChanges {
  opens: { alert: NewAlert; commands: NewAlertCommand[]; webhooks: NewWebhookDelivery[] }[];
  /** Hold-down started (clearSince set) or cancelled (null). */
  holdDowns: { id: string; clearSince: Date | null }[];
  resolves: { id: string; at: Date; clearSince: Date; webhooks: NewWebhookDelivery[] }[];
}

export interface AlertChangeResult {
  /** Ids of the alerts actually opened; an open that met an active alert for its key is skipped. */
  opened: string[];
  /** Ids actually resolved (an alert resolved meanwhile by another process is not). */
  resolved: string[];
}

export interface AlertFilter {
  /** null: every tenant. A scoped token never sees alerts without a tenant (cross-tenant fleet groups). */
  tenants: readonly string[] | null;
  status?: AlertRowStatus | 'active';
  severity?: Severity;
  site?: string;
  rule?: string;
  deviceId?: string;
  limit?: number;
  offset?: number;
}

/** A device as the fleet index knows it, for aggregates and cohorts. */
export interface IndexedDevice {
  id: string;
  tenant: string;
  site: string;
  cell: string | null;
  firmware: FirmwareVersions;
  profile: string;
  status: DeviceStatus;
  labels: Record<string, string>;
  lastCheckInAt: Date | null;
  lastUptimeMs: number | null;
  offlineAfterAt: Date | null;
}

/** A device as fleet aggregates see it (the rules core's FleetDevice; uptime is not in the index). */
export type FleetIndexRow = Omit<FleetDevice, 'lastUptimeMs'>;

export interface WebhookAttemptOutcome {
  deliveryId: string;
  attempt: number;
  at: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  status: WebhookDeliveryStatus;
  nextAttemptAt: Date | null;
}

export interface WebhookAttemptView {
  attempt: number;
  at: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

function alertFromRow(row: Record<string, unknown>): AlertRow {
  return {
    id: String(row.id),
    rule: String(row.rule),
    dedupeKey: String(row.dedupe_key),
    scope: row.scope as AlertRow['scope'],
    severity: row.severity as Severity,
    status: row.status as AlertRowStatus,
    tenant: (row.tenant as string | null) ?? null,
    site: (row.site as string | null) ?? null,
    deviceId: (row.device_id as string | null) ?? null,
    summary: String(row.summary),
    details: (row.details as JsonObject | null) ?? {},
    openedAt: toDate(row.opened_at) ?? new Date(0),
    acknowledgedAt: toDate(row.acknowledged_at),
    acknowledgedBy: (row.acknowledged_by as string | null) ?? null,
    resolvedAt: toDate(row.resolved_at),
    clearSince: toDate(row.clear_since),
    holdDownSeconds: Number(row.hold_down_seconds ?? 0),
  };
}

function deliveryFromRow(row: Record<string, unknown>): WebhookDeliveryRow {
  return {
    id: String(row.id),
    alertId: String(row.alert_id),
    rule: String(row.rule),
    event: String(row.event),
    url: String(row.url),
    secret: (row.secret as JsonObject | null) ?? null,
    body: String(row.body),
    status: row.status as WebhookDeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: toDate(row.next_attempt_at),
    lastError: (row.last_error as string | null) ?? null,
    lastStatusCode: row.last_status_code === null || row.last_status_code === undefined ? null : Number(row.last_status_code),
    createdAt: toDate(row.created_at) ?? new Date(0),
    deliveredAt: toDate(row.delivered_at),
  };
}

function indexedDeviceFromRow(row: Record<string, unknown>): IndexedDevice {
  return {
    id: String(row.id),
    tenant: String(row.tenant),
    site: String(row.site),
    cell: (row.last_cell as string | null) ?? null,
    firmware: (row.reported_firmware as FirmwareVersions | null) ?? {},
    profile: String(row.profile),
    status: row.status as DeviceStatus,
    labels: (row.labels as Record<string, string> | null) ?? {},
    lastCheckInAt: toDate(row.last_check_in_at),
    lastUptimeMs: row.last_uptime_ms === null || row.last_uptime_ms === undefined ? null : Number(row.last_uptime_ms),
    offlineAfterAt: toDate(row.offline_after_at),
  };
}

const INDEX_COLUMNS = 'id, tenant, site, last_cell, reported_firmware, profile, status, labels, last_check_in_at, last_uptime_ms, offline_after_at';

export class AlertStore {
  constructor(private readonly fleet: FleetStore) {}

  private get knex(): Knex {
    return this.fleet.orm.em.getConnection().getKnex();
  }

  private async sql<T>(query: string, bindings: readonly unknown[] = [], runner: Knex | Knex.Transaction = this.knex): Promise<T[]> {
    try {
      const result = (await runner.raw(query, bindings as Knex.RawBinding[])) as { rows: T[] };
      return result.rows;
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  // ── alerts ──────────────────────────────────────────────────────────────

  /** Writes one batch of state changes atomically: openings with their commands and webhooks, hold-downs, resolutions. */
  async writeAlertChanges(changes: AlertChanges): Promise<AlertChangeResult> {
    const result: AlertChangeResult = { opened: [], resolved: [] };
    if (changes.opens.length === 0 && changes.holdDowns.length === 0 && changes.resolves.length === 0) return result;
    try {
      await this.knex.transaction(async (trx) => {
        const commands: (NewAlertCommand & { id: string; createdBy: string; at: Date })[] = [];
        const webhooks: (NewWebhookDelivery & { alertId: string; rule: string; at: Date })[] = [];
        if (changes.opens.length > 0) {
          const inserted = await this.sql<{ id: string }>(
            `insert into alert (id, rule, dedupe_key, scope, severity, status, tenant, site, device_id, summary, details, opened_at, hold_down_seconds)
             select id, rule, dedupe_key, scope, severity, 'open', tenant, site, device_id, summary, details, opened_at, hold_down_seconds
             from jsonb_to_recordset(?::jsonb) as v(id text, rule text, dedupe_key text, scope text, severity text, tenant text,
               site text, device_id text, summary text, details jsonb, opened_at timestamptz, hold_down_seconds int)
             on conflict (rule, dedupe_key) where status <> 'resolved' do nothing
             returning id`,
            [
              JSON.stringify(
                changes.opens.map(({ alert: a }) => ({
                  id: a.id,
                  rule: a.rule,
                  dedupe_key: a.dedupeKey,
                  scope: a.scope,
                  severity: a.severity,
                  tenant: a.tenant,
                  site: a.site,
                  device_id: a.deviceId,
                  summary: a.summary,
                  details: a.details,
                  opened_at: a.openedAt,
                  hold_down_seconds: Math.round(a.holdDownSeconds),
                })),
              ),
            ],
            trx,
          );
          const opened = new Set(inserted.map((row) => String(row.id)));
          for (const open of changes.opens) {
            if (!opened.has(open.alert.id)) continue;
            result.opened.push(open.alert.id);
            for (const command of open.commands) commands.push({ ...command, id: randomUUID(), createdBy: `alert:${open.alert.rule}`, at: open.alert.openedAt });
            for (const webhook of open.webhooks) webhooks.push({ ...webhook, alertId: open.alert.id, rule: open.alert.rule, at: open.alert.openedAt });
          }
        }
        if (changes.holdDowns.length > 0) {
          await this.sql(
            // A start keeps an earlier start another engine wrote (its cache may be behind); a cancel clears.
            `update alert a set clear_since = case when v.clear_since is null then null else coalesce(a.clear_since, v.clear_since) end
             from jsonb_to_recordset(?::jsonb) as v(id text, clear_since timestamptz)
             where a.id = v.id and a.status <> 'resolved'`,
            [JSON.stringify(changes.holdDowns.map((h) => ({ id: h.id, clear_since: h.clearSince })))],
            trx,
          );
        }
        if (changes.resolves.length > 0) {
          const resolved = await this.sql<{ id: string; rule: string }>(
            `update alert a set status = 'resolved', resolved_at = v.at, clear_since = v.clear_since
             from jsonb_to_recordset(?::jsonb) as v(id text, at timestamptz, clear_since timestamptz)
             where a.id = v.id and a.status <> 'resolved'
             returning a.id, a.rule`,
            [JSON.stringify(changes.resolves.map((r) => ({ id: r.id, at: r.at, clear_since: r.clearSince })))],
            trx,
          );
          const rules = new Map(resolved.map((row) => [String(row.id), String(row.rule)]));
          for (const resolve of changes.resolves) {
            const rule = rules.get(resolve.id);
            if (rule === undefined) continue;
            result.resolved.push(resolve.id);
            for (const webhook of resolve.webhooks) webhooks.push({ ...webhook, alertId: resolve.id, rule, at: resolve.at });
          }
        }
        if (commands.length > 0) {
          await this.sql(
            `insert into command (id, device_id, type, params, status, created_by, created_at)
             select id, device_id, type, params, 'queued', created_by, created_at
             from jsonb_to_recordset(?::jsonb) as v(id text, device_id text, type text, params jsonb, created_by text, created_at timestamptz)`,
            [JSON.stringify(commands.map((c) => ({ id: c.id, device_id: c.deviceId, type: c.type, params: c.params, created_by: c.createdBy, created_at: c.at })))],
            trx,
          );
        }
        if (webhooks.length > 0) {
          await this.sql(
            `insert into webhook_delivery (id, alert_id, rule, event, url, secret, body, status, attempts, next_attempt_at, created_at)
             select id, alert_id, rule, event, url, secret, body, 'pending', 0, created_at, created_at
             from jsonb_to_recordset(?::jsonb) as v(id text, alert_id text, rule text, event text, url text, secret jsonb, body text, created_at timestamptz)`,
            [
              JSON.stringify(
                webhooks.map((w) => ({ id: randomUUID(), alert_id: w.alertId, rule: w.rule, event: w.event, url: w.url, secret: w.secret, body: w.body, created_at: w.at })),
              ),
            ],
            trx,
          );
        }
      });
    } catch (error) {
      throw translateStoreError(error);
    }
    return result;
  }

  /** Every active (open or acknowledged) alert of a scope. */
  async activeAlerts(scope?: 'device' | 'fleet'): Promise<AlertRow[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select * from alert where status <> 'resolved' ${scope ? 'and scope = ?' : ''}`,
      scope ? [scope] : [],
    );
    return rows.map(alertFromRow);
  }

  async activeAlert(rule: string, dedupeKey: string): Promise<AlertRow | null> {
    const rows = await this.sql<Record<string, unknown>>(`select * from alert where rule = ? and dedupe_key = ? and status <> 'resolved'`, [rule, dedupeKey]);
    return rows[0] ? alertFromRow(rows[0]) : null;
  }

  /** Active alerts whose condition went false (hold-down running), through the partial index. */
  async alertsInHoldDown(): Promise<AlertRow[]> {
    const rows = await this.sql<Record<string, unknown>>(`select * from alert where status <> 'resolved' and clear_since is not null`);
    return rows.map(alertFromRow);
  }

  async getAlert(id: string): Promise<AlertRow | null> {
    const rows = await this.sql<Record<string, unknown>>(`select * from alert where id = ?`, [id]);
    return rows[0] ? alertFromRow(rows[0]) : null;
  }

  async listAlerts(filter: AlertFilter): Promise<AlertRow[]> {
    const where: string[] = [];
    const bindings: unknown[] = [];
    if (filter.tenants) {
      where.push('tenant in (select jsonb_array_elements_text(?::jsonb))');
      bindings.push(JSON.stringify(filter.tenants));
    }
    if (filter.status === 'active') where.push(`status <> 'resolved'`);
    else if (filter.status !== undefined) {
      where.push('status = ?');
      bindings.push(filter.status);
    }
    for (const [column, value] of [
      ['severity', filter.severity],
      ['site', filter.site],
      ['rule', filter.rule],
      ['device_id', filter.deviceId],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        bindings.push(value);
      }
    }
    bindings.push(filter.limit ?? 100, filter.offset ?? 0);
    const rows = await this.sql<Record<string, unknown>>(
      `select * from alert ${where.length ? `where ${where.join(' and ')}` : ''} order by opened_at desc, id limit ? offset ?`,
      bindings,
    );
    return rows.map(alertFromRow);
  }

  /** open → acknowledged; null when the alert was resolved meanwhile. */
  async acknowledge(id: string, by: string, at: Date): Promise<AlertRow | null> {
    const rows = await this.sql<Record<string, unknown>>(
      `update alert set status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? where id = ? and status = 'open' returning *`,
      [at, by, id],
    );
    if (rows[0]) return alertFromRow(rows[0]);
    const current = await this.getAlert(id);
    return current && current.status === 'acknowledged' ? current : null;
  }

  /** Active alerts by rule, severity and status: the metrics gauge. */
  async activeAlertCounts(): Promise<{ rule: string; severity: string; status: string; n: number }[]> {
    const rows = await this.sql<{ rule: string; severity: string; status: string; n: string }>(
      `select rule, severity, status, count(*) as n from alert where status <> 'resolved' group by 1, 2, 3`,
    );
    return rows.map((r) => ({ rule: r.rule, severity: r.severity, status: r.status, n: Number(r.n) }));
  }

  // ── the device index: offline sweep, aggregates, cohorts ─────────────────

  /** Marks devices past their offline deadline offline (the partial index on offline_after_at); returns them. */
  async markOffline(now: Date): Promise<IndexedDevice[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `update device set status = 'offline' where status <> 'offline' and offline_after_at < ? returning ${INDEX_COLUMNS}`,
      [now],
    );
    return rows.map(indexedDeviceFromRow);
  }

  /** What fleet aggregates need of every device: columns of the device table, no telemetry. */
  async fleetIndex(): Promise<FleetIndexRow[]> {
    // Only what the aggregates group and measure by: the sweep reads every device.
    const rows = await this.sql<{ id: string; site: string; last_cell: string | null; reported_firmware: Record<string, string>; profile: string; status: DeviceStatus; last_check_in_at: unknown }>(
      `select id, site, last_cell, reported_firmware, profile, status, last_check_in_at from device where status <> 'pending'`,
    );
    return rows.map((r) => ({
      id: r.id,
      site: r.site,
      cell: r.last_cell,
      firmware: r.reported_firmware,
      profile: r.profile,
      status: r.status,
      lastCheckInAt: toDate(r.last_check_in_at)?.getTime() ?? null,
    }));
  }

  /** Devices offline whose deadline passed since `since` (recently gone dark), within the tenants. */
  async recentlyOffline(since: Date, tenants: readonly string[] | null): Promise<IndexedDevice[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select ${INDEX_COLUMNS} from device where status = 'offline' and offline_after_at >= ? ${tenants ? 'and tenant in (select jsonb_array_elements_text(?::jsonb))' : ''}`,
      tenants ? [since, JSON.stringify(tenants)] : [since],
    );
    return rows.map(indexedDeviceFromRow);
  }

  // ── webhook deliveries ──────────────────────────────────────────────────

  /**
   * Claims due deliveries: their next attempt is pushed to `leaseUntil`, so another worker (or
   * this one after a crash) only retries them once the lease ran out. SKIP LOCKED keeps two
   * engines from claiming the same row.
   */
  async claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<WebhookDeliveryRow[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `update webhook_delivery d set next_attempt_at = ?
       from (select id from webhook_delivery where status = 'pending' and next_attempt_at <= ?
             order by next_attempt_at limit ? for update skip locked) due
       where d.id = due.id returning d.*`,
      [leaseUntil, now, limit],
    );
    return rows.map(deliveryFromRow).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async recordWebhookAttempt(outcome: WebhookAttemptOutcome): Promise<void> {
    try {
      await this.knex.transaction(async (trx) => {
        await this.sql(
          `insert into webhook_attempt (delivery_id, attempt, at, status_code, error, duration_ms) values (?, ?, ?, ?, ?, ?)`,
          [outcome.deliveryId, outcome.attempt, outcome.at, outcome.statusCode, outcome.error, Math.round(outcome.durationMs)],
          trx,
        );
        await this.sql(
          `update webhook_delivery set attempts = ?, status = ?, next_attempt_at = ?, last_error = ?, last_status_code = ?,
             delivered_at = case when ? = 'delivered' then ?::timestamptz else delivered_at end
           where id = ?`,
          [outcome.attempt, outcome.status, outcome.nextAttemptAt, outcome.error, outcome.statusCode, outcome.status, outcome.at, outcome.deliveryId],
          trx,
        );
      });
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  async deliveriesForAlert(alertId: string): Promise<WebhookDeliveryRow[]> {
    const rows = await this.sql<Record<string, unknown>>(`select * from webhook_delivery where alert_id = ? order by created_at, id`, [alertId]);
    return rows.map(deliveryFromRow);
  }

  async webhookAttempts(deliveryId: string): Promise<WebhookAttemptView[]> {
    const rows = await this.sql<Record<string, unknown>>(`select * from webhook_attempt where delivery_id = ? order by attempt`, [deliveryId]);
    return rows.map((r) => ({
      attempt: Number(r.attempt),
      at: toDate(r.at) ?? new Date(0),
      statusCode: r.status_code === null ? null : Number(r.status_code),
      error: (r.error as string | null) ?? null,
      durationMs: Number(r.duration_ms),
    }));
  }

  // ── cell towers ─────────────────────────────────────────────────────────

  /** Upsert by mcc-mnc-lac-cid; one statement per batch. */
  async upsertCellTowers(towers: readonly CellTower[], at: Date): Promise<number> {
    if (towers.length === 0) return 0;
    // Last one wins within a batch: ON CONFLICT cannot touch a row twice in one statement.
    const unique = new Map<string, CellTower>();
    for (const t of towers) unique.set(`${t.mcc}-${t.mnc}-${t.lac}-${t.cid}`, t);
    const rows = await this.sql<{ mcc: number }>(
      `insert into cell_tower (mcc, mnc, lac, cid, lat, lon, range_m, updated_at)
       select mcc, mnc, lac, cid, lat, lon, range_m, ? from jsonb_to_recordset(?::jsonb)
         as v(mcc int, mnc int, lac int, cid bigint, lat float8, lon float8, range_m float8)
       on conflict (mcc, mnc, lac, cid) do update set lat = excluded.lat, lon = excluded.lon, range_m = excluded.range_m,
         updated_at = excluded.updated_at
       returning mcc`,
      [at, JSON.stringify([...unique.values()].map((t) => ({ mcc: t.mcc, mnc: t.mnc, lac: t.lac, cid: t.cid, lat: t.lat, lon: t.lon, range_m: t.rangeM ?? null })))],
    );
    return rows.length;
  }

  /** A cheap fingerprint of the table: reload the in-memory index only when it changed. */
  async cellTowerVersion(): Promise<string> {
    const rows = await this.sql<{ n: string; latest: unknown }>(`select count(*) as n, max(updated_at) as latest from cell_tower`);
    const row = rows[0];
    return row ? `${row.n}:${toDate(row.latest)?.toISOString() ?? ''}` : '0:';
  }

  async loadCellTowers(): Promise<CellTower[]> {
    const rows = await this.sql<{ mcc: number; mnc: number; lac: number; cid: string; lat: number; lon: number; range_m: number | null }>(
      `select mcc, mnc, lac, cid, lat, lon, range_m from cell_tower`,
    );
    return rows.map((r) => ({
      mcc: r.mcc,
      mnc: r.mnc,
      lac: r.lac,
      cid: Number(r.cid),
      lat: r.lat,
      lon: r.lon,
      ...(r.range_m !== null ? { rangeM: r.range_m } : {}),
    }));
  }
}
