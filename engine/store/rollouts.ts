// Rollouts at run time: throttle slots (taken and released atomically across engine processes), wave
// counts and automatic pauses by campaign, steps in flight, and the expiry of steps never reported back.
import type { DeviceFirmwareState, DeviceStatus, WaveProgress } from '../model/index.ts';
import type { FirmwareEventRecord } from './check-ins.ts';
import type { PgConnection, StoreConnection } from './connection.ts';

export interface RolloutRuntimeState {
  autoPausedReason: string | null;
  waves: WaveProgress[];
}

/** The slot scope of a rollout's total count. */
const TOTAL_SCOPE = '*';

/** Throttle slots: per rollout, a total count and one per cell tower. */
export class ThrottleSlots {
  constructor(private readonly db: StoreConnection) {}

  /**
   * Takes one slot of a rollout's total and, when the cell is known, one of the cell's.
   * Each is an atomic conditional upsert: the row lock serialises concurrent takers in
   * every engine process, so a count never passes its maximum. A total granted and a
   * cell refused is given back.
   */
  async take(slot: {
    rollout: string;
    cell: string | null;
    maxInFlight: number | null;
    maxInFlightPerCell: number | null;
  }): Promise<boolean> {
    const take = async (scope: string, max: number | null): Promise<boolean> => {
      const rows = await this.db.hot(
        'fleetform_take_slot',
        `insert into throttle_slot (rollout, scope, in_flight) select $1, $2, 1 where $3::int is null or $3::int >= 1
         on conflict (rollout, scope) do update set in_flight = throttle_slot.in_flight + 1
         where $3::int is null or throttle_slot.in_flight < $3::int
         returning in_flight`,
        [slot.rollout, scope, max],
      );
      return rows.length > 0;
    };
    if (!(await take(TOTAL_SCOPE, slot.maxInFlight))) return false;
    if (slot.cell !== null && !(await take(slot.cell, slot.maxInFlightPerCell))) {
      await this.release([{ rollout: slot.rollout, cell: null }]);
      return false;
    }
    return true;
  }

  async release(slots: readonly { rollout: string; cell: string | null }[], connection?: PgConnection): Promise<void> {
    const counts = new Map<string, { rollout: string; scope: string; n: number }>();
    for (const slot of slots) {
      for (const scope of slot.cell === null ? [TOTAL_SCOPE] : [TOTAL_SCOPE, slot.cell]) {
        const key = `${slot.rollout}\u0000${scope}`;
        const entry = counts.get(key) ?? { rollout: slot.rollout, scope, n: 0 };
        entry.n += 1;
        counts.set(key, entry);
      }
    }
    if (counts.size === 0) return;
    const rows = [...counts.values()];
    if (connection) {
      // Lock the slot rows in one order before updating them: an UPDATE … FROM locks rows in its join's
      // scan order, so two overlapping batches releasing the same slots could deadlock.
      await connection.query({
        name: 'fleetform_lock_slots',
        text: `select 1 from throttle_slot t
         join jsonb_to_recordset($1::jsonb) as v(rollout text, scope text, n int) on t.rollout = v.rollout and t.scope = v.scope
         order by t.rollout, t.scope for update of t`,
        values: [JSON.stringify(rows)],
      });
    }
    const query = {
      name: 'fleetform_release_slots',
      text: `update throttle_slot t set in_flight = greatest(t.in_flight - v.n, 0)
       from jsonb_to_recordset($1::jsonb) as v(rollout text, scope text, n int)
       where t.rollout = v.rollout and t.scope = v.scope`,
      values: [JSON.stringify(rows)],
    };
    if (connection) await connection.query(query);
    else await this.db.withConnection((c) => c.query(query));
  }

  /** In-flight counts per rollout: total and per cell. */
  async inFlightCounts(rollout: string): Promise<{ total: number; perCell: Map<string, number> }> {
    const rows = await this.db.sql<{ scope: string; in_flight: number }>(
      `select scope, in_flight from throttle_slot where rollout = ?`,
      [rollout],
    );
    const perCell = new Map<string, number>();
    let total = 0;
    for (const row of rows) {
      if (row.scope === TOTAL_SCOPE) total = row.in_flight;
      else if (row.in_flight > 0) perCell.set(row.scope, row.in_flight);
    }
    return { total, perCell };
  }
}

export class RolloutStore {
  constructor(
    private readonly db: StoreConnection,
    private readonly slots: ThrottleSlots,
  ) {}

