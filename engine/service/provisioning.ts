// Provisioning jobs, server side: a job is created from the logs' contents (parsed and validated
// against the applied revision here), stored as batches, and worked by workers in every engine
// process. A worker leases a batch, runs each task stage over its due rows in dependency order,
// commits each stage in one lease-fenced transaction, and releases the batch (done, or due again
// when its retries are).
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { INITIAL_FIRMWARE_STATE, type Snapshot } from '../model/index.ts';
import type { BearerToken, ProvisioningApi } from '../http/index.ts';
import {
  FleetStore,
  LeaseLostError,
  ProvisioningStore,
  type BatchLease,
  type NewProvisioningRow,
  type OperatorRole,
  type ProvisioningTaskStates,
  type ProvisioningTx,
  type RowOutcomeUpdate,
} from '../store/index.ts';
import {
  PROVISIONING_TASKS,
  TokenBucket,
  assertCredentialsPublicKey,
  catalogFromSnapshot,
  CredentialsKeyError,
  failedAttempt,
  generateCredentialsKeyPair,
  initialTaskStates,
  isRunnable,
  nextDueAt,
  parseManufacturingLog,
  parseShipmentLog,
  resetFailed,
  rowFailure,
  summarizeTaskStates,
  rowOutcome,
  sealCredentials,
  succeeded,
  validateManufacturingRows,
  type ActivationResult,
  type CarrierActivator,
  type LogFormat,
  type ProvisioningPlan,
  type ProvisioningTaskName,
  type RowFailure,
  type TaskState,
  type TaskStates,
} from '../provisioning/index.ts';
import { InvalidRequestError, NoRevisionError, NotFoundError } from './errors.ts';
import { generateToken, hashToken } from './tokens.ts';

export interface ProvisioningPrincipal {
  name: string;
  /** null: every tenant. */
  tenants: readonly string[] | null;
}

/** Test hooks: an error thrown from one stops the worker on the spot, as if its process died (the lease is left to expire). */
export interface ProvisioningWorkerHooks {
  beforeStage?(task: ProvisioningTaskName, lease: BatchLease): void | Promise<void>;
  /** Inside the stage's transaction, after its writes, before the commit. */
  beforeCommit?(task: ProvisioningTaskName, lease: BatchLease): void | Promise<void>;
}

export interface ProvisioningServiceOptions {
  store: FleetStore;
  /** The applied revision's snapshot, or null before the first. */
  snapshot(): Snapshot | null;
  authorize(token: BearerToken, role: OperatorRole): Promise<ProvisioningPrincipal>;
  log: Logger;
  carrier?: CarrierActivator | null;
  /** Workers in this process (default 4: they mostly wait on PostgreSQL; 0: none, e.g. an API-only process). */
  workers?: number;
  /** Batch lease, ms (default 30 s); a dead worker's batch is taken over after it. */
  leaseMs?: number;
  /** Validated rows per batch (default 1000). */
  batchSize?: number;
  /** Idle wait between looks for work, ms (default 500). */
  pollMs?: number;
  random?: () => number;
}

const DEFAULT_BATCH_SIZE = 1000;
const MAX_BATCH_SIZE = 5000;
const READY_LABEL = { provisioning: 'ready' };
const DB_TASK_RETRY = new Map(PROVISIONING_TASKS.map((t) => [t.name, t.retry]));

interface WorkRow {
  rowNo: number;
  deviceId: string;
  plan: ProvisioningPlan;
  tasks: TaskStates;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function outcomeUpdate(row: WorkRow): RowOutcomeUpdate {
  const status = rowOutcome(row.tasks);
  const failure = status === 'failed' ? rowFailure(row.tasks) : null;
  return {
    rowNo: row.rowNo,
    status,
    failedTask: failure?.task ?? null,
    code: failure ? `${failure.task}-failed` : null,
    reason: failure?.error ?? null,
  };
}

/** A running worker: `finished` settles when it stops (or crashes through a hook). */
export interface ProvisioningWorkerHandle {
  readonly owner: string;
  readonly finished: Promise<{ crashed: boolean }>;
  stop(): Promise<void>;
}

export class ProvisioningService implements ProvisioningApi {
  readonly jobs: ProvisioningStore;
  private readonly workers = new Set<ProvisioningWorkerHandle>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private wakeUp: (() => void)[] = [];

