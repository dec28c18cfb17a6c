// The initial schema. Hand-written SQL (reviewed, not generated), so indexes
// for the hot check-in path and the offline sweep are explicit.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261122080000_initial extends Migration {
  override up(): void {
    this.addSql(`
      create table revision (
        sha text primary key,
        author text not null default '',
        message text not null default '',
        committed_at timestamptz null,
        recorded_at timestamptz not null default now(),
        applied_at timestamptz null,
        status text not null check (status in ('applied', 'rejected')),
        issues jsonb not null default '[]'
      );
      create index revision_applied_idx on revision (applied_at desc) where status = 'applied';
      create index revision_recorded_idx on revision (recorded_at desc);

      create table device (
        id text primary key,
        tenant text not null,
        profile text not null,
        site text not null,
        labels jsonb not null default '{}',
        config_override jsonb null,
        token_hash text not null,
        token_revoked_at timestamptz null,
        token_rotated_at timestamptz null,
        registered_at timestamptz not null default now(),
        status text not null default 'pending',
        reported_firmware jsonb not null default '{}',
        reported_config_hash text null,
        reported_state jsonb null,
        desired_config_hash text null,
        firmware_state jsonb not null,
        in_flight_step text null,
        in_flight_rollout text null,
        last_revision text null,
        last_check_in_at timestamptz null,
        last_cell text null,
        last_location jsonb null,
        last_uptime_ms bigint null,
        next_expected_at timestamptz null,
        offline_after_at timestamptz null
      );
      create index device_tenant_site_idx on device (tenant, site);
      create index device_profile_idx on device (profile);
      create index device_status_idx on device (status);
      create index device_offline_sweep_idx on device (offline_after_at) where status <> 'offline';
      create index device_in_flight_idx on device (in_flight_rollout) where in_flight_rollout is not null;

      create table check_in (
        id bigserial primary key,
        device_id text not null,
        received_at timestamptz not null,
        revision text null,
        reported jsonb not null,
        telemetry jsonb not null,
        battery real null,
        cell text null
      );
      create index check_in_device_idx on check_in (device_id, received_at desc);

      create table command (
        id text primary key,
        device_id text not null,
        type text not null,
        params jsonb not null default '{}',
        status text not null default 'queued' check (status in ('queued', 'delivered', 'succeeded', 'failed', 'rejected')),
        created_by text null,
        created_at timestamptz not null default now(),
        delivered_at timestamptz null,
        completed_at timestamptz null,
        output jsonb null
      );
      create index command_device_pending_idx on command (device_id, created_at) where status in ('queued', 'delivered');

      create table firmware_event (
        id bigserial primary key,
        device_id text not null,
        type text not null,
        rollout text null,
        wave text null,
        step_id text null,
        component text null,
        from_version text null,
        to_version text null,
        cell text null,
        error text null,
        at timestamptz not null
      );
      create index firmware_event_device_idx on firmware_event (device_id, at desc);
      create index firmware_event_rollout_idx on firmware_event (rollout, at desc);

      create table rollout_runtime (
        rollout text primary key,
        auto_paused_reason text null,
        auto_paused_at timestamptz null
      );

      create table wave_progress (
        rollout text not null,
        wave text not null,
        succeeded integer not null default 0,
        failed integer not null default 0,
        primary key (rollout, wave)
      );

      -- Throttle slots, counted across engine processes: scope '*' is the rollout total,
      -- otherwise a serving cell key. Taken by an atomic conditional upsert.
      create table throttle_slot (
        rollout text not null,
        scope text not null,
        in_flight integer not null default 0 check (in_flight >= 0),
        primary key (rollout, scope)
      );

      create table operator_token (
        id text primary key,
        name text not null,
        token_hash text not null unique,
        role text not null check (role in ('viewer', 'operator', 'admin')),
        tenants jsonb not null default '["*"]',
        created_at timestamptz not null default now(),
        revoked_at timestamptz null
      );
    `);
  }

  override down(): void {
    this.addSql(
      'drop table if exists operator_token, throttle_slot, wave_progress, rollout_runtime, firmware_event, command, check_in, device, revision;',
    );
  }
}