  /** Wave counts and automatic pauses by rollout campaign (the `rollout` columns hold campaign keys). */
  async loadRuntimes(): Promise<Map<string, RolloutRuntimeState>> {
    const [paused, waves] = await Promise.all([
      this.db.sql<{ rollout: string; auto_paused_reason: string | null }>(`select rollout, auto_paused_reason from rollout_runtime`),
      this.db.sql<{ rollout: string; wave: string; succeeded: number; failed: number }>(
        `select rollout, wave, succeeded, failed from wave_progress order by rollout, wave`,
      ),
    ]);
    const runtimes = new Map<string, RolloutRuntimeState>();
    const entry = (rollout: string): RolloutRuntimeState => {
      let state = runtimes.get(rollout);
      if (!state) {
        state = { autoPausedReason: null, waves: [] };
        runtimes.set(rollout, state);
      }
      return state;
    };
    for (const row of paused) entry(row.rollout).autoPausedReason = row.auto_paused_reason;
    for (const row of waves) entry(row.rollout).waves.push({ wave: row.wave, succeeded: row.succeeded, failed: row.failed });
    return runtimes;
  }

  /** Devices of a rollout with a step in flight, per wave is not stored: per rollout. */
  async stepsInFlight(): Promise<Map<string, number>> {
    const rows = await this.db.sql<{ rollout: string; n: string }>(
      `select in_flight_rollout as rollout, count(*) as n from device where in_flight_rollout is not null group by 1`,
    );
    return new Map(rows.map((r) => [r.rollout, Number(r.n)]));
  }

  /** Devices whose step of `rollout` was issued before `issuedBefore` (epoch ms) and is still in flight: candidates for a timeout. */
  async findExpiredSteps(rollout: string, issuedBefore: number, limit = 5000): Promise<{ id: string; firmwareState: DeviceFirmwareState }[]> {
    const rows = await this.db.sql<{ id: string; firmware_state: DeviceFirmwareState }>(
      `select id, firmware_state from device
       where in_flight_rollout = ? and (firmware_state->'step'->>'issuedAt')::bigint < ? order by id limit ?`,
      [rollout, issuedBefore, limit],
    );
    return rows.map((r) => ({ id: r.id, firmwareState: r.firmware_state }));
  }

  /**
   * Ends a step that was never reported back: new firmware state, its slots released, the event
   * recorded and counted as a failure of its wave — only if the device still holds that step.
   */
  async expireStep(expiry: {
    deviceId: string;
    stepId: string;
    rollout: string;
    cell: string | null;
    wave: string | null;
    /** The rollout's campaign key, where the wave's failure is counted (null: the rollout is gone from git). */
    campaign: string | null;
    firmwareState: DeviceFirmwareState;
    status: DeviceStatus;
    events: FirmwareEventRecord[];
    at: Date;
  }): Promise<boolean> {
    return this.db.withConnection(async (trx) => {
      await trx.query({ text: 'begin' });
      try {
        const updated = await trx.query<{ id: string }>({
          text: `update device set firmware_state = $1::jsonb, status = $2, in_flight_step = null, in_flight_rollout = null
                 where id = $3 and in_flight_step = $4 returning id`,
          values: [JSON.stringify(expiry.firmwareState), expiry.status, expiry.deviceId, expiry.stepId],
        });
        if (updated.rows.length === 0) {
          await trx.query({ text: 'rollback' });
          return false;
        }
        await this.slots.release([{ rollout: expiry.rollout, cell: expiry.cell }], trx);
        for (const event of expiry.events) {
          await trx.query({
            text: `insert into firmware_event (device_id, type, rollout, wave, step_id, component, from_version, to_version, cell, error, at)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            values: [expiry.deviceId, event.type, event.rollout, event.wave, event.stepId, event.component, event.fromVersion, event.toVersion, event.cell, event.error, expiry.at],
          });
        }
        if (expiry.wave !== null && expiry.campaign !== null) {
          await trx.query({
            text: `insert into wave_progress (rollout, wave, succeeded, failed) values ($1, $2, 0, 1)
                   on conflict (rollout, wave) do update set failed = wave_progress.failed + 1`,
            values: [expiry.campaign, expiry.wave],
          });
        }
        await trx.query({ text: 'commit' });
        return true;
      } catch (error) {
        await trx.query({ text: 'rollback' }).catch(() => undefined);
        throw error;
      }
    });
  }
}