  constructor(private readonly options: ProvisioningServiceOptions) {
    this.jobs = new ProvisioningStore(options.store);
    this.random = options.random ?? Math.random;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 500;
  }

  /** Starts the configured number of workers. */
  start(): void {
    for (let i = 0; i < (this.options.workers ?? 4); i++) this.startWorker();
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.stop()));
  }

  // ── jobs ────────────────────────────────────────────────────────────────

  async createProvisioningJob(token: BearerToken, body: unknown): Promise<object> {
    const principal = await this.options.authorize(token, 'operator');
    const request = parseJobRequest(body);
    const snapshot = this.options.snapshot();
    if (!snapshot) throw new NoRevisionError();

    const manufacturing = parseManufacturingLog(request.manufacturing.content, request.manufacturing.format);
    const shipments = request.shipments ? parseShipmentLog(request.shipments.content, request.shipments.format) : { rows: [], failures: [] };
    const validation = validateManufacturingRows(manufacturing.rows, shipments.rows, catalogFromSnapshot(snapshot), {
      defaultSite: request.defaultSite,
      tenants: principal.tenants,
    });
    let keyPair: { publicKey: string; privateKey: string | null };
    if (request.credentialsPublicKey) {
      try {
        assertCredentialsPublicKey(request.credentialsPublicKey);
      } catch (error) {
        if (error instanceof CredentialsKeyError) throw new InvalidRequestError(error.code, '/credentialsPublicKey', error.message);
        throw error;
      }
      keyPair = { publicKey: request.credentialsPublicKey, privateKey: null };
    } else {
      keyPair = generateCredentialsKeyPair();
    }
    const carrier = this.options.carrier ?? null;
    const failures: RowFailure[] = [...manufacturing.failures, ...validation.failures, ...shipments.failures];
    const rows: NewProvisioningRow[] = [
      ...validation.plans.map((plan) => ({
        log: 'manufacturing' as const,
        rowNo: plan.row,
        line: plan.line,
        deviceId: plan.deviceId,
        plan,
        tasks: initialTaskStates({ hasSim: plan.iccid !== null, carrier: carrier !== null }) as ProvisioningTaskStates,
        failure: null,
      })),
      ...failures.map((f) => ({
        log: f.log,
        rowNo: f.row,
        line: f.line,
        deviceId: f.deviceId,
        plan: null,
        tasks: null,
        failure: { code: f.code, reason: f.reason },
      })),
    ].sort((a, b) => (a.log === b.log ? a.rowNo - b.rowNo : a.log < b.log ? -1 : 1));
    const id = randomUUID();
    await this.jobs.createJob({
      id,
      createdBy: principal.name,
      batchSize: request.batchSize ?? this.options.batchSize ?? DEFAULT_BATCH_SIZE,
      carrier: carrier?.name ?? null,
      credentialsPublicKey: keyPair.publicKey,
      rowsTotal: validation.plans.length + manufacturing.failures.length + validation.failures.length,
      rows,
      initialProgress: (batchRows) => summarizeTaskStates(batchRows.map((r) => r.tasks as TaskStates)),
    });
    this.options.log.info(
      { job: id, operator: principal.name, rows: validation.plans.length, failed: failures.length },
      'provisioning job created',
    );
    for (const wake of this.wakeUp.splice(0)) wake();
    const view = await this.jobView(id, principal, {});
    // The private key is shown here only, and only when the server made the pair.
    return keyPair.privateKey ? { ...view, credentialsPrivateKey: keyPair.privateKey } : view;
  }

  private async jobView(id: string, principal: ProvisioningPrincipal, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object> {
    const progress = await this.jobs.progress(id);
    if (!progress || !this.visible(progress.job.createdBy, principal)) throw new NotFoundError('provisioning job', id);
    const failures = await this.jobs.failures(id, Math.min(query.failuresLimit ?? 100, 10_000), query.failuresOffset ?? 0);
    const { job } = progress;
    return {
      id: job.id,
      status: job.status,
      createdBy: job.createdBy,
      createdAt: job.createdAt.toISOString(),
      completedAt: job.completedAt?.toISOString() ?? null,
      carrier: job.carrier,
      rows: progress.rows,
      tasks: progress.tasks,
      batches: progress.batches,
      credentialsWaiting: progress.credentialsWaiting,
      failures,
    };
  }

  /** Jobs are seen by their creator and by operators of every tenant. */
  private visible(createdBy: string, principal: ProvisioningPrincipal): boolean {
    return principal.tenants === null || createdBy === principal.name;
  }

  private async ownJob(token: BearerToken, id: string, role: OperatorRole): Promise<ProvisioningPrincipal> {
    const principal = await this.options.authorize(token, role);
    const job = await this.jobs.getJob(id);
    if (!job || !this.visible(job.createdBy, principal)) throw new NotFoundError('provisioning job', id);
    return principal;
  }

  async getProvisioningJob(token: BearerToken, id: string, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object> {
    const principal = await this.options.authorize(token, 'viewer');
    return this.jobView(id, principal, query);
  }

  async resumeProvisioningJob(token: BearerToken, id: string): Promise<object> {
    const principal = await this.ownJob(token, id, 'operator');
    await this.jobs.resumeJob(id);
    for (const wake of this.wakeUp.splice(0)) wake();
    return this.jobView(id, principal, {});
  }

  async retryFailedProvisioningJob(token: BearerToken, id: string): Promise<object> {
    const principal = await this.ownJob(token, id, 'operator');
    const retried = await this.jobs.retryFailed(id, (tasks) => resetFailed(tasks as TaskStates) as ProvisioningTaskStates);
    for (const wake of this.wakeUp.splice(0)) wake();
    return { retried, job: await this.jobView(id, principal, {}) };
  }

  async stopProvisioningJob(token: BearerToken, id: string): Promise<object> {
    const principal = await this.ownJob(token, id, 'operator');
    await this.jobs.stopJob(id);
    return this.jobView(id, principal, {});
  }

  async provisioningCredentials(token: BearerToken, id: string, limit: number): Promise<object> {
    await this.ownJob(token, id, 'operator');
    return { batches: await this.jobs.pendingCredentials(id, limit) };
  }

  async acknowledgeProvisioningCredentials(token: BearerToken, id: string, body: unknown): Promise<object> {
    await this.ownJob(token, id, 'operator');
    const ids = (body as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string' && /^\d+$/.test(i))) {
      throw new InvalidRequestError('invalid-request', '/ids', 'ids must be a list of credential batch ids');
    }
    return { erased: await this.jobs.acknowledgeCredentials(id, ids as string[]) };
  }

  // ── workers ─────────────────────────────────────────────────────────────

  startWorker(hooks: ProvisioningWorkerHooks = {}): ProvisioningWorkerHandle {
    const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const abort = new AbortController();
    const finished = this.workLoop(owner, abort.signal, hooks);
    const handle: ProvisioningWorkerHandle = {
      owner,
      finished,
      stop: async () => {
        abort.abort();
        await finished;
      },
    };
    this.workers.add(handle);
    void finished.finally(() => this.workers.delete(handle));
    return handle;
  }

  private async workLoop(owner: string, signal: AbortSignal, hooks: ProvisioningWorkerHooks): Promise<{ crashed: boolean }> {
    let failures = 0;
    while (!signal.aborted) {
      let lease: BatchLease | null;
      try {
        lease = await this.jobs.claimBatch(owner, this.leaseMs);
        failures = 0;
      } catch (error) {
        failures++;
        this.options.log.warn({ err: error, worker: owner }, 'provisioning: cannot claim a batch');
        await sleep(Math.min(30_000, this.pollMs * 2 ** Math.min(failures, 6)), signal);
        continue;
      }
      if (!lease) {
        await new Promise<void>((resolve) => {
          this.wakeUp.push(resolve);
          void sleep(this.pollMs, signal).then(resolve);
        });
        continue;
      }
      try {
        await this.processBatch(lease, hooks, signal);
      } catch (error) {
        if (error instanceof HookCrash) return { crashed: true };
        if (error instanceof LeaseLostError) {
          this.options.log.warn({ worker: owner, job: lease.jobId, batch: lease.seq }, 'provisioning: lease lost, batch left to its new owner');
          continue;
        }
        this.options.log.warn({ err: error, worker: owner, job: lease.jobId, batch: lease.seq }, 'provisioning: batch failed, retrying later');
        const retryAt = new Date(Date.now() + Math.round(this.pollMs * (2 + this.random() * 4)));
        await this.jobs.releaseBatch(lease, { done: false, nextAttemptAt: retryAt }).catch(() => undefined);
      }
    }
    return { crashed: false };
  }

  private async hook(run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      throw new HookCrash(error);
    }
  }

  private async processBatch(lease: BatchLease, hooks: ProvisioningWorkerHooks, signal: AbortSignal): Promise<void> {
    const batch = await this.jobs.loadBatch(lease);
    const rows: WorkRow[] = batch.rows.map((r) => ({ rowNo: r.rowNo, deviceId: r.deviceId, plan: r.plan as ProvisioningPlan, tasks: r.tasks as TaskStates }));
    const touched = new Set<number>();
    for (const spec of PROVISIONING_TASKS) {
      if (spec.name === 'validate') continue;
      const due = rows.filter((row) => isRunnable(row.tasks, spec.name, Date.now()));
      if (due.length === 0) continue;
      for (const row of due) touched.add(row.rowNo);
      if (hooks.beforeStage) await this.hook(() => hooks.beforeStage!(spec.name, lease));
      if (spec.name === 'activate') await this.activateStage(lease, rows, due, hooks, signal);
      else await this.databaseStage(spec.name, lease, rows, due, batch.job.credentialsPublicKey, hooks);
    }
    const pending = rows.filter((row) => rowOutcome(row.tasks) === 'pending');
    const due = pending.map((row) => nextDueAt(row.tasks)).filter((t): t is number => t !== null);
    await this.jobs.releaseBatch(lease, {
      done: pending.length === 0,
      // Pending with nothing to retry: waiting on another job's worker or on a process with a carrier.
      nextAttemptAt: pending.length === 0 ? null : new Date(due.length > 0 ? Math.min(...due) : Date.now() + Math.max(1000, this.pollMs * 10)),
      // Rows no stage touched (all done by an earlier job: a re-import) get their outcome here.
      rows: rows.filter((row) => !touched.has(row.rowNo)).map(outcomeUpdate),
      progress: summarizeTaskStates(rows.map((row) => row.tasks)),
    });
  }

  /**
   * One stage of a batch in one transaction: the task's writes, the new task states and row
   * outcomes commit together (or not at all), so a task is never done twice for a device. The
   * devices' ledger rows are locked first and re-read: a device another job's worker moved on
   * meanwhile (two overlapping imports) is left out of this stage and its state taken as it is.
   */
  private async commitStage(
    task: ProvisioningTaskName,
    lease: BatchLease,
    batch: readonly WorkRow[],
    due: WorkRow[],
    hooks: ProvisioningWorkerHooks,
    writes: (tx: ProvisioningTx, fresh: WorkRow[]) => Promise<Map<string, TaskState>>,
  ): Promise<void> {
    const next = await this.jobs.inLeasedTransaction(lease, this.leaseMs, async (tx) => {
      const current = (await tx.lockTaskStates(due.map((row) => row.deviceId))) as Map<string, TaskStates>;
      const fresh: WorkRow[] = [];
      const updated: { row: WorkRow; tasks: TaskStates }[] = [];
      for (const row of due) {
        const now = current.get(row.deviceId);
        if (now && JSON.stringify(now[task]) === JSON.stringify(row.tasks[task])) fresh.push(row);
        else if (now) updated.push({ row, tasks: now });
      }
      const states = fresh.length > 0 ? await writes(tx, fresh) : new Map<string, TaskState>();
      const written = fresh.map((row) => ({ row, tasks: { ...row.tasks, [task]: states.get(row.deviceId) ?? row.tasks[task] } as TaskStates }));
      await tx.saveTaskStates(written.map((u) => ({ deviceId: u.row.deviceId, tasks: u.tasks as ProvisioningTaskStates })));
      updated.push(...written);
      // Only rows whose outcome changed: most stages leave rows pending.
      await tx.saveRowOutcomes(
        lease.jobId,
        updated.filter((u) => rowOutcome(u.tasks) !== rowOutcome(u.row.tasks)).map((u) => outcomeUpdate({ ...u.row, tasks: u.tasks })),
      );
      const next = new Map(updated.map((u) => [u.row.rowNo, u.tasks]));
      tx.stageBatchProgress(summarizeTaskStates(batch.map((row) => next.get(row.rowNo) ?? row.tasks)));
      if (hooks.beforeCommit) await this.hook(() => hooks.beforeCommit!(task, lease));
      return updated;
    });
    // In memory only once committed.
    for (const { row, tasks } of next) row.tasks = tasks;
  }

  private async databaseStage(
    task: ProvisioningTaskName,
    lease: BatchLease,
    batch: readonly WorkRow[],
    due: WorkRow[],
    credentialsPublicKey: string,
    hooks: ProvisioningWorkerHooks,
  ): Promise<void> {
    const now = new Date();
    const retry = DB_TASK_RETRY.get(task)!;
    await this.commitStage(task, lease, batch, due, hooks, async (tx, fresh) => {
      const states = new Map<string, TaskState>();
      switch (task) {
        case 'register': {
          const inserted = await tx.insertDevices(
            fresh.map(({ plan }) => ({
              id: plan.deviceId,
              tenant: plan.tenant,
              profile: plan.profile,
              site: plan.site,
              labels: plan.labels,
              reportedFirmware: plan.firmware,
              firmwareState: INITIAL_FIRMWARE_STATE,
            })),
          );
          for (const row of fresh) {
            states.set(
              row.deviceId,
              inserted.has(row.deviceId)
                ? succeeded(row.tasks.register)
                : failedAttempt(row.tasks.register, retry, { error: `device-exists: ${row.deviceId} was registered outside provisioning`, permanent: true }, now.getTime(), this.random),
            );
          }
          break;
        }
        case 'credentials': {
          const credentials = fresh.map((row) => ({ deviceId: row.deviceId, token: generateToken('ffd') }));
          await tx.setTokenHashes(credentials.map((c) => ({ id: c.deviceId, tokenHash: hashToken(c.token) })), now);
          await tx.storeSealedCredentials(lease.jobId, lease.seq, credentials.length, sealCredentials(credentials, credentialsPublicKey));
          for (const row of fresh) states.set(row.deviceId, succeeded(row.tasks.credentials));
          break;
        }
        case 'site': {
          await tx.applySites(fresh.map(({ plan }) => ({ id: plan.deviceId, site: plan.site, tenant: plan.tenant })));
          for (const row of fresh) states.set(row.deviceId, succeeded(row.tasks.site));
          break;
        }
        case 'ready': {
          await tx.addLabels(fresh.map((row) => row.deviceId), READY_LABEL);
          for (const row of fresh) states.set(row.deviceId, succeeded(row.tasks.ready));
          break;
        }
        default:
          throw new Error(`no database stage for ${task}`);
      }
      return states;
    });
  }

  private bucket(carrier: CarrierActivator): TokenBucket {
    let bucket = this.buckets.get(carrier.name);
    if (!bucket) {
      bucket = new TokenBucket(carrier.rateLimit, Date.now());
      this.buckets.set(carrier.name, bucket);
    }
    return bucket;
  }

  /** Carrier activation: in chunks the rate limit grants, each chunk's results committed at once. */
  private async activateStage(lease: BatchLease, batch: readonly WorkRow[], due: WorkRow[], hooks: ProvisioningWorkerHooks, signal: AbortSignal): Promise<void> {
    const carrier = this.options.carrier;
    if (!carrier) {
      // A job created with a carrier, worked by a process without one: leave the rows for another.
      return;
    }
    const bucket = this.bucket(carrier);
    let remaining = due;
    while (remaining.length > 0) {
      if (signal.aborted) return;
      const wanted = Math.min(remaining.length, carrier.maxBatch);
      const granted = bucket.take(wanted, Date.now());
      if (granted === 0) {
        await sleep(Math.max(1, bucket.waitMs(wanted, Date.now())), signal);
        continue;
      }
      const chunk = remaining.slice(0, granted);
      remaining = remaining.slice(granted);
      let results: ActivationResult[];
      try {
        results = await carrier.activate(chunk.map((row) => ({ deviceId: row.deviceId, iccid: row.plan.iccid ?? '', imei: row.plan.imei })));
      } catch (error) {
        const message = `carrier unavailable: ${(error as Error).message}`;
        results = chunk.map((row) => ({ deviceId: row.deviceId, outcome: 'retry', error: message }));
      }
      const byId = new Map(results.map((r) => [r.deviceId, r]));
      const now = Date.now();
      await this.commitStage('activate', lease, batch, chunk, hooks, async (_tx, fresh) => {
        const states = new Map<string, TaskState>();
        for (const row of fresh) {
          const result = byId.get(row.deviceId);
          const state = row.tasks.activate;
          if (result?.outcome === 'activated') states.set(row.deviceId, succeeded(state));
          else states.set(row.deviceId, failedAttempt(state, carrier.retry, { error: result?.error ?? 'no result', permanent: result?.outcome === 'rejected' }, now, this.random));
        }
        return states;
      });
    }
  }
}

