// Provisioning jobs: a job's rows split into batches that workers lease with FOR UPDATE SKIP
// LOCKED; a per-device ledger of task states (idempotency by device id, across jobs); sealed
// credentials kept only until the requester acknowledges them.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122091000_provisioning extends Migration {
  override up(): void {
    this.addSql(`
      create table provisioning_job (
        id text primary key,
        status text not null check (status in ('running', 'stopped', 'completed')),
        created_by text not null,
        created_at timestamptz not null default now(),
        completed_at timestamptz null,
        rows_total integer not null,
        -- Manufacturing rows that failed validation (they have no batch).
        invalid_rows integer not null default 0,
        batch_size integer not null,
        carrier text null,
        credentials_public_key text not null
      );

      create table provisioning_batch (
        job_id text not null references provisioning_job (id) on delete cascade,
        seq integer not null,
        status text not null default 'pending' check (status in ('pending', 'running', 'done')),
        lease_owner text null,
        lease_until timestamptz null,
        next_attempt_at timestamptz not null default now(),
        -- Row and task counts of the batch, written by its worker with every stage: progress
        -- reads ~rows/500 small rows instead of aggregating every row's task states.
        progress jsonb not null,
        primary key (job_id, seq)
      );
      create index provisioning_batch_open_idx on provisioning_batch (next_attempt_at) where status <> 'done';

      -- One row per log row; rows that failed validation have no batch.
      create table provisioning_row (
        job_id text not null references provisioning_job (id) on delete cascade,
        log text not null check (log in ('manufacturing', 'shipments')),
        row_no integer not null,
        line integer not null,
        batch_seq integer null,
        device_id text null,
        plan jsonb null,
        status text not null check (status in ('pending', 'done', 'failed')),
        failed_task text null,
        code text null,
        reason text null,
        primary key (job_id, log, row_no)
      );
      create index provisioning_row_batch_idx on provisioning_row (job_id, batch_seq) where batch_seq is not null;

      -- The ledger: what has been done for a device, whichever job did it.
      create table provisioning_device (
        device_id text primary key,
        job_id text not null,
        tasks jsonb not null,
        updated_at timestamptz not null default now()
      );

      create table provisioning_credentials (
        id bigserial primary key,
        job_id text not null references provisioning_job (id) on delete cascade,
        batch_seq integer not null,
        devices integer not null,
        sealed jsonb not null,
        created_at timestamptz not null default now()
      );
      create index provisioning_credentials_job_idx on provisioning_credentials (job_id, id);
    `);
  }

  override down(): void {
    this.addSql('drop table if exists provisioning_credentials, provisioning_device, provisioning_row, provisioning_batch, provisioning_job;');
  }
}
