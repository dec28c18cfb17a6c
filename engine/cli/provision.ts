// `fleetform provision …`: import manufacturing (and shipment) logs as a provisioning job on the
// engine and follow it with a progress bar; resume, retry its failed rows, stop it, show it.
//
// Credentials: the CLI makes an X25519 key pair and sends only the public key with the job.
// The engine seals each batch of device tokens to it; the CLI downloads the sealed batches while
// it waits, appends `id,token` lines to --credentials-out (mode 600, fsynced), and only then
// acknowledges them, which erases them on the server. The private key waits in `<out>.key`
// (mode 600) so `provision resume` can finish a job the CLI lost sight of; it is deleted once
// the job is complete and every credential is written.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import {
  CREDENTIALS_CSV_HEADER,
  credentialsCsvLines,
  formatFromFileName,
  generateCredentialsKeyPair,
  openCredentials,
  type LogFormat,
  type SealedCredentials,
} from '../provisioning/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

interface ConnectionFlags {
  url: string;
  token?: string;
}

interface FollowFlags extends ConnectionFlags {
  credentialsOut?: string;
  progress: string;
  wait?: boolean;
}

interface ImportFlags extends FollowFlags {
  manufacturing: string;
  shipments?: string;
  format?: string;
  defaultSite?: string;
  batchSize?: string;
}

export interface ProvisioningJobView {
  id: string;
  status: 'running' | 'stopped' | 'completed';
  rows: { total: number; pending: number; done: number; failed: number };
  tasks: Record<string, Record<string, number>>;
  credentialsWaiting: number;
  failures: { log: string; row: number; line: number; deviceId: string | null; task: string | null; code: string | null; reason: string | null }[];
}

class ApiError extends Error {}

function operatorToken(flags: ConnectionFlags, ctx: CliContext): string {
  const token = flags.token ?? ctx.env.FLEETFORM_TOKEN ?? ctx.env.FLEETFORM_ADMIN_TOKEN;
  if (!token) throw new UsageError('an operator token is needed: --token, FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN');
  return token;
}

