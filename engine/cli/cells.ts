// `fleetform cells import FILE|-`: read an OpenCelliD export as it streams (the world file has
// tens of millions of rows; `.csv.gz` as OpenCelliD ships it, or `-` for stdin), report bad rows
// as FILE:line, and send the good ones in batches to the engine's operator API
// (`POST /v1/cell-towers`, body `{ towers: CellTower[] }`, an upsert by mcc-mnc-lac-cid), with
// progress on a terminal. `--dry-run` only checks the file.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TextFileError } from '../csv/index.ts';
import { readOpenCellId, type CellCsvIssue, type CellTowerRow } from '../location/index.ts';
import type { CellTower } from '../model/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';
import { ProgressOutput, formatBytes, printable, progressMode, progressText } from './progress.ts';

/** The engine refuses a larger batch (POST /v1/cell-towers takes at most 10 000 towers). */
const MAX_BATCH = 10_000;

interface ImportFlags {
  dryRun?: boolean;
  mcc?: string;
  batch: string;
  maxIssues: string;
  url: string;
  token?: string;
  progress?: string;
}

/** Where the bytes come from: a file (its size known: progress by bytes) or stdin. */
export interface CellSource {
  name: string;
  bytes: AsyncIterable<Uint8Array>;
  size: number | null;
}

/** What the import did, also printed as the last line. */
export interface CellImportSummary {
  towers: number;
  filtered: number;
  issues: number;
  batches: number;
}

