// Commands queued for a device by operators (and alert actions); delivered and answered on check-in.
import { randomUUID } from 'node:crypto';
import type { JsonObject, JsonValue } from '../model/index.ts';
import type { CommandRow } from './entities.ts';
import { toDate, type StoreConnection } from './connection.ts';

export class CommandStore {
  constructor(private readonly db: StoreConnection) {}

  async queue(command: { deviceId: string; type: string; params: JsonObject; createdBy: string | null; at: Date }): Promise<CommandRow> {
    const id = randomUUID();
    await this.db.sql(
      `insert into command (id, device_id, type, params, status, created_by, created_at) values (?, ?, ?, ?::jsonb, 'queued', ?, ?)`,
      [id, command.deviceId, command.type, JSON.stringify(command.params), command.createdBy, command.at],
    );
    return {
      id,
      deviceId: command.deviceId,
      type: command.type,
      params: command.params,
      status: 'queued',
      createdBy: command.createdBy,
      createdAt: command.at,
      deliveredAt: null,
      completedAt: null,
      output: null,
    };
  }

  async list(deviceId: string, limit = 50): Promise<CommandRow[]> {
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from command where device_id = ? order by created_at desc limit ?`,
      [deviceId, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      deviceId: String(r.device_id),
      type: String(r.type),
      params: r.params as JsonObject,
      status: r.status as CommandRow['status'],
      createdBy: (r.created_by as string | null) ?? null,
      createdAt: toDate(r.created_at) ?? new Date(0),
      deliveredAt: toDate(r.delivered_at),
      completedAt: toDate(r.completed_at),
      output: (r.output as JsonValue | null) ?? null,
    }));
  }
}
