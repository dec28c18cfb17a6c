// Provisioning workers: every engine process runs some. A worker leases a batch, runs each task
// stage over its due rows in dependency order, commits each stage in one lease-fenced transaction,
// and releases the batch (done, or due again when its retries are). Carrier calls take their
// turn from a token bucket in PostgreSQL, so the carrier's rate limit holds across processes.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { INITIAL_FIRMWARE_STATE } from '../model/index.ts';
import {
  CarrierRateBuckets,
  LeaseLostError,
  type BatchLease,
  type ProvisioningStore,
  type ProvisioningTaskStates,
  type ProvisioningTx,
  type RowOutcomeUpdate,
} from '../store/index.ts';
import {
  PROVISIONING_TASKS,
  deviceInUseReason,
  failedAttempt,
  isRunnable,
  nextDueAt,
  rowFailure,
  rowOutcome,
  sealCredentials,
  succeeded,
  summarizeTaskStates,
  type ActivationResult,
  type CarrierActivator,
  type ProvisioningPlan,
  type ProvisioningTaskName,
  type TaskState,
  type TaskStates,
} from '../provisioning/index.ts';
import { generateToken, hashToken } from './tokens.ts';

/** Test hooks: an error thrown from one stops the worker on the spot, as if its process died (the lease is left to expire). */
export interface ProvisioningWorkerHooks {
  beforeStage?(task: ProvisioningTaskName, lease: BatchLease): void | Promise<void>;
  /** Inside the stage's transaction, after its writes, before the commit. */
  beforeCommit?(task: ProvisioningTaskName, lease: BatchLease): void | Promise<void>;
}

/** A running worker: `finished` settles when it stops (or crashes through a hook). */
export interface ProvisioningWorkerHandle {
  readonly owner: string;
  readonly finished: Promise<{ crashed: boolean }>;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  jobs: ProvisioningStore;
  rates: CarrierRateBuckets;
  log: Logger;
  carrier: CarrierActivator | null;
  leaseMs: number;
  pollMs: number;
  random: () => number;
  /** Resolves when there may be work (a job was created or resumed), or after pollMs. */
  waitForWork(signal: AbortSignal): Promise<void>;
}

const READY_LABEL = { provisioning: 'ready' };
const DB_TASK_RETRY = new Map(PROVISIONING_TASKS.map((t) => [t.name, t.retry]));

interface WorkRow {
  rowNo: number;
  deviceId: string;
  plan: ProvisioningPlan;
  tasks: TaskStates;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

class HookCrash extends Error {
  constructor(cause: unknown) {
    super('worker stopped by a hook', { cause });
  }
}

export class ProvisioningWorkers {
  private readonly running = new Set<ProvisioningWorkerHandle>();

  constructor(private readonly options: WorkerOptions) {}

  async close(): Promise<void> {
    await Promise.all([...this.running].map((w) => w.stop()));
  }

  start(hooks: ProvisioningWorkerHooks = {}): ProvisioningWorkerHandle {
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
    this.running.add(handle);
    void finished.finally(() => this.running.delete(handle));
    return handle;
  }

