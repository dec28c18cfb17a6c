// `fleetform firmware path`: the planner's path for a reported combination, from the working tree or a revision.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import semver from 'semver';
import { compileSnapshot } from '../config/index.ts';
import { FirmwarePlanner, describeVersions, latestTarget, type FirmwarePlan, type FirmwareTarget } from '../firmware/index.ts';
import { formatIssue, type SourceTree } from '../model/index.ts';
import { UsageError, type CliContext, type CommandRegistrar } from './context.ts';

const FORMATS = ['text', 'json'] as const;
type Format = (typeof FORMATS)[number];

interface PathFlags {
  hardware: string;
  from: string;
  to?: string;
  repo?: string;
  rev?: string;
  format: string;
  allowDowngrade?: boolean;
}

/** `mcu=1.0.0,ble=1.0.0` → { mcu: '1.0.0', ble: '1.0.0' }; each value checked by `check`. */
export function parseComponentList(flag: string, text: string, check: (component: string, value: string) => string | null): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new UsageError(`${flag}: expected component=version pairs, e.g. mcu=2.1.0,ble=1.3.0`);
  for (const part of parts) {
    const eq = part.indexOf('=');
    const component = eq < 0 ? '' : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!component || !value) throw new UsageError(`${flag}: '${part}' is not component=version`);
    if (Object.hasOwn(out, component)) throw new UsageError(`${flag}: ${component} is given twice`);
    const problem = check(component, value);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
    out[component] = value;
  }
  return out;
}

async function readTree(dir: string, rev: string | undefined): Promise<SourceTree> {
  const found = await stat(dir).catch(() => null);
  if (!found?.isDirectory()) throw new UsageError(`--repo: ${dir} is not a directory`);
  const git = await import('../git/index.ts');
  try {
    return rev === undefined ? await git.readWorkingTree({ dir }) : await git.readRevisionTree({ dir, ref: rev });
  } catch (error) {
    if (error instanceof git.GitAdapterError) throw new UsageError(error.message);
    throw error;
  }
}

export function formatPlanText(plan: FirmwarePlan, components: readonly string[]): string {
  const lines: string[] = [];
  const from = describeVersions(plan.from, components);
  if (plan.status === 'blocked') {
    lines.push(`${plan.hardware}: no path from ${from}${plan.offMatrix ? ' (off the matrix)' : ''}`);
    for (const reason of plan.reasons) lines.push(`  - [${reason.code}] ${reason.message}`);
    return lines.join('\n') + '\n';
  }
  if (plan.status === 'up-to-date') {
    return `${plan.hardware}: ${from} is up to date${plan.destinationBundle ? ` (${plan.destinationBundle})` : ''}\n`;
  }
  const to = describeVersions(plan.destination ?? {}, components);
  lines.push(`${plan.hardware}: ${from} → ${to}${plan.destinationBundle ? ` (${plan.destinationBundle})` : ''}`);
  if (plan.offMatrix) {
    lines.push(`  off the matrix: ${plan.fromProblems.map((p) => p.message).join('; ') || 'not a known-good combination'}`);
    lines.push(`  back on a known-good combination after step ${plan.backOnMatrixAtStep}`);
  }
  const width = Math.max(...plan.steps.map((s) => String(s.bytes).length));
  plan.steps.forEach((step, i) => {
    const note = step.lands === 'transitional' ? '  (transitional)' : step.lands === 'off-matrix' ? '  (still off the matrix)' : '';
    lines.push(`  ${i + 1}. ${step.component} ${step.from ?? '(none)'} → ${step.to}  ${String(step.bytes).padStart(width)} bytes${note}`);
  });
  lines.push(`total: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}, ${plan.totalBytes} bytes`);
  return lines.join('\n') + '\n';
}

