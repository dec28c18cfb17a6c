// The check-in path's store: the batched context read (one query for the reads of a tick) and the
// group-commit writer (the check-ins that arrive meanwhile, one transaction, a few multi-row statements).
import type { Command, DeviceFirmwareState, DeviceStatus, JsonObject, JsonValue } from '../model/index.ts';
import { translateStoreError } from './errors.ts';
import { toDate, type PgConnection, type StoreConnection } from './connection.ts';
import type { ThrottleSlots } from './rollouts.ts';

/** What the check-in path reads about a device, in one query. */
export interface CheckInContext {
  id: string;
  tenant: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  configOverride: JsonObject | null;
  tokenHash: string;
  tokenRevoked: boolean;
  firmwareState: DeviceFirmwareState;
  lastCheckInAt: Date | null;
  pendingCommands: Command[];
}

export interface FirmwareEventRecord {
  type: string;
  rollout: string | null;
  wave: string | null;
  stepId: string | null;
  component: string | null;
  fromVersion: string | null;
  toVersion: string | null;
  cell: string | null;
  error: string | null;
}

/** Everything one check-in writes; written in a batch with others, before the answer goes out. */
export interface CheckInRecord {
  deviceId: string;
  receivedAt: Date;
  revision: string | null;
  reported: JsonObject;
  telemetry: JsonObject;
  battery: number | null;
  cell: string | null;
  status: DeviceStatus;
  reportedFirmware: Record<string, string>;
  reportedConfigHash: string | null;
  reportedState: JsonObject | null;
  desiredConfigHash: string | null;
  firmwareState: DeviceFirmwareState;
  location: JsonObject | null;
  uptimeMs: number | null;
  nextExpectedAt: Date;
  offlineAfterAt: Date;
  events: FirmwareEventRecord[];
  deliveredCommandIds: string[];
  commandResults: { id: string; status: string; output: JsonValue | null }[];
  /** Slots of a step that ended at this check-in. */
  releasedSlot: { rollout: string; cell: string | null; stepId: string } | null;
  /** Keyed by the rollout's campaign (rolloutCampaign: name + spec hash), not its name: a changed rollout starts fresh. */
  waveResults: { campaign: string; wave: string; succeeded: number; failed: number }[];
  autoPause: { campaign: string; reason: string } | null;
}

const MAX_CONCURRENT_FLUSHES = 4;
/** Attempts of a group commit that PostgreSQL rolled back for a deadlock or serialization failure. */
const MAX_BATCH_ATTEMPTS = 3;

function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}
const READ_BATCH_SIZE = 256;

interface PendingWrite {
  record: CheckInRecord;
  resolve(): void;
  reject(error: unknown): void;
}

export interface CheckInBatching {
  /** Max check-ins per group commit (default 500). */
  batchSize?: number;
  /** How long the first check-in of a batch waits for company, ms (default 2). */
  batchDelayMs?: number;
}

export class CheckInStore {
  private queue: PendingWrite[] = [];
  private pendingReads = new Map<string, { resolve(context: CheckInContext | null): void; reject(error: unknown): void }[]>();
  private readScheduled = false;
  /** Batches being written now; up to four overlap so commit round trips (and fsyncs) hide behind other batches. */
  private flushing = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly batchSize: number;
  private readonly batchDelayMs: number;

  constructor(
    private readonly db: StoreConnection,
    private readonly slots: ThrottleSlots,
    options: CheckInBatching,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.batchDelayMs = options.batchDelayMs ?? 2;
  }

