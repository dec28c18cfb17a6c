// `fleetform provision …`: upload manufacturing (and shipment) logs, make them a provisioning job
// on the engine and follow it — stages, a progress bar with rows/s and ETA on a terminal, plain
// lines otherwise; resume it, retry its failed rows, stop it, show it. Device credentials end in
// one age file for the factory (provision-credentials.ts).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { formatFromFileName, type JobFigures, type LogFormat } from '../provisioning/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';
import { CredentialsSpool, factoryRecipients } from './provision-credentials.ts';
import { ProgressOutput, formatBytes, formatCount, printable, progressMode, progressText } from './progress.ts';

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
  delimiter?: string;
  defaultSite?: string;
  batchSize?: string;
  recipient?: string[];
  recipientsFile?: string;
}

export interface ProvisioningJobView {
  id: string;
  status: 'running' | 'stopped' | 'completed';
  rows: { total: number; pending: number; done: number; failed: number };
  progress: JobFigures;
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

async function answer<T>(response: Response): Promise<T> {
  const payload = (await response.json().catch(() => null)) as (T & { error?: { code: string; message: string } }) | null;
  if (!response.ok) {
    throw new ApiError(`${response.status} ${payload?.error ? `[${payload.error.code}] ${printable(payload.error.message)}` : response.statusText}`);
  }
  return payload as T;
}

async function api<T>(flags: ConnectionFlags, ctx: CliContext, path: string, body?: unknown): Promise<T> {
  return answer<T>(
    await fetch(new URL(path, flags.url), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${operatorToken(flags, ctx)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

function logFormat(flag: string | undefined, file: string): LogFormat {
  if (flag === undefined) return formatFromFileName(file);
  if (flag !== 'csv' && flag !== 'jsonl') throw new UsageError(`--format: expected csv or jsonl, got ${flag}`);
  return flag;
}

function delimiterFlag(flag: string | undefined): string | null {
  if (flag === undefined) return null;
  const name = flag === '\t' || flag === 'tab' ? 'tab' : flag;
  if (name !== ',' && name !== ';' && name !== 'tab') throw new UsageError(`--delimiter: expected , ; or tab, got ${flag}`);
  return name;
}

interface Uploaded {
  id: string;
  rows: number;
  failed: number;
  delimiter: string | null;
}

/** Streams a log file to the engine (gzip as it is: the engine inflates it), saying how many bytes went. */
async function uploadLog(flags: ImportFlags, ctx: CliContext, log: 'manufacturing' | 'shipments', file: string, size: number, sent: (bytes: number) => void): Promise<Uploaded> {
  const query = new URLSearchParams({ log, format: logFormat(flags.format, file) });
  const delimiter = delimiterFlag(flags.delimiter);
  if (delimiter) query.set('delimiter', delimiter);
  const path = resolve(ctx.cwd, file);
  const body = async function* (): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
      sent(chunk.length);
      yield chunk;
    }
  };
  const response = await fetch(new URL(`/v1/provisioning/uploads?${query}`, flags.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken(flags, ctx)}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: body() as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit);
  return answer<Uploaded>(response);
}

/** Uploads the logs side by side (the engine parses one while the other arrives), drawing both in one line. */
async function uploadLogs(flags: ImportFlags, ctx: CliContext, output: ProgressOutput, files: { log: 'manufacturing' | 'shipments'; file: string }[]): Promise<Uploaded[]> {
  const sizes = await Promise.all(
    files.map(({ file }) =>
      stat(resolve(ctx.cwd, file)).then(
        (s) => (s.isFile() ? s.size : null),
        () => null,
      ),
    ),
  );
  sizes.forEach((size, i) => {
    if (size === null) throw new UsageError(`cannot read ${files[i]!.file}: no such file`);
  });
  const sent = files.map(() => 0);
  const started = Date.now();
  const draw = () => {
    const seconds = (Date.now() - started) / 1000;
    const total = sent.reduce((a, b) => a + b, 0);
    const parts = files.map(({ file }, i) => `${basename(file)} ${formatBytes(sent[i]!)} of ${formatBytes(sizes[i]!)}`);
    output.update('upload', `upload ${parts.join(' · ')}${seconds > 0 ? ` · ${formatBytes(total / seconds)}/s` : ''}`);
  };
  const uploaded = await Promise.all(
    files.map(({ log, file }, i) =>
      uploadLog(flags, ctx, log, file, sizes[i]!, (bytes) => {
        sent[i]! += bytes;
        draw();
      }),
    ),
  );
  uploaded.forEach((u, i) => {
    const { log, file } = files[i]!;
    output.finish(
      `upload ${log} ${basename(file)}: ${formatBytes(sizes[i]!)}, ${formatCount(u.rows)} rows${u.failed ? `, ${formatCount(u.failed)} unreadable` : ''}` +
        (u.delimiter ? `, delimiter ${u.delimiter === '\t' ? 'tab' : u.delimiter}` : ''),
    );
  });
  return uploaded;
}

/** Downloads every sealed batch waiting for the job, writes it to the spool, then acknowledges it. */
async function collectCredentials(flags: ConnectionFlags, ctx: CliContext, jobId: string, spool: CredentialsSpool): Promise<void> {
  for (;;) {
    const page = await api<{ batches: { id: string; sealed: string }[] }>(flags, ctx, `/v1/provisioning/jobs/${jobId}/credentials?limit=200`);
    if (page.batches.length === 0) return;
    spool.store(page.batches);
    await api(flags, ctx, `/v1/provisioning/jobs/${jobId}/credentials/ack`, { ids: page.batches.map((b) => b.id) });
  }
}

const TASK_ORDER = ['register', 'credentials', 'site', 'activate', 'ready'];

/** The job's figures as one line (the API's: the same numbers the console shows). */
export function progressLine(job: ProvisioningJobView, withBar = false): string {
  // A task every row skips (activation without a carrier) says nothing.
  const tasks = TASK_ORDER.filter((t) => job.tasks[t] && Object.keys(job.tasks[t]!).some((status) => status !== 'skipped'))
    .map((t) => `${t} ${formatCount(job.tasks[t]?.done ?? 0)}`)
    .join(' · ');
  return progressText({
    stage: job.status === 'running' ? 'provision' : job.status,
    done: job.progress.settled,
    total: job.progress.total,
    unit: 'rows',
    perSecond: job.progress.rowsPerSecond,
    etaSeconds: job.status === 'running' ? job.progress.etaSeconds : null,
    detail: `${tasks}${tasks ? ' · ' : ''}${formatCount(job.rows.failed)} failed`,
    withBar,
  });
}

function printFailures(ctx: CliContext, job: ProvisioningJobView, files: { manufacturing: string; shipments: string }, limit = 50): void {
  for (const f of job.failures.slice(0, limit)) {
    const file = f.log === 'shipments' ? files.shipments : files.manufacturing;
    ctx.stderr(printable(`${file}:${f.line}: row ${f.row}${f.deviceId ? ` (${f.deviceId})` : ''}: [${f.code ?? f.task ?? 'failed'}] ${f.reason ?? ''}`) + '\n');
  }
  if (job.rows.failed > limit) ctx.stderr(`… and ${job.rows.failed - limit} more failed rows (fleetform provision status ${job.id})\n`);
}

/** Polls the job until it completes (or stops), drawing progress and collecting credentials. */
async function follow(flags: FollowFlags, ctx: CliContext, output: ProgressOutput, jobId: string, spool: CredentialsSpool | null): Promise<ProvisioningJobView> {
  for (;;) {
    const job = await api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${jobId}?failuresLimit=0`);
    if (spool && job.credentialsWaiting > 0) await collectCredentials(flags, ctx, jobId, spool);
    if (job.status !== 'running') {
      output.finish(progressLine(job, output.bars));
      if (spool) await collectCredentials(flags, ctx, jobId, spool);
      return api<ProvisioningJobView>(flags, ctx, `/v1/provisioning/jobs/${jobId}?failuresLimit=1000`);
    }
    output.update('provision', progressLine(job, output.bars));
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function summarize(ctx: CliContext, job: ProvisioningJobView, spool: CredentialsSpool | null, files: { manufacturing: string; shipments: string }): Promise<void> {
  printFailures(ctx, job, files);
  let written: string | null = null;
  if (spool && job.status === 'completed' && job.credentialsWaiting === 0) {
    const count = await spool.finish();
    written = `; ${count} device credentials sealed in ${spool.out}`;
  } else if (spool) {
    written = `; credentials so far kept in ${spool.dir} (provision resume ${job.id} --credentials-out ${spool.out})`;
  }
  ctx.stdout(`job ${job.id} ${job.status}: ${job.rows.done} rows done, ${job.rows.failed} failed of ${job.rows.total}${written ?? ''}\n`);
  if (job.rows.failed > 0 || job.status !== 'completed') ctx.exit(1);
}

async function runImport(flags: ImportFlags, ctx: CliContext): Promise<void> {
  operatorToken(flags, ctx);
  const recipients = await factoryRecipients(flags, (p) => resolve(ctx.cwd, p));
  const batchSize = flags.batchSize === undefined ? undefined : Number(flags.batchSize);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new UsageError(`--batch-size: expected a positive integer, got ${flags.batchSize}`);
  delimiterFlag(flags.delimiter);
  const outPath = resolve(ctx.cwd, flags.credentialsOut ?? `${basename(flags.manufacturing).replace(/(\.gz)?$/, '').replace(/\.[^.]*$/, '')}.credentials.age`);
  const output = new ProgressOutput(ctx, progressMode(flags.progress, process.stderr.isTTY === true));
  const spool = await CredentialsSpool.create(outPath, recipients);
  let created: ProvisioningJobView;
  try {
    const [manufacturing, shipments] = await uploadLogs(flags, ctx, output, [
      { log: 'manufacturing', file: flags.manufacturing },
      ...(flags.shipments ? [{ log: 'shipments' as const, file: flags.shipments }] : []),
    ]);
    if (!manufacturing) throw new Error('no manufacturing upload');
    output.update('validate', 'validate: rows against the applied revision…');
    created = await api<ProvisioningJobView>(flags, ctx, '/v1/provisioning/jobs', {
      manufacturing: { upload: manufacturing.id },
      ...(shipments ? { shipments: { upload: shipments.id } } : {}),
      ...(flags.defaultSite ? { defaultSite: flags.defaultSite } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      credentialsRecipients: [spool.recipient],
    });
  } catch (error) {
    // Nothing was created: leave nothing behind.
    output.interrupt();
    await spool.discard();
    throw error;
  }
  output.finish(`validate: job ${created.id}, ${formatCount(created.rows.total)} rows, ${formatCount(created.rows.failed)} failed validation`);
  const files = { manufacturing: flags.manufacturing, shipments: flags.shipments ?? 'shipments' };
  if (flags.wait === false) {
    printFailures(ctx, created, files);
    ctx.stdout(`${created.id}\n`);
    return;
  }
  await summarize(ctx, await follow(flags, ctx, output, created.id, spool), spool, files);
}

async function runContinue(action: 'resume' | 'retry-failed', jobId: string, flags: FollowFlags, ctx: CliContext): Promise<void> {
  const spool = flags.credentialsOut ? await CredentialsSpool.reopen(resolve(ctx.cwd, flags.credentialsOut)) : null;
  await api(flags, ctx, `/v1/provisioning/jobs/${encodeURIComponent(jobId)}/${action}`, {});
  if (flags.wait === false) return;
  const output = new ProgressOutput(ctx, progressMode(flags.progress, process.stderr.isTTY === true));
  await summarize(ctx, await follow(flags, ctx, output, jobId, spool), spool, { manufacturing: 'manufacturing', shipments: 'shipments' });
}

function withFailures(run: () => Promise<void>, ctx: CliContext): () => Promise<void> {
  return async () => {
    try {
      await run();
    } catch (error) {
      if (error instanceof UsageError) throw error;
      ctx.stderr(`error: ${printable((error as Error).message)}\n`);
      ctx.exit(1);
    }
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const registerProvision: CommandRegistrar = (program, ctx) => {
  const provision = program.command('provision').description('Provision devices from manufacturing and shipment logs (resumable batch jobs on the engine)');
  const connection = (command: ReturnType<typeof provision.command>) =>
    command
      .option('--url <url>', 'engine URL', ctx.env.FLEETFORM_URL ?? 'http://127.0.0.1:8080')
      .option('--token <token>', 'operator token (default: FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN)');
  const following = (command: ReturnType<typeof provision.command>) =>
    connection(command)
      .option('--progress <mode>', 'auto (a bar on a terminal, else a line every 5 s), bar, lines or none', 'auto')
      .option('--no-wait', 'return once the job is accepted');

  following(
    provision
      .command('import')
      .description('Upload a manufacturing log (and shipment log), make it a provisioning job and follow it')
      .requiredOption('--manufacturing <file>', 'manufacturing log: CSV with a header, or JSON Lines (.gz too)')
      .option('--shipments <file>', 'shipment log: id,site,shippedAt')
      .option('--format <format>', 'csv or jsonl (default: from the file name)')
      .option('--delimiter <char>', 'CSV delimiter: , ; or tab (default: detected from the header)')
      .option('--default-site <site>', 'site for devices in no shipment')
      .option('--batch-size <n>', 'rows per batch (default 1000)')
      .option('--recipient <age1…>', "the factory's age recipient the credentials are sealed to (repeatable)", collect)
      .option('--recipients-file <file>', 'age recipients, one per line (as age -R reads them)')
      .option('--credentials-out <file>', 'the age file device credentials are written to, mode 600 (default: <manufacturing>.credentials.age)'),
  ).action((flags: ImportFlags) => withFailures(() => runImport(flags, ctx), ctx)());

  for (const action of ['resume', 'retry-failed'] as const) {
    following(
      provision
        .command(action)
        .description(action === 'resume' ? 'Continue a stopped or interrupted job and follow it' : "Retry a job's failed rows and follow it")
        .argument('<job>', 'job id')
        .option('--credentials-out <file>', 'the credentials file of provision import (its .parts directory must be beside it)'),
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
