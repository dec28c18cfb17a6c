// Operator tokens: stored as hashes with a role and the tenants they may see; the bootstrap admin's checks.
import { randomUUID } from 'node:crypto';
import type { OperatorRole, OperatorTokenRow } from './entities.ts';
import { toDate, type StoreConnection } from './connection.ts';

export class OperatorTokenStore {
  constructor(private readonly db: StoreConnection) {}

  async create(token: { name: string; tokenHash: string; role: OperatorRole; tenants: readonly string[] }): Promise<string> {
    const id = randomUUID();
    await this.db.sql(
      `insert into operator_token (id, name, token_hash, role, tenants) values (?, ?, ?, ?, ?::jsonb)`,
      [id, token.name, token.tokenHash, token.role, JSON.stringify(token.tenants)],
    );
    return id;
  }

  async findByHash(tokenHash: string): Promise<OperatorTokenRow | null> {
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from operator_token where token_hash = ? and revoked_at is null`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: String(row.id),
      name: String(row.name),
      tokenHash: String(row.token_hash),
      role: row.role as OperatorRole,
      tenants: row.tenants as string[],
      createdAt: toDate(row.created_at) ?? new Date(0),
      revokedAt: null,
    };
  }

  async hasAdmin(): Promise<boolean> {
    const rows = await this.db.sql(`select 1 from operator_token where role = 'admin' and revoked_at is null limit 1`);
    return rows.length > 0;
  }

  async hasHash(tokenHash: string): Promise<boolean> {
    const rows = await this.db.sql(`select 1 from operator_token where token_hash = ?`, [tokenHash]);
    return rows.length > 0;
  }
}