  /** Writes every queued check-in (shutdown). */
  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flushAll();
  }

  /**
   * The check-in read: device, token hash, firmware state and undelivered/unanswered commands.
   * Reads that arrive in the same tick share one query: per-check-in round trips (and the
   * syscalls behind them) were the largest cost of the check-in path.
   */
  loadContext(id: string): Promise<CheckInContext | null> {
    return new Promise((resolve, reject) => {
      const waiting = this.pendingReads.get(id);
      if (waiting) waiting.push({ resolve, reject });
      else this.pendingReads.set(id, [{ resolve, reject }]);
      if (this.pendingReads.size >= READ_BATCH_SIZE) this.flushReads();
      else if (!this.readScheduled) {
        this.readScheduled = true;
        setImmediate(() => this.flushReads());
      }
    });
  }

  private flushReads(): void {
    this.readScheduled = false;
    if (this.pendingReads.size === 0) return;
    const batch = this.pendingReads;
    this.pendingReads = new Map();
    this.db.hot<Record<string, unknown>>(
      'fleetform_check_in_contexts',
      `select d.id, d.tenant, d.profile, d.site, d.labels, d.config_override, d.token_hash,
              d.token_revoked_at is not null as token_revoked, d.firmware_state, d.last_check_in_at,
              coalesce((select json_agg(json_build_object('id', c.id, 'type', c.type, 'params', c.params) order by c.created_at)
                        from command c where c.device_id = d.id and c.status in ('queued', 'delivered')), '[]'::json) as commands
       from device d where d.id = any($1::text[])`,
      [[...batch.keys()]],
    ).then(
      (rows) => {
        const byId = new Map(rows.map((row) => [String(row.id), contextFromRow(row)]));
        for (const [id, waiters] of batch) for (const waiter of waiters) waiter.resolve(byId.get(id) ?? null);
      },
      (error: unknown) => {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  // ── check-in writes: group commit ────────────────────────────────────────

  /**
   * Stores a check-in. Resolves once it is committed, together with the other
   * check-ins that arrived meanwhile (one transaction, a few multi-row statements).
   */
  record(record: CheckInRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (this.queue.length >= this.batchSize) this.kick();
      else if (!this.timer && this.flushing < MAX_CONCURRENT_FLUSHES) this.timer = setTimeout(() => this.kick(), this.batchDelayMs);
    });
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing >= MAX_CONCURRENT_FLUSHES || this.queue.length === 0) return;
    this.flushing += 1;
    const batch = this.queue.splice(0, this.batchSize);
    this.writeBatch(batch.map((p) => p.record))
      .then(
        () => batch.forEach((p) => p.resolve()),
        (error: unknown) => {
          const translated = translateStoreError(error);
          batch.forEach((p) => p.reject(translated));
        },
      )
      .finally(() => {
        this.flushing -= 1;
        if (this.queue.length > 0) this.kick();
      });
  }

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0 || this.flushing > 0) {
      this.kick();
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  private async writeBatch(records: readonly CheckInRecord[]): Promise<void> {
    // Two check-ins of one device in a batch: the device row takes the later one.
    const latest = new Map<string, CheckInRecord>();
    for (const record of records) latest.set(record.deviceId, record);
    // Device rows updated in id order: overlapping batches lock them in one order.
    const devices = [...latest.values()].sort((x, y) => (x.deviceId < y.deviceId ? -1 : x.deviceId > y.deviceId ? 1 : 0));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.withConnection(async (trx) => {
          await trx.query({ text: 'begin' });
          try {
            await this.writeBatchStatements(trx, records, devices);
            await trx.query({ text: 'commit' });
          } catch (error) {
            await trx.query({ text: 'rollback' }).catch(() => undefined);
            throw error;
          }
        });
        return;
      } catch (error) {
        // A deadlock or serialization failure rolled the whole batch back: nothing was written, so it is
        // safe to write it again rather than fail every check-in in it.
        if (attempt >= MAX_BATCH_ATTEMPTS || !isRetryableConflict(error)) throw error;
      }
    }
  }

  private async writeBatchStatements(trx: PgConnection, records: readonly CheckInRecord[], devices: readonly CheckInRecord[]): Promise<void> {
    // Each statement takes its rows as one JSON parameter: one round trip whatever the batch size.
    const run = (name: string, text: string, rows: readonly unknown[]): Promise<unknown> =>
      trx.query({ name, text, values: [JSON.stringify(rows)] });
    // A slot is given back only while the device row still holds that step (row locked): the
    // step-timeout sweep may have ended it meanwhile, and a slot must never be released twice.
    const released = records.flatMap((r) => (r.releasedSlot ? [{ deviceId: r.deviceId, ...r.releasedSlot }] : []));
    let releasable: { rollout: string; cell: string | null }[] = [];
    if (released.length > 0) {
      const held = await trx.query<{ id: string; in_flight_step: string | null }>({
        name: 'fleetform_lock_in_flight',
        text: 'select id, in_flight_step from device where id = any($1::text[]) order by id for update',
        values: [[...new Set(released.map((r) => r.deviceId))]],
      });
      const current = new Set(held.rows.map((row) => `${row.id}\u0000${row.in_flight_step ?? ''}`));
      releasable = released.filter((r) => current.has(`${r.deviceId}\u0000${r.stepId}`));
    }
    await run(
      'fleetform_insert_check_ins',
      `insert into check_in (device_id, received_at, revision, reported, telemetry, battery, cell, location)
       select device_id, received_at, revision, reported, telemetry, battery, cell, location
       from jsonb_to_recordset($1::jsonb) as v(device_id text, received_at timestamptz, revision text,
         reported jsonb, telemetry jsonb, battery real, cell text, location jsonb)`,
      records.map((r) => ({
        device_id: r.deviceId,
        received_at: r.receivedAt,
        revision: r.revision,
        reported: r.reported,
        telemetry: r.telemetry,
        battery: r.battery,
        cell: r.cell,
        location: r.location,
      })),
    );
    await run(
      'fleetform_update_devices',
      `update device d set status = v.status, reported_firmware = v.reported_firmware,
         reported_config_hash = v.reported_config_hash, reported_state = coalesce(v.reported_state, d.reported_state),
         desired_config_hash = v.desired_config_hash, firmware_state = v.firmware_state,
         in_flight_step = v.firmware_state->'step'->>'id', in_flight_rollout = v.firmware_state->'step'->>'rollout',
         last_revision = v.revision, last_check_in_at = v.received_at, last_cell = coalesce(v.cell, d.last_cell),
         last_location = coalesce(v.location, d.last_location), last_uptime_ms = coalesce(v.uptime_ms, d.last_uptime_ms),
         next_expected_at = v.next_expected_at, offline_after_at = v.offline_after_at
       from jsonb_to_recordset($1::jsonb) as v(id text, status text, reported_firmware jsonb, reported_config_hash text,
         reported_state jsonb, desired_config_hash text, firmware_state jsonb, revision text, received_at timestamptz,
         cell text, location jsonb, uptime_ms bigint, next_expected_at timestamptz, offline_after_at timestamptz)
       where d.id = v.id`,
      devices.map((r) => ({
        id: r.deviceId,
        status: r.status,
        reported_firmware: r.reportedFirmware,
        reported_config_hash: r.reportedConfigHash,
        reported_state: r.reportedState,
        desired_config_hash: r.desiredConfigHash,
        firmware_state: r.firmwareState,
        revision: r.revision,
        received_at: r.receivedAt,
        cell: r.cell,
        location: r.location,
        uptime_ms: r.uptimeMs,
        next_expected_at: r.nextExpectedAt,
        offline_after_at: r.offlineAfterAt,
      })),
    );
    const events = records.flatMap((r) =>
      r.events.map((e) => ({
        device_id: r.deviceId,
        type: e.type,
        rollout: e.rollout,
        wave: e.wave,
        step_id: e.stepId,
        component: e.component,
        from_version: e.fromVersion,
        to_version: e.toVersion,
        cell: e.cell,
        error: e.error,
        at: r.receivedAt,
      })),
    );
    if (events.length > 0) {
      await run(
        'fleetform_insert_events',
        `insert into firmware_event (device_id, type, rollout, wave, step_id, component, from_version, to_version, cell, error, at)
         select device_id, type, rollout, wave, step_id, component, from_version, to_version, cell, error, at
         from jsonb_to_recordset($1::jsonb) as v(device_id text, type text, rollout text, wave text, step_id text,
           component text, from_version text, to_version text, cell text, error text, at timestamptz)`,
        events,
      );
    }
    const delivered = records.flatMap((r) => r.deliveredCommandIds.map((id) => ({ id, device_id: r.deviceId, at: r.receivedAt })));
    if (delivered.length > 0) {
      await run(
        'fleetform_deliver_commands',
        `update command c set status = 'delivered', delivered_at = v.at
         from jsonb_to_recordset($1::jsonb) as v(id text, device_id text, at timestamptz)
         where c.id = v.id and c.device_id = v.device_id and c.status = 'queued'`,
        delivered,
      );
    }
    const results = records.flatMap((r) =>
      r.commandResults.map((c) => ({ id: c.id, device_id: r.deviceId, status: c.status, output: c.output, at: r.receivedAt })),
    );
    if (results.length > 0) {
      // A device answers only for its own commands: the device id is part of the match.
      await run(
        'fleetform_command_results',
        `update command c set status = v.status, output = v.output, completed_at = v.at
         from jsonb_to_recordset($1::jsonb) as v(id text, device_id text, status text, output jsonb, at timestamptz)
         where c.id = v.id and c.device_id = v.device_id and c.status in ('queued', 'delivered')`,
        results,
      );
    }
    if (releasable.length > 0) await this.slots.release(releasable, trx);
    const waves = records.flatMap((r) => r.waveResults);
    if (waves.length > 0) {
      await run(
        'fleetform_wave_progress',
        `insert into wave_progress (rollout, wave, succeeded, failed)
         select campaign, wave, sum(succeeded), sum(failed)
         from jsonb_to_recordset($1::jsonb) as v(campaign text, wave text, succeeded int, failed int)
         group by campaign, wave order by campaign, wave
         on conflict (rollout, wave) do update set succeeded = wave_progress.succeeded + excluded.succeeded,
           failed = wave_progress.failed + excluded.failed`,
        waves,
      );
    }
    const pauses = records.flatMap((r) => (r.autoPause ? [{ campaign: r.autoPause.campaign, reason: r.autoPause.reason, at: r.receivedAt }] : []));
    if (pauses.length > 0) {
      await run(
        'fleetform_auto_pause',
        `insert into rollout_runtime (rollout, auto_paused_reason, auto_paused_at)
         select distinct on (campaign) campaign, reason, at from jsonb_to_recordset($1::jsonb) as v(campaign text, reason text, at timestamptz)
         order by campaign, at
         on conflict (rollout) do update set auto_paused_reason = excluded.auto_paused_reason,
           auto_paused_at = excluded.auto_paused_at where rollout_runtime.auto_paused_reason is null`,
        pauses,
      );
    }
  }

  async count(deviceId?: string): Promise<number> {
    const rows = await this.db.sql<{ n: string }>(
      deviceId ? `select count(*) as n from check_in where device_id = ?` : `select count(*) as n from check_in`,
      deviceId ? [deviceId] : [],
    );
    return Number(rows[0]?.n ?? 0);
  }
}

function contextFromRow(row: Record<string, unknown>): CheckInContext {
  return {
    id: String(row.id),
    tenant: String(row.tenant),
    profile: String(row.profile),
    site: String(row.site),
    labels: row.labels as Record<string, string>,
    configOverride: (row.config_override as JsonObject | null) ?? null,
    tokenHash: String(row.token_hash),
    tokenRevoked: row.token_revoked === true,
    firmwareState: row.firmware_state as DeviceFirmwareState,
    lastCheckInAt: toDate(row.last_check_in_at),
    pendingCommands: row.commands as Command[],
  };
}
