// Alerts, webhook deliveries and the cell tower table. Hand-written SQL so the indexes behind
// the hot path (one active alert per rule and key), the webhook worker (due deliveries) and the
// sweep (alerts in hold-down) are explicit.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122090000_alerts extends Migration {
  override up(): void {
    this.addSql(`
      create table alert (
        id text primary key,
        rule text not null,
        dedupe_key text not null,
        scope text not null check (scope in ('device', 'fleet')),
        severity text not null check (severity in ('info', 'warning', 'critical')),
        status text not null check (status in ('open', 'acknowledged', 'resolved')),
        tenant text null,
        site text null,
        device_id text null,
        summary text not null default '',
        details jsonb not null default '{}',
        opened_at timestamptz not null,
        acknowledged_at timestamptz null,
        acknowledged_by text null,
        resolved_at timestamptz null,
        clear_since timestamptz null,
        hold_down_seconds integer not null default 0
      );
      -- Deduplication: at most one active alert per (rule, key); resolved ones stay as history.
      create unique index alert_active_key_idx on alert (rule, dedupe_key) where status <> 'resolved';
      create index alert_opened_idx on alert (opened_at desc);
      create index alert_active_idx on alert (status, severity) where status <> 'resolved';
      create index alert_device_idx on alert (device_id, opened_at desc) where device_id is not null;
      create index alert_hold_down_idx on alert (clear_since) where status <> 'resolved' and clear_since is not null;

      create table webhook_delivery (
        id text primary key,
        alert_id text not null references alert (id),
        rule text not null,
        event text not null,
        url text not null,
        -- The rule's SecretValue (ciphertext or reference, as in git), never the plaintext.
        secret jsonb null,
        body text not null,
        status text not null check (status in ('pending', 'delivered', 'failed')),
        attempts integer not null default 0,
        next_attempt_at timestamptz null,
        last_error text null,
        last_status_code integer null,
        created_at timestamptz not null,
        delivered_at timestamptz null
      );
      create index webhook_delivery_due_idx on webhook_delivery (next_attempt_at) where status = 'pending';
      create index webhook_delivery_alert_idx on webhook_delivery (alert_id);

      create table webhook_attempt (
        id bigserial primary key,
        delivery_id text not null references webhook_delivery (id),
        attempt integer not null,
        at timestamptz not null,
        status_code integer null,
        error text null,
        duration_ms integer not null default 0
      );
      create index webhook_attempt_delivery_idx on webhook_attempt (delivery_id, attempt);

      create table cell_tower (
        mcc integer not null,
        mnc integer not null,
        lac integer not null,
        cid bigint not null,
        lat double precision not null,
        lon double precision not null,
        range_m double precision null,
        updated_at timestamptz not null,
        primary key (mcc, mnc, lac, cid)
      );

      -- The resolved location, stored with the telemetry of each check-in.
      alter table check_in add column location jsonb null;
    `);
  }

  override down(): void {
    this.addSql('alter table check_in drop column if exists location; drop table if exists cell_tower, webhook_attempt, webhook_delivery, alert;');
  }
}
