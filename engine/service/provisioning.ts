// Provisioning jobs, server side. Logs arrive as uploads (streamed, parsed as they come, stored in
// PostgreSQL in chunks) or inline for small ones; a job reads them, validates every row against
// the applied revision, and is stored as batches that workers in every engine process work
// (provisioning-worker.ts). A job belongs to the operator token that made it — by the token's id,
// never its name — and to that token's tenants; to anyone else it does not exist.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Snapshot } from '../model/index.ts';
import type { ProvisioningApi, ProvisioningCaller, UploadQuery } from '../http/index.ts';
import {
  CarrierRateBuckets,
  FleetStore,
  ProvisioningStore,
  ProvisioningUploadStore,
  type NewProvisioningRow,
  type ProvisioningJobRow,
  type ProvisioningTaskStates,
} from '../store/index.ts';
import {
  CredentialsKeyError,
  LogFileError,
  assertCredentialsRecipients,
  catalogFromSnapshot,
  generateCredentialsIdentity,
  initialTaskStates,
  jobFigures,
  parseManufacturingLog,
  parseShipmentLog,
  readLog,
  resetFailed,
  summarizeTaskStates,
  validateManufacturingRows,
  type CarrierActivator,
  type LogFormat,
  type LogKind,
  type ManufacturingRow,
  type ParsedLog,
  type RowFailure,
  type ShipmentRow,
  type TaskStates,
} from '../provisioning/index.ts';
import type { Delimiter } from '../csv/index.ts';
import { ForbiddenError, InvalidRequestError, NoRevisionError, NotFoundError } from './errors.ts';
import { ProvisioningWorkers, sleep, type ProvisioningWorkerHandle, type ProvisioningWorkerHooks } from './provisioning-worker.ts';

export type { ProvisioningWorkerHooks, ProvisioningWorkerHandle } from './provisioning-worker.ts';

/** Who is calling, as the operator API resolved it: the token's id, name (for people) and tenants (null: every tenant). */
export type ProvisioningPrincipal = ProvisioningCaller;

export interface ProvisioningServiceOptions {
  store: FleetStore;
  /** The applied revision's snapshot, or null before the first. */
  snapshot(): Snapshot | null;
  authorize(token: string | null, role: 'viewer' | 'operator'): Promise<ProvisioningPrincipal>;
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
/** Largest log content after decompression, and most rows in one upload. */
const MAX_LOG_BYTES = 1024 * 1024 * 1024;
const MAX_UPLOAD_ROWS = 1_000_000;
/** Rows per stored upload chunk. */
const UPLOAD_CHUNK = 2000;
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A job is the creator's (by token id), and visible to anyone whose tenants cover the creator's. */
function canAccess(job: ProvisioningJobRow, caller: ProvisioningPrincipal): boolean {
  if (job.createdByToken !== null && job.createdByToken === caller.id) return true;
  if (caller.tenants === null) return true;
  return job.tenants !== null && job.tenants.length > 0 && job.tenants.every((t) => caller.tenants!.includes(t));
}

export class ProvisioningService implements ProvisioningApi {
  readonly jobs: ProvisioningStore;
  readonly uploads: ProvisioningUploadStore;
  private readonly workers: ProvisioningWorkers;
  private wakeUp: (() => void)[] = [];

  constructor(private readonly options: ProvisioningServiceOptions) {
    this.jobs = new ProvisioningStore(options.store);
    this.uploads = new ProvisioningUploadStore(options.store);
    const pollMs = options.pollMs ?? 500;
    this.workers = new ProvisioningWorkers({
      jobs: this.jobs,
      rates: new CarrierRateBuckets(options.store),
      log: options.log,
      carrier: options.carrier ?? null,
      leaseMs: options.leaseMs ?? 30_000,
      pollMs,
      random: options.random ?? Math.random,
      waitForWork: (signal) =>
        new Promise<void>((resolve) => {
          this.wakeUp.push(resolve);
          void sleep(pollMs, signal).then(resolve);
        }),
    });
  }

