// Provisioning jobs in PostgreSQL. Workers lease batches with FOR UPDATE SKIP LOCKED (several
// engine processes share a job); every write of a stage runs in one transaction fenced by the
// lease, so a worker that lost its batch to another cannot commit, and a crash mid-stage leaves
// nothing behind. Task states live in a per-device ledger: a task done for a device, by any job,
// is never done again.
import { EntitySchema } from '@mikro-orm/core';
import type { Knex } from '@mikro-orm/knex';
import type { DeviceFirmwareState } from '../model/index.ts';
import type { FleetStore } from './store.ts';
import { translateStoreError } from './errors.ts';

// Kept structurally (not imported) so the store does not depend on the provisioning core.
export type ProvisioningTaskStates = Record<string, { status: string; attempts: number; error: string | null; nextAttemptAt: number | null }>;

export type ProvisioningJobStatus = 'running' | 'stopped' | 'completed';

export interface ProvisioningJobRow {
  id: string;
  status: ProvisioningJobStatus;
  /** The creating token's name, for people; never used to decide access. */
  createdBy: string;
  /** The creating operator token's id: access is decided by it and by `tenants`. */
  createdByToken: string | null;
  /** The creator's tenant scope when it created the job; null: every tenant. */
  tenants: string[] | null;
  createdAt: Date;
  completedAt: Date | null;
  rowsTotal: number;
  invalidRows: number;
  batchSize: number;
  carrier: string | null;
  /** age recipients the job's credentials are sealed to. */
  credentialsRecipients: string[];
}

export const ProvisioningJobEntity = new EntitySchema<ProvisioningJobRow>({
  name: 'ProvisioningJob',
  tableName: 'provisioning_job',
  properties: {
    id: { type: 'string', primary: true },
    status: { type: 'string' },
    createdBy: { type: 'string' },
    createdByToken: { type: 'string', nullable: true },
    tenants: { type: 'string[]', nullable: true },
    createdAt: { type: 'Date' },
    completedAt: { type: 'Date', nullable: true },
    rowsTotal: { type: 'integer' },
    invalidRows: { type: 'integer' },
    batchSize: { type: 'integer' },
    carrier: { type: 'string', nullable: true },
    credentialsRecipients: { type: 'string[]', nullable: true },
  },
});

export interface ProvisioningDeviceRow {
  deviceId: string;
  jobId: string;
  /** The tenant the device was provisioned into (null: recorded before tenants were). */
  tenant: string | null;
  tasks: ProvisioningTaskStates;
  updatedAt: Date;
}

export const ProvisioningDeviceEntity = new EntitySchema<ProvisioningDeviceRow>({
  name: 'ProvisioningDevice',
  tableName: 'provisioning_device',
  properties: {
    deviceId: { type: 'string', primary: true },
    jobId: { type: 'string' },
    tenant: { type: 'string', nullable: true },
    tasks: { type: 'json' },
    updatedAt: { type: 'Date' },
  },
});

export const PROVISIONING_ENTITIES = [ProvisioningJobEntity, ProvisioningDeviceEntity];

/** A row of a new job: validated (with a plan and task states) or failed at validation. */
export interface NewProvisioningRow {
  log: 'manufacturing' | 'shipments';
  rowNo: number;
  line: number;
  deviceId: string | null;
  /** The tenant a validated row goes to (the ledger remembers it). */
  tenant: string | null;
  /** The validated row (opaque to the store). */
  plan: object | null;
  tasks: ProvisioningTaskStates | null;
  failure: { code: string; reason: string } | null;
}

export interface NewProvisioningJob {
  id: string;
  createdBy: string;
  createdByToken: string;
  tenants: readonly string[] | null;
  batchSize: number;
  carrier: string | null;
  credentialsRecipients: readonly string[];
  rowsTotal: number;
  rows: readonly NewProvisioningRow[];
  /** A batch's counts before any worker looked at it. */
  initialProgress(rows: readonly NewProvisioningRow[]): BatchProgress;
}

/** A leased batch: only its owner may commit stages of it, until the lease ends. */
export interface BatchLease {
  jobId: string;
  seq: number;
  owner: string;
}

export interface BatchRow {
  rowNo: number;
  line: number;
  deviceId: string;
  plan: unknown;
  tasks: ProvisioningTaskStates;
}

