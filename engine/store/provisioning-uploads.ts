// Uploaded provisioning logs, parsed as they streamed in and kept in chunks until a job reads
// them (or a day passes); and the carriers' token buckets, shared by every engine process.
import type { Knex } from '@mikro-orm/knex';
import type { FleetStore } from './store.ts';
import { translateStoreError } from './errors.ts';

export interface UploadRow {
  id: string;
  createdByToken: string;
  createdAt: Date;
  log: 'manufacturing' | 'shipments';
  format: 'csv' | 'jsonl';
  delimiter: string | null;
  status: 'receiving' | 'complete';
  bytes: number;
  rows: number;
  failed: number;
}

/** Uploads older than this are deleted (a job reads its uploads within moments). */
const UPLOAD_TTL = "interval '1 day'";

export class ProvisioningUploadStore {
  constructor(private readonly fleet: FleetStore) {}

  private get knex(): Knex {
    return this.fleet.orm.em.getConnection().getKnex();
  }

  private async sql<T>(query: string, bindings: readonly unknown[] = []): Promise<T[]> {
    try {
      const result = (await this.knex.raw(query, bindings as Knex.RawBinding[])) as { rows: T[] };
      return result.rows;
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  /** Starts an upload (and forgets expired ones). */
  async begin(upload: { id: string; createdByToken: string; log: string; format: string }): Promise<void> {
    await this.sql(`delete from provisioning_upload where created_at < now() - ${UPLOAD_TTL}`);
    await this.sql(`insert into provisioning_upload (id, created_by_token, log, format, status) values (?, ?, ?, ?, 'receiving')`, [
      upload.id,
      upload.createdByToken,
      upload.log,
      upload.format,
    ]);
  }

  async appendChunk(id: string, seq: number, rows: readonly unknown[], failures: readonly unknown[]): Promise<void> {
    await this.sql(`insert into provisioning_upload_chunk (upload_id, seq, rows, failures) values (?, ?, ?, ?)`, [
      id,
      seq,
      JSON.stringify(rows),
      JSON.stringify(failures),
    ]);
  }

  async complete(id: string, totals: { bytes: number; rows: number; failed: number; delimiter: string | null }): Promise<void> {
    await this.sql(`update provisioning_upload set status = 'complete', bytes = ?, rows = ?, failed = ?, delimiter = ? where id = ?`, [
      totals.bytes,
      totals.rows,
      totals.failed,
      totals.delimiter,
      id,
    ]);
  }

  async remove(id: string): Promise<void> {
    await this.sql(`delete from provisioning_upload where id = ?`, [id]);
  }

  async get(id: string): Promise<UploadRow | null> {
    const rows = await this.sql<Record<string, unknown>>(`select * from provisioning_upload where id = ?`, [id]);
    const row = rows[0];
    if (!row) return null;
    return {
      id: String(row.id),
      createdByToken: String(row.created_by_token),
      createdAt: row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at)),
      log: row.log as UploadRow['log'],
      format: row.format as UploadRow['format'],
      delimiter: (row.delimiter as string | null) ?? null,
      status: row.status as UploadRow['status'],
      bytes: Number(row.bytes),
      rows: Number(row.rows),
      failed: Number(row.failed),
    };
  }

  /** The upload's parsed rows and failures, in order. */
  async content<R, F>(id: string): Promise<{ rows: R[]; failures: F[] }> {
    const chunks = await this.sql<{ rows: string; failures: string }>(`select rows, failures from provisioning_upload_chunk where upload_id = ? order by seq`, [id]);
    const rows: R[] = [];
    const failures: F[] = [];
    for (const chunk of chunks) {
      for (const row of JSON.parse(chunk.rows) as R[]) rows.push(row);
      for (const failure of JSON.parse(chunk.failures) as F[]) failures.push(failure);
    }
    return { rows, failures };
  }
}

/**
 * A token bucket per carrier in one row: every engine process takes from it, so N processes
 * together stay within the carrier's declared rate. Refilled on the database's clock.
 */
export class CarrierRateBuckets {
  constructor(private readonly fleet: FleetStore) {}

  private get knex(): Knex {
    return this.fleet.orm.em.getConnection().getKnex();
  }

  /** Grants up to `wanted` activations now; says how long to wait for the next one when none is granted. */
  async take(carrier: string, limit: { perSecond: number; burst: number }, wanted: number): Promise<{ granted: number; waitMs: number }> {
    try {
      const result = (await this.knex.raw(
        `with seeded as (
           insert into provisioning_rate_bucket (carrier, tokens, updated_at) values (?, ?, clock_timestamp())
           on conflict (carrier) do nothing returning carrier
         ),
         current as (
           select carrier, least(?::float8, tokens + greatest(0, extract(epoch from clock_timestamp() - updated_at)) * ?::float8) as available
           from provisioning_rate_bucket where carrier = ? for update
         )
         update provisioning_rate_bucket b
            set tokens = c.available - greatest(0, least(?::int, floor(c.available)::int)), updated_at = clock_timestamp()
           from current c where b.carrier = c.carrier
         returning greatest(0, least(?::int, floor(c.available)::int)) as granted, c.available`,
        [carrier, limit.burst, limit.burst, limit.perSecond, carrier, wanted, wanted],
      )) as { rows: { granted: number; available: number }[] };
      const row = result.rows[0];
      // The very first take of a carrier seeds the row in the same statement and sees no row yet: try again.
      if (!row) return { granted: 0, waitMs: 1 };
      const granted = Number(row.granted);
      const available = Number(row.available) - granted;
      const waitMs = granted > 0 ? 0 : Math.max(1, Math.ceil(((Math.min(wanted, limit.burst) - available) / limit.perSecond) * 1000));
      return { granted, waitMs };
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  /** The carrier said to slow down (429, Retry-After): no process takes from the bucket for `seconds`. */
  async holdOff(carrier: string, limit: { perSecond: number }, seconds: number): Promise<void> {
    try {
      await this.knex.raw(`update provisioning_rate_bucket set tokens = least(tokens, ?::float8), updated_at = clock_timestamp() where carrier = ?`, [
        -limit.perSecond * seconds,
        carrier,
      ]);
    } catch (error) {
      throw translateStoreError(error);
    }
  }
}
