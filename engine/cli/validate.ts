// `fleetform validate`: every issue of the working tree or a revision, as text, JSON or GitHub annotations.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { compileSnapshot, parallelYamlParser, type SnapshotCheck } from '../config/index.ts';
import { checkRuleFacts } from '../rules/index.ts';
import { FirmwarePlanner, compareVersions } from '../firmware/index.ts';
import { formatIssue, hasErrors, type FirmwareVersions, type Issue, type SourceTree } from '../model/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

const FORMATS = ['text', 'json', 'github'] as const;
type Format = (typeof FORMATS)[number];

interface ValidateFlags {
  repo?: string;
  rev?: string;
  format: string;
  ageIdentity?: string;
}

/** The rules module's static checks (unknown facts, operators, paths) as a snapshot check, with file:line:col. */
export const ruleFactsCheck: SnapshotCheck = ({ ofKind, issue }) =>
  ofKind('AlertRule').flatMap((rule) =>
    checkRuleFacts(rule.resource).map((found) => issue(rule, found.segments, found.code, found.message, found.severity)),
  );

/**
 * A rollout target that no declared known-good combination (other than the target itself) can reach, one
 * component at a time, is an error.
 * Starting points: the bundles below the target, nearest first (bundles strategy), or every component's oldest
 * release when that combination is good (constraints strategy). Uses the firmware planner.
 */
const MAX_STARTS = 16;

export const rolloutReachabilityCheck: SnapshotCheck = ({ ofKind, snapshot, issue }) => {
  const planner = new FirmwarePlanner(snapshot);
  const issues: Issue[] = [];
  for (const rollout of ofKind('Rollout')) {
    const spec = rollout.resource.spec;
    const hardware = new Set<string>();
    for (const name of spec.selector.profiles ?? []) {
      const profile = snapshot.profiles.get(name);
      if (profile) hardware.add(profile.spec.hardware);
    }
    if (hardware.size === 0) for (const name of snapshot.matrices.keys()) hardware.add(name);
    for (const name of hardware) {
      const model = planner.model(name);
      if (!model) continue; // reported as a dangling reference already
      if ('bundle' in spec.target && !model.bundle(spec.target.bundle)) continue; // another hardware's bundle, or unknown-bundle
      // Nearest first: the bundle just below the target is usually one step away, so the common case plans
      // one short path instead of walking the whole history. Bundles above the target (only a downgrade
      // leads back) are left out; a broken target is tried from at most MAX_STARTS combinations.
      const targetBundle = 'bundle' in spec.target ? model.bundle(spec.target.bundle) : null;
      const notPast = (state: FirmwareVersions): boolean =>
        !targetBundle || model.components.every((c) => compareVersions(state[c] ?? '0.0.0', targetBundle.components[c] ?? '0.0.0') <= 0);
      const starts: FirmwareVersions[] =
        model.strategy === 'bundles'
          ? [...model.bundles]
              .filter((b) => b.name !== targetBundle?.name && notPast(b.components))
              .sort((a, b) => compareVersions(b.version, a.version))
              .slice(0, MAX_STARTS)
              .map((b) => b.components)
          : [Object.fromEntries(model.components.map((c, i) => [c, model.versions[i]?.[0] ?? '']))].filter((state) => model.isGood(state));
      if (starts.length === 0) continue;
      // The target itself is trivially "reached"; what matters is that devices elsewhere can get there.
      let lastReason = '';
      let others = 0;
      const reachable = starts.some((from) => {
        const plan = planner.plan({ hardware: name, from, rollout: rollout.resource });
        if (plan.status === 'up-to-date') return false;
        // Devices already past the target (only a downgrade leads back) do not make it unreachable: pinning is legitimate.
        if (plan.status !== 'planned' && plan.reasons.length > 0 && plan.reasons.every((r) => r.code === 'downgrade-not-allowed')) return false;
        others++;
        lastReason = plan.reasons.map((reason) => reason.message).join('; ');
        return plan.status === 'planned';
      });
      if (!reachable && others > 0) {
        issues.push(
          issue(rollout, ['spec', 'target'], 'unreachable-target', `no known-good ${name} combination can reach the target one component at a time: ${lastReason}`),
        );
      }
    }
  }
  return issues;
};

/** Checks from other modules that `validate` runs after the built-in ones. */
export const VALIDATE_CHECKS: readonly SnapshotCheck[] = [ruleFactsCheck, rolloutReachabilityCheck];

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
  const tree = await readTree(dir, flags.rev);
  // No secretRef resolver: CI does not hold the engine's secrets, so references are checked for form only.
  const { issues, snapshot } = await compileSnapshot(tree, {
    ...(identity ? { identity } : {}),
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
  program
    .command('validate')
    .description('Validate the config repo (working tree, or a revision with --rev); exit 1 when there are errors')
    .option('--repo <dir>', 'config repository root', '.')
    .option('--rev <rev>', 'validate this revision (branch, tag or sha) instead of the working tree')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--age-identity <file>', 'age identity file: also check that every encrypted secret decrypts (env FLEETFORM_AGE_IDENTITY_FILE)')
    .action((flags: ValidateFlags) => runValidate(flags, ctx));
};