export interface LeasedBatch {
  lease: BatchLease;
  job: { carrier: string | null; credentialsRecipients: string[] };
  rows: BatchRow[];
}

export interface ProvisionedDevice {
  id: string;
  tenant: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  reportedFirmware: Record<string, string>;
  firmwareState: DeviceFirmwareState;
}

export interface RowOutcomeUpdate {
  rowNo: number;
  status: 'pending' | 'done' | 'failed';
  failedTask: string | null;
  code: string | null;
  reason: string | null;
}

/** Counts of one batch: rows by outcome, and task → status → rows. */
export interface BatchProgress {
  rows: { pending: number; done: number; failed: number };
  tasks: Record<string, Record<string, number>>;
}

export interface ProvisioningProgress {
  job: ProvisioningJobRow;
  rows: { total: number; pending: number; done: number; failed: number };
  /** task → status → rows. */
  tasks: Record<string, Record<string, number>>;
  batches: { total: number; pending: number; running: number; done: number };
  credentialsWaiting: number;
}

export interface ProvisioningFailureRow {
  log: string;
  row: number;
  line: number;
  deviceId: string | null;
  task: string | null;
  code: string | null;
  reason: string | null;
}

/** The token hash a provisioned device has before its credentials task: matches no token. */
export const UNISSUED_TOKEN_HASH = 'unissued';
const INSERT_CHUNK = 5000;

type Executor = Knex | Knex.Transaction;

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

async function run<T>(executor: Executor, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const result = (await executor.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] };
  return result.rows;
}

/** The writes a stage may make, inside its fenced transaction. */
export class ProvisioningTx {
  constructor(private readonly trx: Knex.Transaction) {}

  /** Inserts devices not there yet; returns the ids it inserted (others existed already). */
  async insertDevices(devices: readonly ProvisionedDevice[]): Promise<Set<string>> {
    if (devices.length === 0) return new Set();
    const rows = await run<{ id: string }>(
      this.trx,
      `insert into device (id, tenant, profile, site, labels, token_hash, firmware_state, reported_firmware)
       select id, tenant, profile, site, labels, ?, firmware_state, reported_firmware
       from jsonb_to_recordset(?::jsonb) as v(id text, tenant text, profile text, site text, labels jsonb,
         firmware_state jsonb, reported_firmware jsonb)
       on conflict (id) do nothing returning id`,
      [
        UNISSUED_TOKEN_HASH,
        JSON.stringify(
          devices.map((d) => ({
            id: d.id,
            tenant: d.tenant,
            profile: d.profile,
            site: d.site,
            labels: d.labels,
            firmware_state: d.firmwareState,
            reported_firmware: d.reportedFirmware,
          })),
        ),
      ],
    );
    return new Set(rows.map((r) => r.id));
  }

  async setTokenHashes(hashes: readonly { id: string; tokenHash: string }[], at: Date): Promise<void> {
    if (hashes.length === 0) return;
    await run(
      this.trx,
      `update device d set token_hash = v.token_hash, token_rotated_at = ?, token_revoked_at = null
       from jsonb_to_recordset(?::jsonb) as v(id text, token_hash text) where d.id = v.id`,
      [at, JSON.stringify(hashes.map((h) => ({ id: h.id, token_hash: h.tokenHash })))],
    );
  }

  /** A batch's tokens, sealed (an armored age file). */
  async storeSealedCredentials(jobId: string, batchSeq: number, devices: number, sealed: string): Promise<void> {
    await run(this.trx, `insert into provisioning_credentials (job_id, batch_seq, devices, sealed) values (?, ?, ?, ?)`, [jobId, batchSeq, devices, sealed]);
  }

  async applySites(sites: readonly { id: string; site: string; tenant: string }[]): Promise<void> {
    if (sites.length === 0) return;
    await run(
      this.trx,
      `update device d set site = v.site, tenant = v.tenant
       from jsonb_to_recordset(?::jsonb) as v(id text, site text, tenant text)
       where d.id = v.id and (d.site <> v.site or d.tenant <> v.tenant)`,
      [JSON.stringify(sites)],
    );
  }

  /** Adds labels (e.g. provisioning: ready) to devices. */
  async addLabels(ids: readonly string[], labels: Record<string, string>): Promise<void> {
    if (ids.length === 0) return;
    await run(this.trx, `update device set labels = labels || ?::jsonb where id = any(?)`, [JSON.stringify(labels), [...ids]]);
  }

