// `GET /v1/revisions/{sha}/plan?base=`: the review `fleetform diff` prints, computed by the engine
// against the devices it knows. Base defaults to the applied revision: "what would merging this do now".
import type { Logger } from 'pino';
import { GitAdapterError, readRevisionTree, type GitCache } from '../git/index.ts';
import { VALIDATE_CHECKS } from '../config/index.ts';
import { firmwarePort, renderReview, reviewChange } from '../review/index.ts';
import type { FleetStore } from '../store/index.ts';
import type { PlanFormat } from '../http/index.ts';
import { readFleetDevices } from './fleet-devices.ts';
import { EngineError, NotFoundError } from './errors.ts';

const CONTENT_TYPES: Record<PlanFormat, string> = {
  json: 'application/json; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  text: 'text/plain; charset=utf-8',
};

export interface RenderedPlan {
  contentType: string;
  body: string;
}

export interface RevisionPlanOptions {
  repoDir: string;
  store: FleetStore;
  log: Logger;
  identity?: string;
}

export class NoBaseRevisionError extends EngineError {
  constructor() {
    super(409, 'no-base-revision', 'no revision is applied yet: pass base= explicitly', '/base');
  }
}

export class RevisionPlanner {
  private readonly gitCache: GitCache = {};
  /** One review at a time: each holds the whole fleet in memory and the CPU of this process. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RevisionPlanOptions) {}

  /** `tenants` null: the whole fleet; else only devices of those tenants are counted. */
  plan(request: { head: string; base: string | null; tenants: readonly string[] | null; format: PlanFormat }): Promise<RenderedPlan> {
    const run = this.queue.then(() => this.review(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async review(request: { head: string; base: string | null; tenants: readonly string[] | null; format: PlanFormat }): Promise<RenderedPlan> {
    if (request.base === null) throw new NoBaseRevisionError();
    const [base, head] = [await this.tree(request.base, '/base'), await this.tree(request.head, '/sha')];
    const devices = await readFleetDevices(this.options.store, request.tenants);
    const started = performance.now();
    const review = await reviewChange({
      base,
      head,
      devices,
      firmware: firmwarePort(),
      checks: VALIDATE_CHECKS,
      ...(this.options.identity ? { identity: this.options.identity } : {}),
    });
    this.options.log.info({ base: request.base, head: request.head, devices: devices.length, ms: Math.round(performance.now() - started) }, 'revision plan');
    return { contentType: CONTENT_TYPES[request.format], body: renderReview(review, request.format) };
  }

  private async tree(ref: string, field: string): ReturnType<typeof readRevisionTree> {
    // A commit only: branch names on the engine's clone are not what a reviewer means.
    if (!/^[0-9a-f]{4,40}$/i.test(ref)) throw new EngineError(400, 'invalid-request', `${field.slice(1)} must be a commit sha (4 to 40 hex digits)`, field);
    try {
      return await readRevisionTree({ dir: this.options.repoDir, ref: ref.toLowerCase(), cache: this.gitCache });
    } catch (error) {
      if (error instanceof GitAdapterError && error.code !== 'not-a-repository') {
        throw new NotFoundError('revision', `${ref} (not in the engine's repository: push or fetch it there first)`);
      }
      throw error;
    }
  }
}