  /** Starts the configured number of workers. */
  start(): void {
    for (let i = 0; i < (this.options.workers ?? 4); i++) this.workers.start();
  }

  /** One more worker (tests: with hooks that stop it mid-stage). */
  startWorker(hooks: ProvisioningWorkerHooks = {}): ProvisioningWorkerHandle {
    return this.workers.start(hooks);
  }

  async close(): Promise<void> {
    await this.workers.close();
  }

  private wake(): void {
    for (const wake of this.wakeUp.splice(0)) wake();
  }

  authorizeProvisioning(token: string | null, role: 'viewer' | 'operator'): Promise<ProvisioningPrincipal> {
    return this.options.authorize(token, role);
  }

  // ── uploads ─────────────────────────────────────────────────────────────

  /** Reads a log as it streams in, storing its parsed rows in chunks; the body is never held whole. */
  async uploadProvisioningLog(caller: ProvisioningPrincipal, query: UploadQuery, body: AsyncIterable<Uint8Array>): Promise<object> {
    const id = randomUUID();
    await this.uploads.begin({ id, createdByToken: caller.id, log: query.log, format: query.format });
    const state = { delimiter: null as Delimiter | null, rows: 0, lines: 0 };
    let bytes = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        bytes += chunk.length;
        yield chunk;
      }
    };
    let seq = 0;
    let rows: unknown[] = [];
    let failures: RowFailure[] = [];
    const totals = { rows: 0, failed: 0 };
    const flush = async () => {
      if (rows.length === 0 && failures.length === 0) return;
      await this.uploads.appendChunk(id, seq++, rows, failures);
      rows = [];
      failures = [];
    };
    try {
      for await (const parsed of readLog(query.log, counted(), { format: query.format, delimiter: query.delimiter ?? null, maxBytes: MAX_LOG_BYTES }, state)) {
        rows.push(...parsed.rows);
        failures.push(...parsed.failures);
        totals.rows += parsed.rows.length + parsed.failures.length;
        totals.failed += parsed.failures.length;
        if (totals.rows > MAX_UPLOAD_ROWS) throw new LogFileError(query.log, null, `more than ${MAX_UPLOAD_ROWS} rows: split the log into several jobs`);
        if (rows.length + failures.length >= UPLOAD_CHUNK) await flush();
      }
      await flush();
      await this.uploads.complete(id, { bytes, rows: totals.rows, failed: totals.failed, delimiter: state.delimiter });
    } catch (error) {
      await this.uploads.remove(id).catch(() => undefined);
      if (error instanceof LogFileError) throw new InvalidRequestError(error.code, '', error.message);
      throw error;
    }
    this.options.log.info({ upload: id, log: query.log, operator: caller.name, rows: totals.rows, failed: totals.failed, bytes }, 'provisioning log uploaded');
    return { id, log: query.log, format: query.format, delimiter: state.delimiter, bytes, rows: totals.rows, failed: totals.failed };
  }

  private async logOf<R>(caller: ProvisioningPrincipal, kind: LogKind, part: LogPart): Promise<ParsedLog<R>> {
    if ('upload' in part) {
      const upload = await this.uploads.get(part.upload);
      // Another token's upload, an unfinished one or one of the other log: not there for this caller.
      if (!upload || upload.createdByToken !== caller.id || upload.status !== 'complete' || upload.log !== kind) {
        throw new InvalidRequestError('unknown-upload', `/${kind}/upload`, `upload ${part.upload} not found`);
      }
      return this.uploads.content<R, RowFailure>(upload.id).then(({ rows, failures }) => ({ rows, failures }));
    }
    try {
      const options = { format: part.format, delimiter: part.delimiter };
      return (kind === 'manufacturing' ? parseManufacturingLog(part.content, options) : parseShipmentLog(part.content, options)) as ParsedLog<R>;
    } catch (error) {
      if (error instanceof LogFileError) throw new InvalidRequestError(error.code, `/${kind}/content`, error.message);
      throw error;
    }
  }

  // ── jobs ────────────────────────────────────────────────────────────────

  async createProvisioningJob(caller: ProvisioningPrincipal, body: unknown): Promise<object> {
    const request = parseJobRequest(body);
    const snapshot = this.options.snapshot();
    if (!snapshot) throw new NoRevisionError();
    let recipients: string[];
    let identity: string | null = null;
    if (request.credentialsRecipients) {
      try {
        assertCredentialsRecipients(request.credentialsRecipients);
      } catch (error) {
        if (error instanceof CredentialsKeyError) throw new InvalidRequestError(error.code, '/credentialsRecipients', error.message);
        throw error;
      }
      recipients = request.credentialsRecipients;
    } else {
      const made = await generateCredentialsIdentity();
      recipients = [made.recipient];
      identity = made.identity;
    }
    const manufacturing = await this.logOf<ManufacturingRow>(caller, 'manufacturing', request.manufacturing);
    const shipments = request.shipments ? await this.logOf<ShipmentRow>(caller, 'shipments', request.shipments) : { rows: [], failures: [] };
    const inUse = await this.jobs.devicesInUse([...new Set(manufacturing.rows.map((r) => r.id).filter((id) => id !== ''))], caller.tenants);
    const validation = validateManufacturingRows(manufacturing.rows, shipments.rows, catalogFromSnapshot(snapshot), {
      defaultSite: request.defaultSite,
      tenants: caller.tenants,
      inUse,
    });
    const carrier = this.options.carrier ?? null;
    const failures: RowFailure[] = [...manufacturing.failures, ...validation.failures, ...shipments.failures];
    const rows: NewProvisioningRow[] = [
      ...validation.plans.map((plan) => ({
        log: 'manufacturing' as const,
        rowNo: plan.row,
        line: plan.line,
        deviceId: plan.deviceId,
        tenant: plan.tenant,
        plan,
        tasks: initialTaskStates({ hasSim: plan.iccid !== null, carrier: carrier !== null }) as ProvisioningTaskStates,
        failure: null,
      })),
      ...failures.map((f) => ({
        log: f.log,
        rowNo: f.row,
        line: f.line,
        deviceId: f.deviceId,
        tenant: null,
        plan: null,
        tasks: null,
        failure: { code: f.code, reason: f.reason },
      })),
    ].sort((a, b) => (a.log === b.log ? a.rowNo - b.rowNo : a.log < b.log ? -1 : 1));
    const id = randomUUID();
    await this.jobs.createJob({
      id,
      createdBy: caller.name,
      createdByToken: caller.id,
      tenants: caller.tenants,
      batchSize: request.batchSize ?? this.options.batchSize ?? DEFAULT_BATCH_SIZE,
      carrier: carrier?.name ?? null,
      credentialsRecipients: recipients,
      rowsTotal: validation.plans.length + manufacturing.failures.length + validation.failures.length,
      rows,
      initialProgress: (batchRows) => summarizeTaskStates(batchRows.map((r) => r.tasks as TaskStates)),
    });
    for (const part of [request.manufacturing, request.shipments]) if (part && 'upload' in part) await this.uploads.remove(part.upload);
    this.options.log.info({ job: id, operator: caller.name, rows: validation.plans.length, failed: failures.length }, 'provisioning job created');
    this.wake();
    const view = await this.jobView(await this.jobs.getJob(id), caller, {});
    // The identity is shown here only, and only when the server made it.
    return identity ? { ...view, credentialsIdentity: identity } : view;
  }

  /** The job, if this caller may see it; else not found — the same answer as for a job that does not exist. */
  private async accessibleJob(caller: ProvisioningPrincipal, id: string): Promise<ProvisioningJobRow> {
    const job = JOB_ID.test(id) ? await this.jobs.getJob(id) : null;
    if (!job || !canAccess(job, caller)) throw new NotFoundError('provisioning job', id.slice(0, 64).replace(/[^\x20-\x7e]/g, '?'));
    return job;
  }

  private async jobView(job: ProvisioningJobRow | null, caller: ProvisioningPrincipal, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object> {
    const progress = job ? await this.jobs.progress(job.id) : null;
    if (!job || !progress) throw new NotFoundError('provisioning job', job?.id ?? '');
    const failures = await this.jobs.failures(job.id, Math.min(query.failuresLimit ?? 100, 10_000), query.failuresOffset ?? 0);
    const figures = jobFigures({
      rows: progress.rows,
      invalidRows: job.invalidRows,
      createdAt: job.createdAt.getTime(),
      until: (job.completedAt ?? new Date()).getTime(),
    });
    return {
      id: job.id,
      status: job.status,
      createdBy: job.createdBy,
      createdAt: job.createdAt.toISOString(),
      completedAt: job.completedAt?.toISOString() ?? null,
      carrier: job.carrier,
      credentialsRecipients: job.credentialsRecipients,
      rows: progress.rows,
      progress: figures,
      tasks: progress.tasks,
      batches: progress.batches,
      credentialsWaiting: progress.credentialsWaiting,
      failures,
    };
  }

  /** The newest jobs this caller may see (the same rule as for one job), with their row counts. */
  async listProvisioningJobs(caller: ProvisioningPrincipal, query: { limit?: number; offset?: number }): Promise<object> {
    const listed = await this.jobs.listJobs({ tokenId: caller.id, tenants: caller.tenants }, query.limit ?? 50, query.offset ?? 0);
    return {
      jobs: listed.map(({ job, rows }) => ({
        id: job.id,
        status: job.status,
        createdBy: job.createdBy,
        createdAt: job.createdAt.toISOString(),
        completedAt: job.completedAt?.toISOString() ?? null,
        carrier: job.carrier,
        rows,
        progress: jobFigures({ rows, invalidRows: job.invalidRows, createdAt: job.createdAt.getTime(), until: (job.completedAt ?? new Date()).getTime() }),
      })),
    };
  }

  async getProvisioningJob(caller: ProvisioningPrincipal, id: string, query: { failuresLimit?: number; failuresOffset?: number }): Promise<object> {
    return this.jobView(await this.accessibleJob(caller, id), caller, query);
  }

  async resumeProvisioningJob(caller: ProvisioningPrincipal, id: string): Promise<object> {
    const job = await this.accessibleJob(caller, id);
    await this.jobs.resumeJob(job.id);
    this.wake();
    return this.jobView(await this.jobs.getJob(job.id), caller, {});
  }

  async retryFailedProvisioningJob(caller: ProvisioningPrincipal, id: string): Promise<object> {
    const job = await this.accessibleJob(caller, id);
    const retried = await this.jobs.retryFailed(job.id, (tasks) => resetFailed(tasks as TaskStates) as ProvisioningTaskStates);
    this.wake();
    return { retried, job: await this.jobView(await this.jobs.getJob(job.id), caller, {}) };
  }

  async stopProvisioningJob(caller: ProvisioningPrincipal, id: string): Promise<object> {
    const job = await this.accessibleJob(caller, id);
    await this.jobs.stopJob(job.id);
    return this.jobView(await this.jobs.getJob(job.id), caller, {});
  }

  /** A job's sealed credentials are collected by the token that created it, alone: the key is with its CLI, and an acknowledgement erases them. */
  private async credentialsOwner(caller: ProvisioningPrincipal, id: string): Promise<ProvisioningJobRow> {
    const job = await this.accessibleJob(caller, id);
    if (job.createdByToken !== caller.id) throw new ForbiddenError("a job's credentials are collected only by the operator token that created it");
    return job;
  }

  async provisioningCredentials(caller: ProvisioningPrincipal, id: string, limit: number): Promise<object> {
    const job = await this.credentialsOwner(caller, id);
    return { batches: await this.jobs.pendingCredentials(job.id, limit) };
  }

  async acknowledgeProvisioningCredentials(caller: ProvisioningPrincipal, id: string, body: unknown): Promise<object> {
    const job = await this.credentialsOwner(caller, id);
    const ids = (body as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids) || ids.length > 10_000 || !ids.every((i) => typeof i === 'string' && /^\d{1,18}$/.test(i))) {
      throw new InvalidRequestError('invalid-request', '/ids', 'ids must be a list of credential batch ids');
    }
    return { erased: await this.jobs.acknowledgeCredentials(job.id, ids as string[]) };
  }
}

