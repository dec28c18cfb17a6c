// `fleetform fmt [--check]`: rewrite resource files in the canonical key order and style (comments kept).
// With --check nothing is written: the files that would change are listed and the exit code is 1.
import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FormatError, formatResourceYaml } from '../review/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

interface FmtFlags {
  repo: string;
  check?: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function runFmt(flags: FmtFlags, ctx: CliContext): Promise<void> {
  const { readWorkingTree } = await import('../git/index.ts');
  const dir = resolve(ctx.cwd, flags.repo);
  let tree;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    tree = await readWorkingTree({ dir });
  } catch (error) {
    throw new UsageError(`--repo ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const changed: string[] = [];
  const failed: string[] = [];
  for (const file of tree.files) {
    if (file.type !== 'file' || !/\.ya?ml$/.test(file.path)) continue;
    let text: string;
    try {
      text = utf8.decode(file.content);
    } catch {
      failed.push(`${file.path}: not UTF-8 text`);
      continue;
    }
    let formatted: string;
    try {
      formatted = formatResourceYaml(text);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      failed.push(`${file.path}: cannot format: ${error.message}`);
      continue;
    }
    if (formatted === text) continue;
    changed.push(file.path);
    if (!flags.check) await writeFile(join(dir, file.path), formatted);
  }
  for (const path of changed) ctx.stdout(`${path}\n`);
  for (const problem of failed) ctx.stderr(`${problem}\n`);
  if (flags.check && changed.length > 0) {
    ctx.stderr(`${changed.length} file${changed.length === 1 ? '' : 's'} not in canonical form; run fleetform fmt\n`);
  }
  ctx.exit(failed.length > 0 || (flags.check && changed.length > 0) ? 1 : 0);
}

export const registerFmt: CommandRegistrar = (program: Command, ctx: CliContext) => {
  program
    .command('fmt')
    .description('Rewrite resource files in canonical key order and style, keeping comments; --check lists files that would change (exit 1)')
    .option('--repo <dir>', 'config repository root', '.')
    .option('--check', 'write nothing; exit 1 when a file is not in canonical form')
    .action((flags: FmtFlags) => runFmt(flags, ctx));
};
