// `fleetform validate`: every issue of the working tree or a revision, as text, JSON or GitHub annotations.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { VALIDATE_CHECKS, compileSnapshot, parallelYamlParser } from '../config/index.ts';
import { formatIssue, hasErrors, type Issue, type SourceTree } from '../model/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';
import { addSecretSourceOptions, secretSourcesOf, type SecretSourceFlags } from './secret.ts';

const FORMATS = ['text', 'json', 'github'] as const;
type Format = (typeof FORMATS)[number];

interface ValidateFlags extends SecretSourceFlags {
  repo?: string;
  rev?: string;
  format: string;
  ageIdentity?: string;
}

/** GitHub workflow commands: data escapes %, CR, LF; properties also ':' and ','. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatIssues(issues: readonly Issue[], format: Format): string {
  switch (format) {
    case 'json':
      return JSON.stringify(issues, null, 2) + '\n';
    case 'github':
      return issues
        .map((issue) => {
          const command = issue.severity === 'error' ? 'error' : issue.severity === 'warning' ? 'warning' : 'notice';
          const props = `file=${escapeProperty(issue.file)},line=${issue.line},col=${issue.column},title=${escapeProperty(issue.code)}`;
          return `::${command} ${props}::${escapeData(issue.message)}\n`;
        })
        .join('');
    case 'text':
      return issues.map((issue) => formatIssue(issue) + '\n').join('');
  }
}

async function readTree(dir: string, rev: string | undefined): Promise<SourceTree> {
  const git = await import('../git/index.ts');
  try {
    return rev === undefined ? await git.readWorkingTree({ dir }) : await git.readRevisionTree({ dir, ref: rev });
  } catch (error) {
    // A directory that is not a repository or a revision that does not exist: the caller's mistake, exit 2.
    if (error instanceof git.GitAdapterError) throw new UsageError(error.message);
    throw error;
  }
}

async function readIdentity(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--age-identity: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function runValidate(flags: ValidateFlags, ctx: CliContext): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(flags.format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${flags.format}')`);
  }
  const format = flags.format as Format;
  const dir = resolve(ctx.cwd, flags.repo ?? '.');
  const identityFile = flags.ageIdentity ?? ctx.env.FLEETFORM_AGE_IDENTITY_FILE;
  const identity = identityFile ? await readIdentity(resolve(ctx.cwd, identityFile)) : undefined;
  const secretSources = secretSourcesOf(flags, ctx);
  const tree = await readTree(dir, flags.rev);
  // No secretRef resolver: CI does not hold the engine's secrets, so references are checked for form and
  // against the engine's declared secret sources (the same flags/env as `serve`), never read.
  const { issues, snapshot } = await compileSnapshot(tree, {
    ...(identity ? { identity } : {}),
    secretSources,
    checks: VALIDATE_CHECKS,
    parseFiles: parallelYamlParser(),
  });
  ctx.stdout(formatIssues(issues, format));
  if (format === 'text') {
    const errors = issues.filter((issue) => issue.severity === 'error').length;
    const warnings = issues.length - errors;
    ctx.stderr(
      snapshot
        ? `${tree.revision}: valid — ${snapshot.resources.length} resources${warnings ? `, ${warnings} warnings` : ''}${identity ? '' : ' (secrets checked for form only: no --age-identity)'}\n`
        : `${tree.revision}: ${errors} errors, ${warnings} warnings\n`,
    );
  }
  ctx.exit(hasErrors(issues) ? 1 : 0);
}

export const registerValidate: CommandRegistrar = (program: Command, ctx: CliContext) => {
  addSecretSourceOptions(program.command('validate'))
    .description('Validate the config repo (working tree, or a revision with --rev); exit 1 when there are errors')
    .option('--repo <dir>', 'config repository root', '.')
    .option('--rev <rev>', 'validate this revision (branch, tag or sha) instead of the working tree')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--age-identity <file>', 'age identity file: also check that every encrypted secret decrypts (env FLEETFORM_AGE_IDENTITY_FILE)')
    .action((flags: ValidateFlags) => runValidate(flags, ctx));
};