  private async workLoop(owner: string, signal: AbortSignal, hooks: ProvisioningWorkerHooks): Promise<{ crashed: boolean }> {
    const { jobs, log, pollMs } = this.options;
    let failures = 0;
    while (!signal.aborted) {
      let lease: BatchLease | null;
      try {
        lease = await jobs.claimBatch(owner, this.options.leaseMs);
        failures = 0;
      } catch (error) {
        failures++;
        log.warn({ err: error, worker: owner }, 'provisioning: cannot claim a batch');
        await sleep(Math.min(30_000, pollMs * 2 ** Math.min(failures, 6)), signal);
        continue;
      }
      if (!lease) {
        await this.options.waitForWork(signal);
        continue;
      }
      try {
        await this.processBatch(lease, hooks, signal);
      } catch (error) {
        if (error instanceof HookCrash) return { crashed: true };
        if (error instanceof LeaseLostError) {
          log.warn({ worker: owner, job: lease.jobId, batch: lease.seq }, 'provisioning: lease lost, batch left to its new owner');
          continue;
        }
        log.warn({ err: error, worker: owner, job: lease.jobId, batch: lease.seq }, 'provisioning: batch failed, retrying later');
        const retryAt = new Date(Date.now() + Math.round(pollMs * (2 + this.options.random() * 4)));
        await jobs.releaseBatch(lease, { done: false, nextAttemptAt: retryAt }).catch(() => undefined);
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
    const batch = await this.options.jobs.loadBatch(lease);
    const rows: WorkRow[] = batch.rows.map((r) => ({ rowNo: r.rowNo, deviceId: r.deviceId, plan: r.plan as ProvisioningPlan, tasks: r.tasks as TaskStates }));
    const touched = new Set<number>();
    for (const spec of PROVISIONING_TASKS) {
      if (spec.name === 'validate') continue;
      const due = rows.filter((row) => isRunnable(row.tasks, spec.name, Date.now()));
      if (due.length === 0) continue;
      for (const row of due) touched.add(row.rowNo);
      if (hooks.beforeStage) await this.hook(() => hooks.beforeStage!(spec.name, lease));
      if (spec.name === 'activate') await this.activateStage(lease, rows, due, hooks, signal);
      else await this.databaseStage(spec.name, lease, rows, due, batch.job.credentialsRecipients, hooks);
    }
    const pending = rows.filter((row) => rowOutcome(row.tasks) === 'pending');
    const due = pending.map((row) => nextDueAt(row.tasks)).filter((t): t is number => t !== null);
    await this.options.jobs.releaseBatch(lease, {
      done: pending.length === 0,
      // Pending with nothing to retry: waiting on another job's worker or on a process with a carrier.
      nextAttemptAt: pending.length === 0 ? null : new Date(due.length > 0 ? Math.min(...due) : Date.now() + Math.max(1000, this.options.pollMs * 10)),
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
    const next = await this.options.jobs.inLeasedTransaction(lease, this.options.leaseMs, async (tx) => {
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
    recipients: readonly string[],
    hooks: ProvisioningWorkerHooks,
  ): Promise<void> {
    const now = new Date();
    const retry = DB_TASK_RETRY.get(task)!;
    // Tokens are made and sealed before the transaction (sealing is the slow part): its locks are held only for the writes.
    const issue = async (rows: readonly WorkRow[]) => {
      const credentials = rows.map((row) => ({ deviceId: row.deviceId, token: generateToken('ffd') }));
      return { credentials, sealed: await sealCredentials(credentials, recipients) };
    };
    const prepared = task === 'credentials' ? await issue(due) : null;
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
            // Registered meanwhile by someone else (whatever its tenant): the same answer as at validation.
            const taken = { error: `device-exists: ${deviceInUseReason(row.deviceId)}`, permanent: true };
            states.set(row.deviceId, inserted.has(row.deviceId) ? succeeded(row.tasks.register) : failedAttempt(row.tasks.register, retry, taken, now.getTime(), this.options.random));
          }
          break;
        }
        case 'credentials': {
          // Some devices were moved on by another job meanwhile: issue only for the rest.
          const { credentials, sealed } = fresh.length === due.length ? prepared! : await issue(fresh);
          await tx.setTokenHashes(credentials.map((c) => ({ id: c.deviceId, tokenHash: hashToken(c.token) })), now);
          await tx.storeSealedCredentials(lease.jobId, lease.seq, credentials.length, sealed);
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

  /** Carrier activation: in chunks the shared rate limit grants, each chunk's results committed at once. */
  private async activateStage(lease: BatchLease, batch: readonly WorkRow[], due: WorkRow[], hooks: ProvisioningWorkerHooks, signal: AbortSignal): Promise<void> {
    const carrier = this.options.carrier;
    // A job created with a carrier, worked by a process without one: leave the rows for another.
    if (!carrier) return;
    let remaining = due;
    while (remaining.length > 0) {
      if (signal.aborted) return;
      const wanted = Math.min(remaining.length, carrier.maxBatch);
      const { granted, waitMs } = await this.options.rates.take(carrier.name, carrier.rateLimit, wanted);
      if (granted === 0) {
        await sleep(waitMs, signal);
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
      const holdOffMs = Math.max(0, ...results.map((r) => (r.outcome === 'retry' ? (r.retryAfterMs ?? 0) : 0)));
      // The carrier asked every caller to wait: so does every engine process.
      if (holdOffMs > 0) await this.options.rates.holdOff(carrier.name, carrier.rateLimit, holdOffMs / 1000);
      const byId = new Map(results.map((r) => [r.deviceId, r]));
      const now = Date.now();
      await this.commitStage('activate', lease, batch, chunk, hooks, async (_tx, fresh) => {
        const states = new Map<string, TaskState>();
        for (const row of fresh) {
          const result = byId.get(row.deviceId);
          const state = row.tasks.activate;
          if (result?.outcome === 'activated') {
            states.set(row.deviceId, succeeded(state));
            continue;
          }
          const failure = { error: result?.error ?? 'no result', permanent: result?.outcome === 'rejected' };
          const next = failedAttempt(state, carrier.retry, failure, now, this.options.random);
          const notBefore = result?.outcome === 'retry' && result.retryAfterMs ? now + result.retryAfterMs : null;
          states.set(row.deviceId, next.nextAttemptAt !== null && notBefore !== null ? { ...next, nextAttemptAt: Math.max(next.nextAttemptAt, notBefore) } : next);
        }
        return states;
      });
    }
  }
}