function parseMccList(text: string | undefined): Set<number> | null {
  if (text === undefined) return null;
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 0 || v > 999)) throw new UsageError(`--mcc: expected a list of country codes like 262,310, got ${text}`);
  return new Set(values);
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag}: expected a positive integer, got ${text}`);
  return value;
}

function toTower(row: CellTowerRow): CellTower {
  return { mcc: row.mcc, mnc: row.mnc, lac: row.lac, cid: row.cid, lat: row.lat, lon: row.lon, ...(row.rangeM !== undefined ? { rangeM: row.rangeM } : {}) };
}

async function sendBatch(towers: CellTower[], flags: ImportFlags, token: string): Promise<void> {
  const response = await fetch(new URL('/v1/cell-towers', flags.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ towers }),
  });
  if (!response.ok) {
    const payload = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new Error(`${response.status} ${payload?.error ? `[${payload.error.code}] ${payload.error.message}` : response.statusText}`);
  }
}

export async function importCells(file: string, flags: ImportFlags, ctx: CliContext, stdin: AsyncIterable<Uint8Array> = process.stdin): Promise<CellImportSummary> {
  const mccs = parseMccList(flags.mcc);
  const batchSize = positiveInteger('--batch', flags.batch);
  if (batchSize > MAX_BATCH) throw new UsageError(`--batch: the engine takes at most ${MAX_BATCH} towers per request, got ${batchSize}`);
  const maxIssues = positiveInteger('--max-issues', flags.maxIssues);
  const token = flags.token ?? ctx.env.FLEETFORM_TOKEN ?? ctx.env.FLEETFORM_ADMIN_TOKEN;
  if (!flags.dryRun && !token) throw new UsageError('an operator token is needed: --token, FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN (or --dry-run)');

  let source: CellSource;
  if (file === '-') {
    source = { name: 'stdin', bytes: stdin, size: null };
  } else {
    const path = resolve(ctx.cwd, file);
    const size = await stat(path).then(
      (info) => (info.isFile() ? info.size : null),
      () => null,
    );
    if (size === null) throw new UsageError(`${file}: no such file`);
    source = { name: file, bytes: createReadStream(path, { highWaterMark: 1024 * 1024 }), size };
  }

  const summary: CellImportSummary = { towers: 0, filtered: 0, issues: 0, batches: 0 };
  const output = new ProgressOutput(ctx, progressMode(flags.progress, process.stderr.isTTY === true));
  const report = (issue: CellCsvIssue) => {
    summary.issues++;
    if (summary.issues <= maxIssues) {
      output.interrupt();
      ctx.stderr(printable(`${source.name}:${issue.line}: [${issue.code}] ${issue.message}`) + '\n');
    }
  };
  let batch: CellTower[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    if (!flags.dryRun) await sendBatch(batch, flags, token!);
    summary.batches++;
    batch = [];
  };

  // Progress by bytes read from the source (compressed bytes for .gz: what the file size counts).
  let read = 0;
  const counted = async function* (): AsyncGenerator<Uint8Array> {
    for await (const chunk of source.bytes) {
      read += chunk.length;
      yield chunk;
    }
  };
  const started = Date.now();
  const figure = (stage: string) => {
    const seconds = (Date.now() - started) / 1000;
    const rows = summary.towers + summary.filtered + summary.issues;
    const perSecond = seconds > 0 ? rows / seconds : null;
    const byteRate = seconds > 0 ? read / seconds : 0;
    const eta = source.size !== null && byteRate > 0 ? (source.size - read) / byteRate : null;
    return progressText({
      stage,
      done: rows,
      total: null,
      unit: 'rows',
      perSecond,
      etaSeconds: stage === 'done' ? null : eta,
      detail: `${source.size !== null ? `${output.bars ? `${Math.floor((read / Math.max(1, source.size)) * 100)}% ` : ''}${formatBytes(read)} of ${formatBytes(source.size)}` : formatBytes(read)} · ${summary.towers} towers`,
      withBar: false,
    });
  };
  try {
    for await (const parsed of readOpenCellId(counted())) {
      for (const issue of parsed.issues) report(issue);
      for (const row of parsed.towers) {
        if (mccs && !mccs.has(row.mcc)) {
          summary.filtered++;
          continue;
        }
        summary.towers++;
        batch.push(toTower(row));
        if (batch.length >= batchSize) await flush();
      }
      output.update('import', figure(flags.dryRun ? 'check' : 'import'));
    }
    await flush();
  } catch (error) {
    output.interrupt();
    if (error instanceof TextFileError) throw new Error(`${source.name}${error.line ? `:${error.line}` : ''}: ${error.message}`);
    throw error;
  }
  output.finish(figure('done'));
  return summary;
}

export const registerCells: CommandRegistrar = (program, ctx) => {
  const cells = program.command('cells').description('The cell tower table used to locate devices without GPS or beacons');
  cells
    .command('import')
    .description('Import an OpenCelliD CSV export (radio,mcc,net,area,cell,unit,lon,lat,range,…)')
    .argument('<file>', 'the CSV file (.csv or .csv.gz), or - for stdin')
    .option('--progress <mode>', 'auto (a bar on a terminal, else a line every 5 s), bar, lines or none', 'auto')
    .option('--dry-run', 'only check the file')
    .option('--mcc <codes>', 'keep only these mobile country codes, e.g. 262,310')
    .option('--batch <n>', 'towers per request', '5000')
    .option('--max-issues <n>', 'bad rows printed before only counting', '50')
    .option('--url <url>', 'engine URL', ctx.env.FLEETFORM_URL ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'operator token (default: FLEETFORM_TOKEN or FLEETFORM_ADMIN_TOKEN)')
    .action(async (file: string, flags: ImportFlags) => {
      let summary: CellImportSummary;
      try {
        summary = await importCells(file, flags, ctx);
      } catch (error) {
        if (error instanceof UsageError) throw error;
        ctx.stderr(`error: ${(error as Error).message}\n`);
        ctx.exit(1);
        return;
      }
      const verb = flags.dryRun ? 'checked' : 'imported';
      ctx.stdout(
        `${verb} ${summary.towers} towers in ${summary.batches} batches` +
          (summary.filtered ? `, ${summary.filtered} skipped by --mcc` : '') +
          (summary.issues ? `, ${summary.issues} bad rows` : '') +
          '\n',
      );
      // Good rows are imported even when some are bad; the exit code still says the file had errors.
      if (summary.issues > 0) ctx.exit(1);
    });
};