async function api<T>(flags: ConnectionFlags, ctx: CliContext, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(path, flags.url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${operatorToken(flags, ctx)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const payload = (await response.json().catch(() => null)) as (T & { error?: { code: string; message: string } }) | null;
  if (!response.ok) {
    throw new ApiError(`${response.status} ${payload?.error ? `[${payload.error.code}] ${payload.error.message}` : response.statusText}`);
  }
  return payload as T;
}

function readLog(ctx: CliContext, file: string): string {
  try {
    return readFileSync(resolve(ctx.cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

function logFormat(flag: string | undefined, file: string): LogFormat {
  if (flag === undefined) return formatFromFileName(file);
  if (flag !== 'csv' && flag !== 'jsonl') throw new UsageError(`--format: expected csv or jsonl, got ${flag}`);
  return flag;
}

/** The credentials file: written once, appended as sealed batches arrive, never holding an id twice. */
class CredentialsFile {
  private readonly written = new Set<string>();
  readonly keyPath: string;

  constructor(
    readonly path: string,
    readonly privateKey: string,
  ) {
    this.keyPath = `${path}.key`;
  }

  /** A new file (refuses to overwrite one) with its key beside it. */
  static create(path: string, privateKey: string): CredentialsFile {
    if (existsSync(path)) throw new UsageError(`${path} exists: credentials are written once; choose another --credentials-out`);
    const keyFd = openSync(`${path}.key`, 'wx', 0o600);
    writeSync(keyFd, `${privateKey}\n`);
    fsyncSync(keyFd);
    closeSync(keyFd);
    const fd = openSync(path, 'wx', 0o600);
    writeSync(fd, CREDENTIALS_CSV_HEADER);
    fsyncSync(fd);
    closeSync(fd);
    return new CredentialsFile(path, privateKey);
  }

  /** An existing file whose key is still beside it (a job being resumed). */
  static reopen(path: string): CredentialsFile {
    let key: string;
    try {
      key = readFileSync(`${path}.key`, 'utf8').trim();
    } catch {
      throw new UsageError(`${path}.key not found: the job's credentials can only be opened with the key written by provision import`);
    }
    const file = new CredentialsFile(path, key);
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
        const id = line.split(',')[0];
        if (id) file.written.add(id);
      }
    } else {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, CREDENTIALS_CSV_HEADER);
      closeSync(fd);
    }
    return file;
  }

  get count(): number {
    return this.written.size;
  }

  append(batches: readonly { sealed: SealedCredentials }[]): void {
    const fresh = batches.flatMap((b) => openCredentials(b.sealed, this.privateKey)).filter((c) => !this.written.has(c.deviceId));
    if (fresh.length === 0) return;
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, credentialsCsvLines(fresh));
      // On disk before the server may forget them.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(this.path, 0o600);
    for (const c of fresh) this.written.add(c.deviceId);
  }

  finish(): void {
    rmSync(this.keyPath, { force: true });
  }
}

/** Downloads, writes and acknowledges every sealed batch waiting for the job. */
async function collectCredentials(flags: ConnectionFlags, ctx: CliContext, jobId: string, file: CredentialsFile): Promise<void> {
  for (;;) {
    const page = await api<{ batches: { id: string; sealed: SealedCredentials }[] }>(flags, ctx, `/v1/provisioning/jobs/${jobId}/credentials?limit=200`);
    if (page.batches.length === 0) return;
    file.append(page.batches);
    await api(flags, ctx, `/v1/provisioning/jobs/${jobId}/credentials/ack`, { ids: page.batches.map((b) => b.id) });
  }
}

const TASK_ORDER = ['register', 'credentials', 'site', 'activate', 'ready'];

export function progressLine(job: ProvisioningJobView, width = 30): string {
  const settled = job.rows.done + job.rows.failed;
  const ratio = job.rows.total === 0 ? 1 : settled / job.rows.total;
  const filled = Math.round(ratio * width);
  const tasks = TASK_ORDER.filter((t) => job.tasks[t])
    .map((t) => `${t} ${job.tasks[t]?.done ?? 0}`)
    .join(' · ');
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${settled}/${job.rows.total} rows, ${job.rows.failed} failed${tasks ? ` | ${tasks}` : ''}`;
}

function printFailures(ctx: CliContext, job: ProvisioningJobView, files: { manufacturing: string; shipments: string }, limit = 50): void {
  for (const f of job.failures.slice(0, limit)) {
    const file = f.log === 'shipments' ? files.shipments : files.manufacturing;
    ctx.stderr(`${file}:${f.line}: row ${f.row}${f.deviceId ? ` (${f.deviceId})` : ''}: [${f.code ?? f.task ?? 'failed'}] ${f.reason ?? ''}\n`);
  }
  if (job.rows.failed > limit) ctx.stderr(`… and ${job.rows.failed - limit} more failed rows (fleetform provision status ${job.id})\n`);
}

/** Polls the job until it completes (or stops), drawing progress and collecting credentials. */
async function follow(flags: FollowFlags, ctx: CliContext, jobId: string, file: CredentialsFile | null): Promise<ProvisioningJobView> {
  const bar = flags.progress === 'bar' || (flags.progress === 'auto' && process.stderr.isTTY === true);
  let lastLine = 0;
  for (;;) {
    const job = await api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${jobId}?failuresLimit=0`);
    if (file && job.credentialsWaiting > 0) await collectCredentials(flags, ctx, jobId, file);
    if (bar) ctx.stderr(`\r${progressLine(job)}`);
    else if (Date.now() - lastLine >= 5000 || job.status !== 'running') {
      ctx.stderr(`${progressLine(job)}\n`);
      lastLine = Date.now();
    }
    if (job.status !== 'running') {
      if (bar) ctx.stderr('\n');
      if (file) await collectCredentials(flags, ctx, jobId, file);
      return api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${jobId}?failuresLimit=1000`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function summarize(ctx: CliContext, job: ProvisioningJobView, file: CredentialsFile | null, files: { manufacturing: string; shipments: string }): void {
  printFailures(ctx, job, files);
  ctx.stdout(
    `job ${job.id} ${job.status}: ${job.rows.done} rows done, ${job.rows.failed} failed of ${job.rows.total}` +
      (file ? `; ${file.count} device credentials in ${file.path}` : '') +
      '\n',
  );
  if (file && job.status === 'completed' && job.credentialsWaiting === 0) file.finish();
  if (job.rows.failed > 0 || job.status !== 'completed') ctx.exit(1);
}

async function runImport(flags: ImportFlags, ctx: CliContext): Promise<void> {
  operatorToken(flags, ctx);
  const format = (file: string) => logFormat(flags.format, file);
  const manufacturing = { format: format(flags.manufacturing), content: readLog(ctx, flags.manufacturing) };
  const shipments = flags.shipments ? { format: format(flags.shipments), content: readLog(ctx, flags.shipments) } : null;
  const batchSize = flags.batchSize === undefined ? undefined : Number(flags.batchSize);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new UsageError(`--batch-size: expected a positive integer, got ${flags.batchSize}`);
  const outPath = resolve(ctx.cwd, flags.credentialsOut ?? `${basename(flags.manufacturing).replace(/\.[^.]*$/, '')}.credentials.csv`);
  const keys = generateCredentialsKeyPair();
  const file = CredentialsFile.create(outPath, keys.privateKey);
  const created = await api<ProvisioningJobView>(flags, ctx, '/v1/provisioning/jobs', {
    manufacturing,
    ...(shipments ? { shipments } : {}),
    ...(flags.defaultSite ? { defaultSite: flags.defaultSite } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    credentialsPublicKey: keys.publicKey,
  }).catch((error: unknown) => {
    // Nothing was created: leave no empty credentials file behind.
    rmSync(outPath, { force: true });
    file.finish();
    throw error;
  });
  ctx.stderr(`job ${created.id}: ${created.rows.total} rows, ${created.rows.failed} failed validation\n`);
  const files = { manufacturing: flags.manufacturing, shipments: flags.shipments ?? 'shipments' };
  if (flags.wait === false) {
    printFailures(ctx, created, files);
    ctx.stdout(`${created.id}\n`);
    return;
  }
  summarize(ctx, await follow(flags, ctx, created.id, file), file, files);
}

async function runContinue(action: 'resume' | 'retry-failed', jobId: string, flags: FollowFlags, ctx: CliContext): Promise<void> {
  const file = flags.credentialsOut ? CredentialsFile.reopen(resolve(ctx.cwd, flags.credentialsOut)) : null;
  await api(flags, ctx, `/v1/provisioning/jobs/${encodeURIComponent(jobId)}/${action}`, {});
  if (flags.wait === false) return;
  summarize(ctx, await follow(flags, ctx, jobId, file), file, { manufacturing: 'manufacturing', shipments: 'shipments' });
}

function withFailures(run: () => Promise<void>, ctx: CliContext): () => Promise<void> {
  return async () => {
    try {
      await run();
    } catch (error) {
      if (error instanceof UsageError) throw error;
      ctx.stderr(`error: ${(error as Error).message}\n`);
      ctx.exit(1);
    }
  };
}

export const registerProvision: CommandRegistrar = (program, ctx) => {
  const provision = program.command('provision').description('Provision devices from manufacturing and shipment logs (resumable batch jobs on the engine)');
  const connection = (command: ReturnType<typeof provision.command>) =>
    command
      .option('--url <url>', 'engine URL', ctx.env.FLEETFORM_URL ?? 'http://127.0.0.1:8080')
      .option('--token <token>', 'operator token (default: FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN)');
  const following = (command: ReturnType<typeof provision.command>) =>
    connection(command)
      .option('--progress <mode>', 'auto (bar on a terminal, else a line every 5 s), bar or lines', 'auto')
      .option('--no-wait', 'return once the job is accepted');

  following(
    provision
      .command('import')
      .description('Create a provisioning job from a manufacturing log (and shipment logs) and follow it')
      .requiredOption('--manufacturing <file>', 'manufacturing log: CSV with a header, or JSON Lines')
      .option('--shipments <file>', 'shipment log: id,site,shippedAt')
      .option('--format <format>', 'csv or jsonl (default: from the file name)')
      .option('--default-site <site>', 'site for devices in no shipment')
      .option('--batch-size <n>', 'rows per batch (default 1000)')
      .option('--credentials-out <file>', 'where device credentials (id,token) are written, mode 600 (default: <manufacturing>.credentials.csv)'),
  ).action((flags: ImportFlags) => withFailures(() => runImport(flags, ctx), ctx)());

  for (const action of ['resume', 'retry-failed'] as const) {
    following(
      provision
        .command(action)
        .description(action === 'resume' ? 'Continue a stopped or interrupted job and follow it' : "Retry a job's failed rows and follow it")
        .argument('<job>', 'job id')
        .option('--credentials-out <file>', 'the credentials file of provision import (its .key must be beside it)'),
    ).action((job: string, flags: FollowFlags) => withFailures(() => runContinue(action, job, flags, ctx), ctx)());
  }

  connection(provision.command('stop').description('Stop handing out the job’s batches').argument('<job>', 'job id')).action((job: string, flags: ConnectionFlags) =>
    withFailures(async () => {
      const view = await api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${encodeURIComponent(job)}/stop`, {});
      ctx.stdout(`job ${view.id} ${view.status}\n`);
    }, ctx)(),
  );

  connection(provision.command('status').description('Show a job’s progress and failed rows').argument('<job>', 'job id').option('--json', 'print the job as JSON')).action(
    (job: string, flags: ConnectionFlags & { json?: boolean }) =>
      withFailures(async () => {
        const view = await api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${encodeURIComponent(job)}?failuresLimit=1000`);
        if (flags.json) {
          ctx.stdout(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        ctx.stdout(`job ${view.id} ${view.status}\n${progressLine(view)}\n`);
        printFailures(ctx, view, { manufacturing: 'manufacturing', shipments: 'shipments' });
      }, ctx)(),
  );
};
