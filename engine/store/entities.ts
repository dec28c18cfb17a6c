// MikroORM entities as EntitySchemas (no decorators: tsx and vitest emit no decorator metadata).
// The schema itself lives in the committed migrations; these map rows for the operator-side reads.
import { EntitySchema } from '@mikro-orm/core';
import { ALERT_ENTITIES } from './alert-entities.ts';
import { PROVISIONING_ENTITIES } from './provisioning.ts';
import type { DeviceFirmwareState, DeviceStatus, Issue, JsonObject, JsonValue } from '../model/index.ts';

export interface RevisionRow {
  sha: string;
  author: string;
  message: string;
  committedAt: Date | null;
  recordedAt: Date;
  appliedAt: Date | null;
  status: 'applied' | 'rejected';
  issues: Issue[];
}

export const RevisionEntity = new EntitySchema<RevisionRow>({
  name: 'Revision',
  tableName: 'revision',
  properties: {
    sha: { type: 'string', primary: true },
    author: { type: 'string' },
    message: { type: 'text' },
    committedAt: { type: 'Date', nullable: true },
    recordedAt: { type: 'Date' },
    appliedAt: { type: 'Date', nullable: true },
    status: { type: 'string' },
    issues: { type: 'json' },
  },
});

export interface DeviceRow {
  id: string;
  tenant: string;
  profile: string;
  site: string;
  labels: Record<string, string>;
  configOverride: JsonObject | null;
  tokenHash: string;
  tokenRevokedAt: Date | null;
  tokenRotatedAt: Date | null;
  registeredAt: Date;
  status: DeviceStatus;
  reportedFirmware: Record<string, string>;
  reportedConfigHash: string | null;
  reportedState: JsonObject | null;
  desiredConfigHash: string | null;
  firmwareState: DeviceFirmwareState;
  inFlightStep: string | null;
  inFlightRollout: string | null;
  lastRevision: string | null;
  lastCheckInAt: Date | null;
  lastCell: string | null;
  lastLocation: JsonObject | null;
  lastUptimeMs: string | null;
  nextExpectedAt: Date | null;
  offlineAfterAt: Date | null;
}

export const DeviceEntity = new EntitySchema<DeviceRow>({
  name: 'Device',
  tableName: 'device',
  properties: {
    id: { type: 'string', primary: true },
    tenant: { type: 'string' },
    profile: { type: 'string' },
    site: { type: 'string' },
    labels: { type: 'json' },
    configOverride: { type: 'json', nullable: true },
    tokenHash: { type: 'string', hidden: true },
    tokenRevokedAt: { type: 'Date', nullable: true },
    tokenRotatedAt: { type: 'Date', nullable: true },
    registeredAt: { type: 'Date' },
    status: { type: 'string' },
    reportedFirmware: { type: 'json' },
    reportedConfigHash: { type: 'string', nullable: true },
    reportedState: { type: 'json', nullable: true },
    desiredConfigHash: { type: 'string', nullable: true },
    firmwareState: { type: 'json' },
    inFlightStep: { type: 'string', nullable: true },
    inFlightRollout: { type: 'string', nullable: true },
    lastRevision: { type: 'string', nullable: true },
    lastCheckInAt: { type: 'Date', nullable: true },
    lastCell: { type: 'string', nullable: true },
    lastLocation: { type: 'json', nullable: true },
    lastUptimeMs: { type: 'bigint', nullable: true },
    nextExpectedAt: { type: 'Date', nullable: true },
    offlineAfterAt: { type: 'Date', nullable: true },
  },
});

export interface CheckInRow {
  id: string;
  deviceId: string;
  receivedAt: Date;
  revision: string | null;
  reported: JsonObject;
  telemetry: JsonObject;
  battery: number | null;
  cell: string | null;
  /** The resolved location (gps / ble / cell), null when unknown. */
  location: JsonObject | null;
}

export const CheckInEntity = new EntitySchema<CheckInRow>({
  name: 'CheckIn',
  tableName: 'check_in',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    deviceId: { type: 'string' },
    receivedAt: { type: 'Date' },
    revision: { type: 'string', nullable: true },
    reported: { type: 'json' },
    telemetry: { type: 'json' },
    battery: { type: 'float', nullable: true },
    cell: { type: 'string', nullable: true },
    location: { type: 'json', nullable: true },
  },
});