  /** The batch's counts after this stage, written with the lease fence at commit. */
  stagedProgress: BatchProgress | null = null;

  stageBatchProgress(progress: BatchProgress): void {
    this.stagedProgress = progress;
  }

  async setBatchProgress(lease: BatchLease, progress: BatchProgress): Promise<void> {
    await run(this.trx, `update provisioning_batch set progress = ?::jsonb where job_id = ? and seq = ?`, [JSON.stringify(progress), lease.jobId, lease.seq]);
  }

  /** Locks devices' ledger rows (in id order, so overlapping jobs cannot deadlock) and reads their task states. */
  async lockTaskStates(deviceIds: readonly string[]): Promise<Map<string, ProvisioningTaskStates>> {
    if (deviceIds.length === 0) return new Map();
    const rows = await run<{ device_id: string; tasks: ProvisioningTaskStates }>(
      this.trx,
      `select device_id, tasks from provisioning_device where device_id = any(?) order by device_id for update`,
      [[...deviceIds]],
    );
    return new Map(rows.map((r) => [r.device_id, r.tasks]));
  }

  async saveTaskStates(states: readonly { deviceId: string; tasks: ProvisioningTaskStates }[]): Promise<void> {
    if (states.length === 0) return;
    await run(
      this.trx,
      `update provisioning_device p set tasks = v.tasks, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as v(device_id text, tasks jsonb) where p.device_id = v.device_id`,
      [JSON.stringify(states.map((s) => ({ device_id: s.deviceId, tasks: s.tasks })))],
    );
  }

  async saveRowOutcomes(jobId: string, outcomes: readonly RowOutcomeUpdate[]): Promise<void> {
    if (outcomes.length === 0) return;
    await run(
      this.trx,
      `update provisioning_row r set status = v.status, failed_task = v.failed_task, code = v.code, reason = v.reason
       from jsonb_to_recordset(?::jsonb) as v(row_no int, status text, failed_task text, code text, reason text)
       where r.job_id = ? and r.log = 'manufacturing' and r.row_no = v.row_no`,
      [
        JSON.stringify(outcomes.map((o) => ({ row_no: o.rowNo, status: o.status, failed_task: o.failedTask, code: o.code, reason: o.reason }))),
        jobId,
      ],
    );
  }
}

/** A provisioning_job row as the store returns it. */
function jobRow(row: Record<string, unknown>): ProvisioningJobRow {
  return {
    id: String(row.id),
    status: row.status as ProvisioningJobStatus,
    createdBy: String(row.created_by),
    createdByToken: (row.created_by_token as string | null) ?? null,
    tenants: (row.tenants as string[] | null) ?? null,
    createdAt: toDate(row.created_at) ?? new Date(0),
    completedAt: toDate(row.completed_at),
    rowsTotal: Number(row.rows_total),
    invalidRows: Number(row.invalid_rows),
    batchSize: Number(row.batch_size),
    carrier: (row.carrier as string | null) ?? null,
    credentialsRecipients: (row.credentials_recipients as string[] | null) ?? [],
  };
}

export class LeaseLostError extends Error {
  readonly code = 'lease-lost';
  constructor(lease: BatchLease) {
    super(`batch ${lease.seq} of job ${lease.jobId} is no longer leased by ${lease.owner}`);
  }
}

export class ProvisioningStore {
  constructor(private readonly fleet: FleetStore) {}

  private get knex(): Knex {
    return this.fleet.orm.em.getConnection().getKnex();
  }

  private async sql<T>(query: string, bindings: readonly unknown[] = []): Promise<T[]> {
    try {
      return await run<T>(this.knex, query, bindings);
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  private async transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.knex.transaction(work);
    } catch (error) {
      throw translateStoreError(error);
    }
  }