class HookCrash extends Error {
  constructor(cause: unknown) {
    super('worker stopped by a hook', { cause });
  }
}

interface JobRequest {
  manufacturing: { content: string; format: LogFormat };
  shipments: { content: string; format: LogFormat } | null;
  defaultSite: string | null;
  credentialsPublicKey: string | null;
  batchSize: number | null;
}

function logPart(value: unknown, field: string): { content: string; format: LogFormat } {
  const part = value as { content?: unknown; format?: unknown } | null;
  if (!part || typeof part !== 'object' || typeof part.content !== 'string') {
    throw new InvalidRequestError('invalid-request', `/${field}/content`, `${field}.content must be the log file's text`);
  }
  const format = part.format ?? 'csv';
  if (format !== 'csv' && format !== 'jsonl') throw new InvalidRequestError('invalid-request', `/${field}/format`, `${field}.format must be csv or jsonl`);
  return { content: part.content, format };
}

function parseJobRequest(body: unknown): JobRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('invalid-request', '', 'expected a JSON object');
  const b = body as Record<string, unknown>;
  const optionalString = (key: string): string | null => {
    const value = b[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' || value === '') throw new InvalidRequestError('invalid-request', `/${key}`, `${key} must be a non-empty string`);
    return value;
  };
  let batchSize: number | null = null;
  if (b.batchSize !== undefined) {
    if (typeof b.batchSize !== 'number' || !Number.isInteger(b.batchSize) || b.batchSize < 1 || b.batchSize > MAX_BATCH_SIZE) {
      throw new InvalidRequestError('invalid-request', '/batchSize', `batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    batchSize = b.batchSize;
  }
  return {
    manufacturing: logPart(b.manufacturing, 'manufacturing'),
    shipments: b.shipments === undefined || b.shipments === null ? null : logPart(b.shipments, 'shipments'),
    defaultSite: optionalString('defaultSite'),
    credentialsPublicKey: optionalString('credentialsPublicKey'),
    batchSize,
  };
}