export type CommandStatus = 'queued' | 'delivered' | 'succeeded' | 'failed' | 'rejected';

export interface CommandRow {
  id: string;
  deviceId: string;
  type: string;
  params: JsonObject;
  status: CommandStatus;
  createdBy: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  completedAt: Date | null;
  output: JsonValue | null;
}

export const CommandEntity = new EntitySchema<CommandRow>({
  name: 'Command',
  tableName: 'command',
  properties: {
    id: { type: 'string', primary: true },
    deviceId: { type: 'string' },
    type: { type: 'string' },
    params: { type: 'json' },
    status: { type: 'string' },
    createdBy: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
    deliveredAt: { type: 'Date', nullable: true },
    completedAt: { type: 'Date', nullable: true },
    output: { type: 'json', nullable: true },
  },
});

export interface FirmwareEventRow {
  id: string;
  deviceId: string;
  type: string;
  rollout: string | null;
  wave: string | null;
  stepId: string | null;
  component: string | null;
  fromVersion: string | null;
  toVersion: string | null;
  cell: string | null;
  error: string | null;
  at: Date;
}

export const FirmwareEventEntity = new EntitySchema<FirmwareEventRow>({
  name: 'FirmwareEvent',
  tableName: 'firmware_event',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    deviceId: { type: 'string' },
    type: { type: 'string' },
    rollout: { type: 'string', nullable: true },
    wave: { type: 'string', nullable: true },
    stepId: { type: 'string', nullable: true },
    component: { type: 'string', nullable: true },
    fromVersion: { type: 'string', nullable: true },
    toVersion: { type: 'string', nullable: true },
    cell: { type: 'string', nullable: true },
    error: { type: 'text', nullable: true },
    at: { type: 'Date' },
  },
});

export interface RolloutRuntimeRow {
  rollout: string;
  autoPausedReason: string | null;
  autoPausedAt: Date | null;
}

export const RolloutRuntimeEntity = new EntitySchema<RolloutRuntimeRow>({
  name: 'RolloutRuntime',
  tableName: 'rollout_runtime',
  properties: {
    rollout: { type: 'string', primary: true },
    autoPausedReason: { type: 'text', nullable: true },
    autoPausedAt: { type: 'Date', nullable: true },
  },
});

export interface WaveProgressRow {
  rollout: string;
  wave: string;
  succeeded: number;
  failed: number;
}

export const WaveProgressEntity = new EntitySchema<WaveProgressRow>({
  name: 'WaveProgress',
  tableName: 'wave_progress',
  properties: {
    rollout: { type: 'string', primary: true },
    wave: { type: 'string', primary: true },
    succeeded: { type: 'integer' },
    failed: { type: 'integer' },
  },
});

export interface ThrottleSlotRow {
  rollout: string;
  scope: string;
  inFlight: number;
}

export const ThrottleSlotEntity = new EntitySchema<ThrottleSlotRow>({
  name: 'ThrottleSlot',
  tableName: 'throttle_slot',
  properties: {
    rollout: { type: 'string', primary: true },
    scope: { type: 'string', primary: true },
    inFlight: { type: 'integer' },
  },
});

export type OperatorRole = 'viewer' | 'operator' | 'admin';

export interface OperatorTokenRow {
  id: string;
  name: string;
  tokenHash: string;
  role: OperatorRole;
  /** Tenant names, or ['*'] for every tenant. */
  tenants: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

export const OperatorTokenEntity = new EntitySchema<OperatorTokenRow>({
  name: 'OperatorToken',
  tableName: 'operator_token',
  properties: {
    id: { type: 'string', primary: true },
    name: { type: 'string' },
    tokenHash: { type: 'string', hidden: true },
    role: { type: 'string' },
    tenants: { type: 'json' },
    createdAt: { type: 'Date' },
    revokedAt: { type: 'Date', nullable: true },
  },
});

export const ENTITIES = [
  RevisionEntity,
  DeviceEntity,
  CheckInEntity,
  CommandEntity,
  FirmwareEventEntity,
  RolloutRuntimeEntity,
  WaveProgressEntity,
  ThrottleSlotEntity,
  OperatorTokenEntity,
  ...ALERT_ENTITIES,
  ...PROVISIONING_ENTITIES,
];
