// Revisions of the fleet repository as the engine recorded them: applied or rejected, with their issues.
import type { Issue } from '../model/index.ts';
import type { RevisionRow } from './entities.ts';
import { toDate, type StoreConnection } from './connection.ts';

export class RevisionStore {
  constructor(private readonly db: StoreConnection) {}

  async record(row: {
    sha: string;
    author: string;
    message: string;
    committedAt: Date | null;
    status: 'applied' | 'rejected';
    issues: readonly Issue[];
    at: Date;
  }): Promise<void> {
    await this.db.sql(
      `insert into revision (sha, author, message, committed_at, recorded_at, applied_at, status, issues)
       values (?, ?, ?, ?, ?, ?, ?, ?::jsonb)
       on conflict (sha) do update set status = excluded.status, issues = excluded.issues,
         applied_at = excluded.applied_at, recorded_at = excluded.recorded_at`,
      [
        row.sha,
        row.author,
        row.message,
        row.committedAt,
        row.at,
        row.status === 'applied' ? row.at : null,
        row.status,
        JSON.stringify(row.issues),
      ],
    );
  }

  async lastApplied(): Promise<RevisionRow | null> {
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from revision where status = 'applied' order by applied_at desc limit 1`,
    );
    return rows[0] ? revisionFromRow(rows[0]) : null;
  }

  async get(sha: string): Promise<RevisionRow | null> {
    const rows = await this.db.sql<Record<string, unknown>>(`select * from revision where sha = ?`, [sha]);
    return rows[0] ? revisionFromRow(rows[0]) : null;
  }

  async list(limit = 100): Promise<RevisionRow[]> {
    const rows = await this.db.sql<Record<string, unknown>>(
      `select * from revision order by recorded_at desc limit ?`,
      [limit],
    );
    return rows.map(revisionFromRow);
  }
}

function revisionFromRow(row: Record<string, unknown>): RevisionRow {
  return {
    sha: String(row.sha),
    author: String(row.author),
    message: String(row.message),
    committedAt: toDate(row.committed_at),
    recordedAt: toDate(row.recorded_at) ?? new Date(0),
    appliedAt: toDate(row.applied_at),
    status: row.status as RevisionRow['status'],
    issues: row.issues as Issue[],
  };
}