type LogPart = { upload: string } | { content: string; format: LogFormat; delimiter: Delimiter | null };

interface JobRequest {
  manufacturing: LogPart;
  shipments: LogPart | null;
  defaultSite: string | null;
  credentialsRecipients: string[] | null;
  batchSize: number | null;
}

const DELIMITER_NAMES: Record<string, Delimiter> = { ',': ',', ';': ';', '\t': '\t', tab: '\t', comma: ',', semicolon: ';' };

/** A delimiter as a flag or a query parameter says it: `,` `;` `tab` (or the characters). */
export function delimiterOf(value: unknown, field: string): Delimiter | null {
  if (value === undefined || value === null) return null;
  const delimiter = typeof value === 'string' ? DELIMITER_NAMES[value] : undefined;
  if (!delimiter) throw new InvalidRequestError('invalid-request', field, `${field.slice(1)} must be one of , ; tab`);
  return delimiter;
}

function cleanString(value: unknown, field: string, pattern = /^[^\0\uD800-\uDFFF]{1,256}$/): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new InvalidRequestError('invalid-request', field, `${field} must be a string of 1-256 characters without NUL or surrogates`);
  return value;
}

function logPart(value: unknown, field: string): LogPart {
  const part = value as { upload?: unknown; content?: unknown; format?: unknown; delimiter?: unknown } | null;
  if (!part || typeof part !== 'object' || Array.isArray(part)) throw new InvalidRequestError('invalid-request', `/${field}`, `${field} must be {upload} or {content, format?}`);
  if (part.upload !== undefined) return { upload: cleanString(part.upload, `/${field}/upload`, /^[0-9a-f-]{36}$/) };
  if (typeof part.content !== 'string') throw new InvalidRequestError('invalid-request', `/${field}/content`, `${field}.content must be the log file's text (or upload it: POST /v1/provisioning/uploads)`);
  const format = part.format ?? 'csv';
  if (format !== 'csv' && format !== 'jsonl') throw new InvalidRequestError('invalid-request', `/${field}/format`, `${field}.format must be csv or jsonl`);
  return { content: part.content, format, delimiter: delimiterOf(part.delimiter, `/${field}/delimiter`) };
}

