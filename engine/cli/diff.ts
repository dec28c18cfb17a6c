// `fleetform diff BASE HEAD`: what a change does — HEAD validated, the semantic diff (firmware first) and
// the fleet impact from a fleet file. Exit 1 when HEAD is invalid, 3 when --fail-on trips.
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  FleetFileError,
  FleetFileReader,
  firmwarePort,
  parseFleetFile,
  renderReview,
  reviewChange,
  REVIEW_FORMATS,
  reviewExitCode,
  type FailOn,
  type FleetDevice,
  type ReviewFormat,
} from '../review/index.ts';
import { VALIDATE_CHECKS } from '../config/index.ts';
import type { SourceTree } from '../model/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';
import { databaseUrl, readFleetFromDatabase } from './fleet.ts';
import { addSecretSourceOptions, secretSourcesOf, type SecretSourceFlags } from './secret.ts';

const FORMATS = REVIEW_FORMATS;
const FAIL_ON = ['blocked', 'any'] as const;

interface DiffFlags extends SecretSourceFlags {
  repo: string;
  format: string;
  fleet?: string;
  databaseUrl?: string;
  failOn?: string;
  ageIdentity?: string;
}

async function readTrees(dir: string, base: string, head: string): Promise<[SourceTree, SourceTree]> {
  const git = await import('../git/index.ts');
  const cache = {};
  try {
    return [await git.readRevisionTree({ dir, ref: base, cache }), await git.readRevisionTree({ dir, ref: head, cache })];
  } catch (error) {
    if (error instanceof git.GitAdapterError) throw new UsageError(error.message);
    throw error;
  }
}

/** JSON Lines are streamed line by line (a million devices need not sit in memory as one string). */
export async function readFleetFile(file: string): Promise<FleetDevice[]> {
  let first = '';
  try {
    const handle = await open(file, 'r');
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    await handle.close();
    first = buffer.subarray(0, bytesRead).toString('utf8').trimStart();
  } catch (error) {
    throw new UsageError(`--fleet: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    if (first.startsWith('[') || /^\{\s*"devices"/.test(first)) return parseFleetFile(await readFile(file, 'utf8'));
    // 1 MiB chunks, each parsed as one batch of lines: several times faster than node:readline and a
    // JSON.parse per line on a million devices.
    const reader = new FleetFileReader();
    let line = 1;
    let rest = '';
    for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
      const text = rest + (chunk as string);
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        rest = text;
        continue;
      }
      const lines = text.slice(0, cut).split('\n');
      reader.addLines(lines, line);
      line += lines.length;
      rest = text.slice(cut + 1);
    }
    if (rest !== '') reader.addLines([rest], line);
    return reader.finish();
  } catch (error) {
    if (error instanceof FleetFileError) throw new UsageError(`--fleet ${file}: ${error.message}`);
    throw error;
  }
}



async function runDiff(base: string, head: string, flags: DiffFlags, ctx: CliContext): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(flags.format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${flags.format}')`);
  }
  if (flags.failOn !== undefined && !(FAIL_ON as readonly string[]).includes(flags.failOn)) {
    throw new UsageError(`--fail-on must be one of ${FAIL_ON.join(', ')} (got '${flags.failOn}')`);
  }
  // The fleet: a fleet file, else the engine database (--database-url, else DATABASE_URL).
  const url = flags.fleet ? undefined : databaseUrl(flags.databaseUrl, ctx);
  if (flags.failOn && !flags.fleet && !url) throw new UsageError('--fail-on needs the fleet: pass --fleet FILE or --database-url URL');
  const secretSources = secretSourcesOf(flags, ctx);
  const dir = resolve(ctx.cwd, flags.repo);
  const [baseTree, headTree] = await readTrees(dir, base, head);
  const devices = flags.fleet ? await readFleetFile(resolve(ctx.cwd, flags.fleet)) : url ? await readFleetFromDatabase(url) : undefined;
  const identityFile = flags.ageIdentity ?? ctx.env.FLEETFORM_AGE_IDENTITY_FILE;
  let identity: string | undefined;
  if (identityFile) {
    try {
      identity = await readFile(resolve(ctx.cwd, identityFile), 'utf8');
    } catch (error) {
      throw new UsageError(`--age-identity: cannot read ${identityFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const review = await reviewChange({
    base: baseTree,
    head: headTree,
    ...(devices ? { devices, firmware: firmwarePort() } : {}),
    ...(identity ? { identity } : {}),
    checks: VALIDATE_CHECKS,
    secretSources,
  });
  ctx.stdout(renderReview(review, flags.format as ReviewFormat));
  ctx.exit(reviewExitCode(review, flags.failOn as FailOn | undefined));
}

export const registerDiff: CommandRegistrar = (program: Command, ctx: CliContext) => {
  addSecretSourceOptions(program.command('diff'))
    .description('Semantic diff of two revisions with the fleet impact; exit 1 when HEAD is invalid, 3 when --fail-on trips')
    .argument('<base>', 'base revision (branch, tag, sha; e.g. origin/main)')
    .argument('[head]', 'head revision', 'HEAD')
    .option('--repo <dir>', 'config repository root', '.')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--fleet <file>', 'fleet file (JSON Lines or JSON: id, profile, site, labels, firmware) for the fleet impact')
    .option('--database-url <url>', 'read the fleet from the engine database (default: DATABASE_URL, when no --fleet)')
    .option('--fail-on <what>', 'exit 3 when any device is newly blocked (blocked) or affected at all (any)')
    .option('--age-identity <file>', 'age identity: compare decrypted secrets (env FLEETFORM_AGE_IDENTITY_FILE)')
    .action((base: string, head: string, flags: DiffFlags) => runDiff(base, head, flags, ctx));
};