  /**
   * Stores a job, its rows (in batches of `batchSize` validated rows) and the ledger entries of
   * devices it has not seen before, in one transaction. A device already in the ledger keeps
   * its task states: re-importing a file changes nothing.
   */
  async createJob(job: NewProvisioningJob): Promise<void> {
    await this.transaction(async (trx) => {
      await run(
        trx,
        `insert into provisioning_job (id, status, created_by, created_by_token, tenants, rows_total, invalid_rows, batch_size, carrier, credentials_recipients)
         values (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          job.id,
          job.createdBy,
          job.createdByToken,
          job.tenants === null ? null : [...job.tenants],
          job.rowsTotal,
          job.rows.filter((r) => r.log === 'manufacturing' && !r.plan).length,
          job.batchSize,
          job.carrier,
          [...job.credentialsRecipients],
        ],
      );
      let validated = 0;
      const records = job.rows.map((row) => {
        const batchSeq = row.plan ? Math.floor(validated++ / job.batchSize) : null;
        return {
          log: row.log,
          row_no: row.rowNo,
          line: row.line,
          batch_seq: batchSeq,
          device_id: row.deviceId,
          plan: row.plan,
          status: row.failure ? 'failed' : 'pending',
          failed_task: row.failure ? 'validate' : null,
          code: row.failure?.code ?? null,
          reason: row.failure?.reason ?? null,
          tasks: row.tasks,
          tenant: row.tenant,
        };
      });
      const batches = Math.ceil(validated / job.batchSize);
      for (let start = 0; start < records.length; start += INSERT_CHUNK) {
        const chunk = records.slice(start, start + INSERT_CHUNK);
        await run(
          trx,
          `insert into provisioning_row (job_id, log, row_no, line, batch_seq, device_id, plan, status, failed_task, code, reason)
           select ?, log, row_no, line, batch_seq, device_id, plan, status, failed_task, code, reason
           from jsonb_to_recordset(?::jsonb) as v(log text, row_no int, line int, batch_seq int, device_id text, plan jsonb,
             status text, failed_task text, code text, reason text)`,
          [job.id, JSON.stringify(chunk.map(({ tasks: _tasks, tenant: _tenant, ...rest }) => rest))],
        );
        const ledger = chunk.filter((r) => r.batch_seq !== null && r.tasks !== null).map((r) => ({ device_id: r.device_id, tasks: r.tasks, tenant: r.tenant }));
        if (ledger.length > 0) {
          await run(
            trx,
            `insert into provisioning_device (device_id, job_id, tasks, tenant)
             select device_id, ?, tasks, tenant from jsonb_to_recordset(?::jsonb) as v(device_id text, tasks jsonb, tenant text)
             on conflict (device_id) do nothing`,
            [job.id, JSON.stringify(ledger)],
          );
        }
      }
      if (batches > 0) {
        const validRows = job.rows.filter((r) => r.plan);
        const progress = Array.from({ length: batches }, (_, seq) => ({
          seq,
          progress: job.initialProgress(validRows.slice(seq * job.batchSize, (seq + 1) * job.batchSize)),
        }));
        await run(
          trx,
          `insert into provisioning_batch (job_id, seq, progress)
           select ?, seq, progress from jsonb_to_recordset(?::jsonb) as v(seq int, progress jsonb)`,
          [job.id, JSON.stringify(progress)],
        );
      } else {
        await run(trx, `update provisioning_job set status = 'completed', completed_at = now() where id = ?`, [job.id]);
      }
    });
  }

  /**
   * Leases the next due batch of a running job: a pending one, or one whose lease ran out (its
   * worker died). SKIP LOCKED lets concurrent workers pass over each other's candidates.
   */
  async claimBatch(owner: string, leaseMs: number): Promise<BatchLease | null> {
    const rows = await this.sql<{ job_id: string; seq: number }>(
      `update provisioning_batch b set status = 'running', lease_owner = ?, lease_until = now() + ? * interval '1 millisecond'
       from (
         select pb.job_id, pb.seq from provisioning_batch pb join provisioning_job j on j.id = pb.job_id
         where j.status = 'running' and pb.status <> 'done'
           and ((pb.status = 'pending' and pb.next_attempt_at <= now()) or (pb.status = 'running' and pb.lease_until < now()))
         order by pb.next_attempt_at, j.created_at, pb.seq
         limit 1
         for update of pb skip locked
       ) c
       where b.job_id = c.job_id and b.seq = c.seq
       returning b.job_id, b.seq`,
      [owner, leaseMs],
    );
    const row = rows[0];
    return row ? { jobId: row.job_id, seq: row.seq, owner } : null;
  }

  async loadBatch(lease: BatchLease): Promise<LeasedBatch> {
    const [jobs, rows] = await Promise.all([
      this.sql<{ carrier: string | null; credentials_recipients: string[] | null }>(`select carrier, credentials_recipients from provisioning_job where id = ?`, [
        lease.jobId,
      ]),
      this.sql<{ row_no: number; line: number; device_id: string; plan: unknown; tasks: ProvisioningTaskStates }>(
        `select r.row_no, r.line, r.device_id, r.plan, d.tasks from provisioning_row r
         join provisioning_device d on d.device_id = r.device_id
         where r.job_id = ? and r.batch_seq = ? and r.log = 'manufacturing' order by r.row_no`,
        [lease.jobId, lease.seq],
      ),
    ]);
    const job = jobs[0];
    if (!job) throw new LeaseLostError(lease);
    return {
      lease,
      job: { carrier: job.carrier, credentialsRecipients: job.credentials_recipients ?? [] },
      rows: rows.map((r) => ({ rowNo: r.row_no, line: r.line, deviceId: r.device_id, plan: r.plan, tasks: r.tasks })),
    };
  }

  /**
   * Runs a stage's writes in one transaction that first re-checks (and locks) the lease and
   * extends it. Throws LeaseLostError, writing nothing, when the batch is no longer this worker's.
   */
  async inLeasedTransaction<T>(lease: BatchLease, leaseMs: number, work: (tx: ProvisioningTx) => Promise<T>): Promise<T> {
    return this.transaction(async (trx) => {
      const tx = new ProvisioningTx(trx);
      const result = await work(tx);
      // The fence, last: one round trip extends the lease and stores the batch's counts; if
      // another worker holds the batch now, the whole stage rolls back.
      const held = await run(
        trx,
        `update provisioning_batch set lease_until = now() + ? * interval '1 millisecond', progress = coalesce(?::jsonb, progress)
         where job_id = ? and seq = ? and status = 'running' and lease_owner = ? returning seq`,
        [leaseMs, tx.stagedProgress ? JSON.stringify(tx.stagedProgress) : null, lease.jobId, lease.seq, lease.owner],
      );
      if (held.length === 0) throw new LeaseLostError(lease);
      return result;
    });
  }

  /** Ends a lease: the batch is done, or waits until `nextAttemptAt` for its retries. Completes the job after its last batch. */
  async releaseBatch(
    lease: BatchLease,
    outcome: { done: boolean; nextAttemptAt: Date | null; rows?: readonly RowOutcomeUpdate[]; progress?: BatchProgress },
  ): Promise<void> {
    await this.transaction(async (trx) => {
      // The job row first: releases of a job's last batches take turns, so the last one sees the others done.
      await run(trx, `select id from provisioning_job where id = ? for update`, [lease.jobId]);
      if (outcome.rows) await new ProvisioningTx(trx).saveRowOutcomes(lease.jobId, outcome.rows);
      if (outcome.progress) await new ProvisioningTx(trx).setBatchProgress(lease, outcome.progress);
      const released = await run(
        trx,
        `update provisioning_batch set status = ?, lease_owner = null, lease_until = null, next_attempt_at = coalesce(?, now())
         where job_id = ? and seq = ? and lease_owner = ? returning seq`,
        [outcome.done ? 'done' : 'pending', outcome.nextAttemptAt, lease.jobId, lease.seq, lease.owner],
      );
      if (released.length === 0) throw new LeaseLostError(lease);
      if (outcome.done) {
        await run(
          trx,
          `update provisioning_job set status = 'completed', completed_at = now()
           where id = ? and status = 'running' and not exists (select 1 from provisioning_batch where job_id = ? and status <> 'done')`,
          [lease.jobId, lease.jobId],
        );
      }
    });
  }

  async getJob(id: string): Promise<ProvisioningJobRow | null> {
    const rows = await this.sql<Record<string, unknown>>(`select * from provisioning_job where id = ?`, [id]);
    const row = rows[0];
    return row ? jobRow(row) : null;
  }

  /** Sums the batches' counts (kept by their workers) and adds the rows that failed validation. */
  async progress(id: string): Promise<ProvisioningProgress | null> {
    const job = await this.getJob(id);
    if (!job) return null;
    const [batchRows, waiting] = await Promise.all([
      this.sql<{ status: string; progress: BatchProgress }>(`select status, progress from provisioning_batch where job_id = ?`, [id]),
      this.sql<{ n: string | null }>(`select sum(devices) as n from provisioning_credentials where job_id = ?`, [id]),
    ]);
    const rows = { total: job.rowsTotal, pending: 0, done: 0, failed: job.invalidRows };
    const tasks: Record<string, Record<string, number>> = {};
    const batches = { total: 0, pending: 0, running: 0, done: 0 };
    for (const batch of batchRows) {
      batches.total++;
      if (batch.status === 'pending' || batch.status === 'running' || batch.status === 'done') batches[batch.status]++;
      rows.pending += batch.progress.rows.pending;
      rows.done += batch.progress.rows.done;
      rows.failed += batch.progress.rows.failed;
      for (const [task, counts] of Object.entries(batch.progress.tasks)) {
        const into = (tasks[task] ??= {});
        for (const [status, n] of Object.entries(counts)) into[status] = (into[status] ?? 0) + n;
      }
    }
    if (job.invalidRows > 0) (tasks.validate ??= {}).failed = (tasks.validate?.failed ?? 0) + job.invalidRows;
    return { job, rows, tasks, batches, credentialsWaiting: Number(waiting[0]?.n ?? 0) };
  }

  async failures(id: string, limit: number, offset = 0): Promise<ProvisioningFailureRow[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select log, row_no, line, device_id, failed_task, code, reason from provisioning_row
       where job_id = ? and status = 'failed' order by log, row_no limit ? offset ?`,
      [id, limit, offset],
    );
    return rows.map((r) => ({
      log: String(r.log),
      row: Number(r.row_no),
      line: Number(r.line),
      deviceId: (r.device_id as string | null) ?? null,
      task: (r.failed_task as string | null) ?? null,
      code: (r.code as string | null) ?? null,
      reason: (r.reason as string | null) ?? null,
    }));
  }

  /**
   * The newest jobs a caller may see: its own (by token id), and those whose tenants all lie in
   * `tenants` (null: every job). Rows summed from the batches' counts, in one query.
   */
  async listJobs(
    visibleTo: { tokenId: string; tenants: readonly string[] | null },
    limit: number,
    offset: number,
  ): Promise<{ job: ProvisioningJobRow; rows: { total: number; pending: number; done: number; failed: number } }[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select j.*,
              coalesce(sum((b.progress->'rows'->>'pending')::int), 0) as rows_pending,
              coalesce(sum((b.progress->'rows'->>'done')::int), 0) as rows_done,
              coalesce(sum((b.progress->'rows'->>'failed')::int), 0) as rows_failed
       from provisioning_job j left join provisioning_batch b on b.job_id = j.id
       where j.created_by_token = ? or ?::text[] is null or (j.tenants is not null and cardinality(j.tenants) > 0 and j.tenants <@ ?::text[])
       group by j.id order by j.created_at desc, j.id limit ? offset ?`,
      [visibleTo.tokenId, visibleTo.tenants === null ? null : [...visibleTo.tenants], visibleTo.tenants === null ? null : [...visibleTo.tenants], limit, offset],
    );
    return rows.map((row) => {
      const job = jobRow(row);
      return {
        job,
        rows: { total: job.rowsTotal, pending: Number(row.rows_pending), done: Number(row.rows_done), failed: Number(row.rows_failed) + job.invalidRows },
      };
    });
  }

  /** Stops handing out the job's batches; batches being worked on finish their current stage. */
  async stopJob(id: string): Promise<boolean> {
    const rows = await this.sql(`update provisioning_job set status = 'stopped' where id = ? and status = 'running' returning id`, [id]);
    return rows.length > 0;
  }

  /** Runs the job again: stale leases are given up and every open batch is due now. */
  async resumeJob(id: string): Promise<boolean> {
    return this.transaction(async (trx) => {
      const rows = await run(trx, `update provisioning_job set status = 'running', completed_at = null where id = ? and status <> 'completed' returning id`, [id]);
      if (rows.length === 0) return false;
      await run(
        trx,
        `update provisioning_batch set status = 'pending', lease_owner = null, lease_until = null, next_attempt_at = now()
         where job_id = ? and (status = 'pending' or (status = 'running' and lease_until < now()))`,
        [id],
      );
      return true;
    });
  }

  /**
   * Sets the job's failed tasks back to pending (attempts cleared) and reopens their batches.
   * `reset` maps a device's task states to their retried form. Rows that failed validation stay failed.
   */
  async retryFailed(id: string, reset: (tasks: ProvisioningTaskStates) => ProvisioningTaskStates): Promise<number> {
    return this.transaction(async (trx) => {
      const failed = await run<{ row_no: number; batch_seq: number; device_id: string; tasks: ProvisioningTaskStates }>(
        trx,
        `select r.row_no, r.batch_seq, r.device_id, d.tasks from provisioning_row r
         join provisioning_device d on d.device_id = r.device_id
         where r.job_id = ? and r.log = 'manufacturing' and r.status = 'failed' and r.batch_seq is not null
         for update of d`,
        [id],
      );
      if (failed.length === 0) return 0;
      await run(
        trx,
        `update provisioning_device p set tasks = v.tasks, updated_at = now()
         from jsonb_to_recordset(?::jsonb) as v(device_id text, tasks jsonb) where p.device_id = v.device_id`,
        [JSON.stringify(failed.map((f) => ({ device_id: f.device_id, tasks: reset(f.tasks) })))],
      );
      await run(
        trx,
        `update provisioning_row set status = 'pending', failed_task = null, code = null, reason = null
         where job_id = ? and log = 'manufacturing' and row_no = any(?)`,
        [id, failed.map((f) => f.row_no)],
      );
      await run(
        trx,
        `update provisioning_batch set status = 'pending', next_attempt_at = now() where job_id = ? and seq = any(?) and status = 'done'`,
        [id, [...new Set(failed.map((f) => f.batch_seq))]],
      );
      await run(trx, `update provisioning_job set status = 'running', completed_at = null where id = ?`, [id]);
      return failed.length;
    });
  }

  /** Sealed credential batches waiting for the requester (not erased until acknowledged). */
  async pendingCredentials(jobId: string, limit: number): Promise<{ id: string; devices: number; sealed: string }[]> {
    const rows = await this.sql<{ id: string; devices: number; sealed: string }>(
      `select id, devices, sealed from provisioning_credentials where job_id = ? order by id limit ?`,
      [jobId, limit],
    );
    return rows.map((r) => ({ id: String(r.id), devices: Number(r.devices), sealed: String(r.sealed) }));
  }

  /** Erases acknowledged credential batches; returns how many devices' tokens were erased. */
  async acknowledgeCredentials(jobId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await this.sql<{ devices: number }>(`delete from provisioning_credentials where job_id = ? and id = any(?::bigint[]) returning devices`, [
      jobId,
      [...ids],
    ]);
    return rows.reduce((sum, r) => sum + Number(r.devices), 0);
  }

  /**
   * Which of these ids are taken, as provisioning sees them: a device registered outside
   * provisioning (any tenant), or one whose ledger or device row is in a tenant outside `tenants`
   * (null: every tenant). A device provisioned into the caller's tenants is not taken: importing
   * it again changes nothing.
   */
  async devicesInUse(ids: readonly string[], tenants: readonly string[] | null): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.sql<{ id: string; device_tenant: string | null; ledger: boolean; ledger_tenant: string | null }>(
      `select i.id, d.tenant as device_tenant, p.device_id is not null as ledger, p.tenant as ledger_tenant
       from unnest(?::text[]) as i(id)
       left join device d on d.id = i.id
       left join provisioning_device p on p.device_id = i.id
       where d.id is not null or p.device_id is not null`,
      [[...ids]],
    );
    const inScope = (tenant: string | null) => tenants === null || (tenant !== null && tenants.includes(tenant));
    const taken = new Set<string>();
    for (const row of rows) {
      if (!row.ledger) taken.add(row.id);
      else if (!inScope(row.ledger_tenant) || (row.device_tenant !== null && !inScope(row.device_tenant))) taken.add(row.id);
    }
    return taken;
  }

  /** The ledger entries of some devices (tests, operators). */
  async deviceTasks(ids: readonly string[]): Promise<Map<string, ProvisioningTaskStates>> {
    const rows = await this.sql<{ device_id: string; tasks: ProvisioningTaskStates }>(`select device_id, tasks from provisioning_device where device_id = any(?)`, [
      [...ids],
    ]);
    return new Map(rows.map((r) => [r.device_id, r.tasks]));
  }
}