function parseJobRequest(body: unknown): JobRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('invalid-request', '', 'expected a JSON object');
  const b = body as Record<string, unknown>;
  let batchSize: number | null = null;
  if (b.batchSize !== undefined) {
    if (typeof b.batchSize !== 'number' || !Number.isInteger(b.batchSize) || b.batchSize < 1 || b.batchSize > MAX_BATCH_SIZE) {
      throw new InvalidRequestError('invalid-request', '/batchSize', `batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    batchSize = b.batchSize;
  }
  if (b.credentialsPublicKey !== undefined) {
    throw new InvalidRequestError('invalid-credentials-key', '/credentialsPublicKey', 'credentials are sealed with age now: send credentialsRecipients: ["age1…"]');
  }
  let recipients: string[] | null = null;
  if (b.credentialsRecipients !== undefined && b.credentialsRecipients !== null) {
    if (!Array.isArray(b.credentialsRecipients) || !b.credentialsRecipients.every((r) => typeof r === 'string')) {
      throw new InvalidRequestError('invalid-credentials-key', '/credentialsRecipients', 'credentialsRecipients must be a list of age recipients (age1…)');
    }
    recipients = b.credentialsRecipients as string[];
  }
  return {
    manufacturing: logPart(b.manufacturing, 'manufacturing'),
    shipments: b.shipments === undefined || b.shipments === null ? null : logPart(b.shipments, 'shipments'),
    defaultSite: b.defaultSite === undefined || b.defaultSite === null ? null : cleanString(b.defaultSite, '/defaultSite'),
    credentialsRecipients: recipients,
    batchSize,
  };
}