export function planJson(plan: FirmwarePlan): object {
  if (plan.status === 'blocked') {
    return { status: plan.status, error: plan.reasons.map((r) => r.message).join('; '), reasons: plan.reasons };
  }
  return {
    status: plan.status,
    steps: plan.steps.map((s) => ({ component: s.component, from: s.from, to: s.to, bytes: s.bytes })),
    totalBytes: plan.totalBytes,
    destination: plan.destination,
    ...(plan.destinationBundle ? { bundle: plan.destinationBundle } : {}),
    ...(plan.offMatrix ? { offMatrix: true, backOnMatrixAtStep: plan.backOnMatrixAtStep } : {}),
  };
}

async function runPath(flags: PathFlags, ctx: CliContext): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${flags.format}')`);
  const format = flags.format as Format;
  const from = parseComponentList('--from', flags.from, (c, v) => (semver.valid(v) ? null : `${c}=${v}: '${v}' is not a semver version`));
  const dir = resolve(ctx.cwd, flags.repo ?? '.');
  const tree = await readTree(dir, flags.rev);
  const { snapshot, issues } = await compileSnapshot(tree);
  if (!snapshot) {
    const errors = issues.filter((i) => i.severity === 'error');
    if (format === 'json') ctx.stdout(JSON.stringify({ error: `the config at ${tree.revision} does not compile`, issues: errors }, null, 2) + '\n');
    else ctx.stderr(`${tree.revision}: the config does not compile:\n${errors.map((i) => formatIssue(i) + '\n').join('')}`);
    ctx.exit(1);
    return;
  }
  const planner = new FirmwarePlanner(snapshot);
  const model = planner.model(flags.hardware);
  if (!model) {
    const known = [...snapshot.matrices.keys()].sort();
    throw new UsageError(`--hardware: no CompatibilityMatrix for '${flags.hardware}' (known: ${known.join(', ') || 'none'})`);
  }
  for (const component of Object.keys(from)) {
    if (!model.components.includes(component)) throw new UsageError(`--from: '${component}' is not a component of ${flags.hardware} (${model.components.join(', ')})`);
  }
  let target: FirmwareTarget | null;
  if (flags.to === undefined) {
    target = latestTarget(model);
    if (!target) throw new UsageError(`--to is needed: ${flags.hardware} declares no bundle or release to aim at`);
  } else if (flags.to.includes('=')) {
    target = {
      components: parseComponentList('--to', flags.to, (c, v) => {
        if (!model.components.includes(c)) return `'${c}' is not a component of ${flags.hardware} (${model.components.join(', ')})`;
        return semver.validRange(v) === null ? `${c}=${v}: '${v}' is neither a version nor a semver range` : null;
      }),
    };
  } else {
    const bundle = flags.to.trim();
    if (!model.bundle(bundle)) {
      const names = model.bundles.map((b) => b.name);
      throw new UsageError(`--to: ${flags.hardware} has no bundle named or versioned '${bundle}'${names.length ? ` (bundles: ${names.join(', ')})` : ' (its matrix declares no bundles: use --to component=version,…)'}`);
    }
    target = { bundle };
  }
  const plan = planner.plan({ hardware: flags.hardware, from, target, ...(flags.allowDowngrade ? { allowDowngrade: true } : {}) });
  ctx.stdout(format === 'json' ? JSON.stringify(planJson(plan), null, 2) + '\n' : formatPlanText(plan, model.matrix.spec.components));
  ctx.exit(plan.status === 'blocked' ? 1 : 0);
}

export const registerFirmware: CommandRegistrar = (program: Command, ctx: CliContext) => {
  const firmware = program.command('firmware').description('Firmware planning');
  firmware
    .command('path')
    .description('The fewest-step upgrade path of a reported combination (exit 1 when there is none)')
    .requiredOption('--hardware <name>', 'hardware model, e.g. tracker')
    .requiredOption('--from <versions>', 'reported firmware, e.g. mcu=2.0.0,ble=1.2.0,lte=5.0.0')
    .option('--to <target>', 'a bundle name or application version, or component=version|range,… (default: the newest)')
    .option('--repo <dir>', 'config repository root', '.')
    .option('--rev <rev>', 'plan against this revision (branch, tag or sha) instead of the working tree')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--allow-downgrade', 'allow steps to lower versions, as a rollout with allowDowngrade would')
    .action((flags: PathFlags) => runPath(flags, ctx));
};
