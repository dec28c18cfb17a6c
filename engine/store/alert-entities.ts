// Entities of the alert tables (schema in Migration20261122090000_alerts): alerts, webhook
// deliveries and their attempts, imported cell towers. Mapped for MikroORM; the alert store
// reads and writes them with SQL of its own.
import { EntitySchema } from '@mikro-orm/core';
import type { JsonObject, Severity } from '../model/index.ts';

export type AlertRowStatus = 'open' | 'acknowledged' | 'resolved';

export interface AlertRow {
  id: string;
  rule: string;
  dedupeKey: string;
  scope: 'device' | 'fleet';
  severity: Severity;
  status: AlertRowStatus;
  tenant: string | null;
  site: string | null;
  deviceId: string | null;
  summary: string;
  details: JsonObject;
  openedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  clearSince: Date | null;
  holdDownSeconds: number;
}

export const AlertEntity = new EntitySchema<AlertRow>({
  name: 'Alert',
  tableName: 'alert',
  properties: {
    id: { type: 'string', primary: true },
    rule: { type: 'string' },
    dedupeKey: { type: 'string' },
    scope: { type: 'string' },
    severity: { type: 'string' },
    status: { type: 'string' },
    tenant: { type: 'string', nullable: true },
    site: { type: 'string', nullable: true },
    deviceId: { type: 'string', nullable: true },
    summary: { type: 'text' },
    details: { type: 'json' },
    openedAt: { type: 'Date' },
    acknowledgedAt: { type: 'Date', nullable: true },
    acknowledgedBy: { type: 'string', nullable: true },
    resolvedAt: { type: 'Date', nullable: true },
    clearSince: { type: 'Date', nullable: true },
    holdDownSeconds: { type: 'integer' },
  },
});

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveryRow {
  id: string;
  alertId: string;
  rule: string;
  event: string;
  url: string;
  secret: JsonObject | null;
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  lastStatusCode: number | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow>({
  name: 'WebhookDelivery',
  tableName: 'webhook_delivery',
  properties: {
    id: { type: 'string', primary: true },
    alertId: { type: 'string' },
    rule: { type: 'string' },
    event: { type: 'string' },
    url: { type: 'text' },
    secret: { type: 'json', nullable: true, hidden: true },
    body: { type: 'text' },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    nextAttemptAt: { type: 'Date', nullable: true },
    lastError: { type: 'text', nullable: true },
    lastStatusCode: { type: 'integer', nullable: true },
    createdAt: { type: 'Date' },
    deliveredAt: { type: 'Date', nullable: true },
  },
});

export interface WebhookAttemptRow {
  id: string;
  deliveryId: string;
  attempt: number;
  at: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export const WebhookAttemptEntity = new EntitySchema<WebhookAttemptRow>({
  name: 'WebhookAttempt',
  tableName: 'webhook_attempt',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    deliveryId: { type: 'string' },
    attempt: { type: 'integer' },
    at: { type: 'Date' },
    statusCode: { type: 'integer', nullable: true },
    error: { type: 'text', nullable: true },
    durationMs: { type: 'integer' },
  },
});

export interface CellTowerRecordRow {
  mcc: number;
  mnc: number;
  lac: number;
  cid: string;
  lat: number;
  lon: number;
  rangeM: number | null;
  updatedAt: Date;
}

export const CellTowerEntity = new EntitySchema<CellTowerRecordRow>({
  name: 'CellTower',
  tableName: 'cell_tower',
  properties: {
    mcc: { type: 'integer', primary: true },
    mnc: { type: 'integer', primary: true },
    lac: { type: 'integer', primary: true },
    cid: { type: 'bigint', primary: true },
    lat: { type: 'double' },
    lon: { type: 'double' },
    rangeM: { type: 'double', nullable: true },
    updatedAt: { type: 'Date' },
  },
});

export const ALERT_ENTITIES = [AlertEntity, WebhookDeliveryEntity, WebhookAttemptEntity, CellTowerEntity];
