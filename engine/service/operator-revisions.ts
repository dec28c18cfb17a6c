// The operator API for revisions: the recorded list, one revision with its issues, and the plan of merging one.
import type { BearerToken, PlanFormat } from '../http/index.ts';
import type { RevisionRow } from '../store/index.ts';
import { NotFoundError } from './errors.ts';
import { iso, type OperatorContext } from './operator-context.ts';
import type { RenderedPlan, RevisionPlanner } from './revision-plan.ts';

function revisionView(row: RevisionRow, withIssues: boolean): object {
  return {
    sha: row.sha,
    status: row.status,
    author: row.author,
    message: row.message,
    committedAt: iso(row.committedAt),
    recordedAt: iso(row.recordedAt),
    appliedAt: iso(row.appliedAt),
    issueCount: row.issues.length,
    ...(withIssues ? { issues: row.issues } : {}),
  };
}

export class OperatorRevisions {
  constructor(
    private readonly context: OperatorContext,
    private readonly plans: RevisionPlanner,
  ) {}

  async listRevisions(token: BearerToken): Promise<object> {
    await this.context.authorize(token, 'viewer');
    const rows = await this.context.store.revisions.list();
    return { active: this.context.revision()?.sha ?? null, revisions: rows.map((r) => revisionView(r, false)) };
  }

  async getRevision(token: BearerToken, sha: string): Promise<object> {
    await this.context.authorize(token, 'viewer');
    const row = await this.context.store.revisions.get(sha);
    if (!row) throw new NotFoundError('revision', sha);
    return revisionView(row, true);
  }

  /** The review of `sha` against `base` (default: the applied revision), with this operator's devices. */
  async planRevision(token: BearerToken, sha: string, query: { base?: string; format?: PlanFormat }): Promise<RenderedPlan> {
    const principal = await this.context.authorize(token, 'viewer');
    return this.plans.plan({ head: sha, base: query.base ?? this.context.revision()?.sha ?? null, tenants: principal.tenants, format: query.format ?? 'json' });
  }
}
