// Devices: registration (one or in bulk), device tokens (rotate, revoke), reads and listings for
// operators, rollout membership, counts by status, the offline sweep and a device's firmware history.
import type { DeviceFirmwareState, DeviceStatus, JsonObject } from '../model/index.ts';
import type { DeviceRow, FirmwareEventRow } from './entities.ts';
import { DeviceExistsError } from './errors.ts';
import { toDate, type StoreConnection } from './connection.ts';

export interface NewDevice {
  id: string;
  tenant: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  configOverride?: JsonObject | null;
  tokenHash: string;
  firmwareState: DeviceFirmwareState;
}

export interface DeviceFilter {
  /** null: every tenant. */
  tenants: readonly string[] | null;
  site?: string;
  profile?: string;
  status?: string;
  limit?: number;
  offset?: number;
}

export class DeviceStore {
  constructor(private readonly db: StoreConnection) {}

  async register(device: NewDevice): Promise<void> {
    const inserted = await this.db.sql<{ id: string }>(
      `insert into device (id, tenant, profile, site, labels, config_override, token_hash, firmware_state)
       values (?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?::jsonb) on conflict (id) do nothing returning id`,
      [
        device.id,
        device.tenant,
        device.profile,
        device.site,
        JSON.stringify(device.labels),
        device.configOverride ? JSON.stringify(device.configOverride) : null,
        device.tokenHash,
        JSON.stringify(device.firmwareState),
      ],
    );
    if (inserted.length === 0) throw new DeviceExistsError(device.id);
  }

  /** Bulk registration (provisioning, benchmarks): one multi-row insert per call. */
  async insertMany(devices: readonly NewDevice[]): Promise<void> {
    if (devices.length === 0) return;
    await this.db.sql(
      `insert into device (id, tenant, profile, site, labels, config_override, token_hash, firmware_state)
       select id, tenant, profile, site, labels, config_override, token_hash, firmware_state
       from jsonb_to_recordset(?::jsonb) as v(id text, tenant text, profile text, site text, labels jsonb,
         config_override jsonb, token_hash text, firmware_state jsonb)
       on conflict (id) do nothing`,
      [
        JSON.stringify(
          devices.map((d) => ({
            id: d.id,
            tenant: d.tenant,
            profile: d.profile,
            site: d.site,
            labels: d.labels,
            config_override: d.configOverride ?? null,
            token_hash: d.tokenHash,
            firmware_state: d.firmwareState,
          })),
        ),
      ],
    );
  }

  /** Replaces the token hash; the old token stops working at once. */
  async rotateToken(id: string, tokenHash: string, at: Date): Promise<boolean> {
    const rows = await this.db.sql(
      `update device set token_hash = ?, token_rotated_at = ?, token_revoked_at = null where id = ? returning id`,
      [tokenHash, at, id],
    );
    return rows.length > 0;
  }

  async revokeToken(id: string, at: Date): Promise<boolean> {
    const rows = await this.db.sql(`update device set token_revoked_at = ? where id = ? returning id`, [at, id]);
    return rows.length > 0;
  }

  async get(id: string): Promise<DeviceRow | null> {
    const rows = await this.db.sql<Record<string, unknown>>(`select * from device where id = ?`, [id]);
    return rows[0] ? deviceFromRow(rows[0]) : null;
  }

  async list(filter: DeviceFilter): Promise<DeviceRow[]> {
    const where: string[] = [];
    const bindings: unknown[] = [];
    if (filter.tenants) {
      where.push('tenant = any(?)');
      bindings.push([...filter.tenants]);
    }
    for (const [column, value] of [
      ['site', filter.site],
      ['profile', filter.profile],
      ['status', filter.status],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        bindings.push(value);
      }
    }
    bindings.push(filter.limit ?? 100, filter.offset ?? 0);
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from device ${where.length ? `where ${where.join(' and ')}` : ''} order by id limit ? offset ?`,
      bindings,
    );
    return rows.map(deviceFromRow);
  }

  /** Every device's identity and rollout-relevant state, for per-wave views (operator side, not the hot path). */
  async membership(tenants: readonly string[] | null): Promise<
    { id: string; profile: string; site: string; labels: Record<string, string>; status: string; inFlightRollout: string | null }[]
  > {
    const rows = await this.db.sql<{ id: string; profile: string; site: string; labels: Record<string, string>; status: string; in_flight_rollout: string | null }>(
      `select id, profile, site, labels, status, in_flight_rollout from device ${tenants ? 'where tenant = any(?)' : ''}`,
      tenants ? [[...tenants]] : [],
    );
    return rows.map((r) => ({ id: r.id, profile: r.profile, site: r.site, labels: r.labels, status: r.status, inFlightRollout: r.in_flight_rollout }));
  }

  /** Marks devices that missed their check-ins offline; indexed by offline_after_at. */
  async sweepOffline(now: Date): Promise<number> {
    const rows = await this.db.sql(
      `update device set status = 'offline' where status <> 'offline' and offline_after_at < ? returning id`,
      [now],
    );
    return rows.length;
  }

  async countByStatus(): Promise<Map<string, number>> {
    const rows = await this.db.sql<{ status: string; n: string }>(`select status, count(*) as n from device group by status`);
    return new Map(rows.map((r) => [r.status, Number(r.n)]));
  }

  async firmwareHistory(deviceId: string, limit = 100): Promise<FirmwareEventRow[]> {
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from firmware_event where device_id = ? order by at desc, id desc limit ?`,
      [deviceId, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      deviceId: String(r.device_id),
      type: String(r.type),
      rollout: (r.rollout as string | null) ?? null,
      wave: (r.wave as string | null) ?? null,
      stepId: (r.step_id as string | null) ?? null,
      component: (r.component as string | null) ?? null,
      fromVersion: (r.from_version as string | null) ?? null,
      toVersion: (r.to_version as string | null) ?? null,
      cell: (r.cell as string | null) ?? null,
      error: (r.error as string | null) ?? null,
      at: toDate(r.at) ?? new Date(0),
    }));
  }
}

function deviceFromRow(row: Record<string, unknown>): DeviceRow {
  return {
    id: String(row.id),
    tenant: String(row.tenant),
    profile: String(row.profile),
    site: String(row.site),
    labels: row.labels as Record<string, string>,
    configOverride: (row.config_override as JsonObject | null) ?? null,
    tokenHash: String(row.token_hash),
    tokenRevokedAt: toDate(row.token_revoked_at),
    tokenRotatedAt: toDate(row.token_rotated_at),
    registeredAt: toDate(row.registered_at) ?? new Date(0),
    status: row.status as DeviceStatus,
    reportedFirmware: row.reported_firmware as Record<string, string>,
    reportedConfigHash: (row.reported_config_hash as string | null) ?? null,
    reportedState: (row.reported_state as JsonObject | null) ?? null,
    desiredConfigHash: (row.desired_config_hash as string | null) ?? null,
    firmwareState: row.firmware_state as DeviceFirmwareState,
    inFlightStep: (row.in_flight_step as string | null) ?? null,
    inFlightRollout: (row.in_flight_rollout as string | null) ?? null,
    lastRevision: (row.last_revision as string | null) ?? null,
    lastCheckInAt: toDate(row.last_check_in_at),
    lastCell: (row.last_cell as string | null) ?? null,
    lastLocation: (row.last_location as JsonObject | null) ?? null,
    lastUptimeMs: row.last_uptime_ms === null || row.last_uptime_ms === undefined ? null : String(row.last_uptime_ms),
    nextExpectedAt: toDate(row.next_expected_at),
    offlineAfterAt: toDate(row.offline_after_at),
  };
}
