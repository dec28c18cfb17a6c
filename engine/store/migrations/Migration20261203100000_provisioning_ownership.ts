// Provisioning, second step: jobs belong to the operator token that created them (its id) and to
// that token's tenants, never to a token name; the ledger remembers each device's tenant; logs
// are uploaded as streams into PostgreSQL before a job reads them; credentials are sealed with
// age; the carrier's rate limit is one bucket shared by every engine process.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203100000_provisioning_ownership extends Migration {
  override up(): void {
    this.addSql(`
      alter table provisioning_job add column created_by_token text null;
      -- The creator's tenant scope when it created the job; null: every tenant.
      alter table provisioning_job add column tenants text[] null;
      alter table provisioning_job add column credentials_recipients text[] null;
      -- The hand-made sealing's key (before age): gone with it.
      alter table provisioning_job drop column credentials_public_key;

      alter table provisioning_device add column tenant text null;
      update provisioning_device p set tenant = d.tenant from device d where d.id = p.device_id;

      -- Sealed batches of the hand-made format (before age) cannot be opened by any client any
      -- more; they never left test databases. The tokens stay valid (their hashes are on the
      -- devices); rotate them if they were not collected.
      delete from provisioning_credentials;
      alter table provisioning_credentials drop column sealed;
      alter table provisioning_credentials add column sealed text not null;

      create table provisioning_upload (
        id text primary key,
        created_by_token text not null,
        created_at timestamptz not null default now(),
        log text not null check (log in ('manufacturing', 'shipments')),
        format text not null check (format in ('csv', 'jsonl')),
        delimiter text null,
        status text not null check (status in ('receiving', 'complete')),
        bytes bigint not null default 0,
        rows integer not null default 0,
        failed integer not null default 0
      );
      create index provisioning_upload_created_idx on provisioning_upload (created_at);

      -- Parsed rows as they streamed in, a few thousand per chunk, as JSON text: written once, read
      -- once, never queried inside (jsonb would cost a conversion each way).
      create table provisioning_upload_chunk (
        upload_id text not null references provisioning_upload (id) on delete cascade,
        seq integer not null,
        rows text not null,
        failures text not null,
        primary key (upload_id, seq)
      );

      -- One token bucket per carrier, shared by every engine process (refilled on the database's clock).
      create table provisioning_rate_bucket (
        carrier text primary key,
        tokens double precision not null,
        updated_at timestamptz not null
      );
    `);
  }

  override down(): void {
    this.addSql(`
      drop table if exists provisioning_rate_bucket, provisioning_upload_chunk, provisioning_upload;
      delete from provisioning_credentials;
      alter table provisioning_credentials drop column sealed;
      alter table provisioning_credentials add column sealed jsonb not null;
      alter table provisioning_device drop column tenant;
      alter table provisioning_job drop column created_by_token, drop column tenants, drop column credentials_recipients;
      alter table provisioning_job add column credentials_public_key text null;
    `);
  }
}
