// A review as text (terminal), markdown (a pull-request comment) or JSON. Stable: the same review gives
// the same bytes — no clocks, every list sorted.
import { escapeControls, formatIssue, type JsonValue } from '../model/index.ts';
import type { FleetImpact, FirmwarePathGroup, StateGroup } from './impact.ts';
import type { Review, RevisionSummary } from './review.ts';
import type { FieldChange, ResourceChange } from './semantic.ts';

const FIRMWARE_KINDS = new Set(['FirmwareRelease', 'CompatibilityMatrix', 'Rollout']);
const MAX_VALUE = 120;

const number = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`): string => `${number(n)} ${n === 1 ? one : many}`;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function value(v: JsonValue | undefined): string {
  const text = JSON.stringify(v) ?? 'undefined';
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function short(revision: RevisionSummary): string {
  return /^[0-9a-f]{40}$/.test(revision.revision) ? revision.revision.slice(0, 7) : revision.revision;
}

/** A secret change names its source on each side (`env X → file y`, `re-encrypted`), never a value. */
function secretLine(field: FieldChange, code: (s: string) => string): string {
  const { old, new: next } = field.source ?? {};
  switch (field.type) {
    case 'added':
      return `${code(field.path)}: secret added${next ? ` from ${code(next)}` : ''} (value not shown)`;
    case 'removed':
      return `${code(field.path)}: secret removed${old ? ` (was ${code(old)})` : ''}`;
    case 'changed':
      if (old && next && old !== next) return `${code(field.path)}: secret source ${code(old)} → ${code(next)} (value not shown)`;
      if (old === 'age-encrypted' && next === 'age-encrypted') return `${code(field.path)}: re-encrypted (value not shown)`;
      return `${code(field.path)}: changed (secret${next ? ` from ${code(next)}` : ''}, value not shown)`;
  }
}

function fieldLine(field: FieldChange, code: (s: string) => string = (s) => s): string {
  if (field.secret) return secretLine(field, code);
  switch (field.type) {
    case 'added':
      return `${code(field.path)}: added ${code(value(field.new))}`;
    case 'removed':
      return `${code(field.path)}: removed (was ${code(value(field.old))})`;
    case 'changed':
      return `${code(field.path)}: ${code(value(field.old))} → ${code(value(field.new))}`;
  }
}

function pathLabel(path: FirmwarePathGroup): string {
  return [path.from, ...path.via, path.to].join(' → ');
}

/** The one line at the top: how much of the fleet this change touches. */
export function blastRadius(review: Review): string {
  const impact = review.impact;
  if (!review.headValid) return `HEAD is invalid (${plural(review.head.errors, 'error')}): the engine would reject this revision`;
  if (!impact) {
    const count = review.resources.length;
    return `${plural(count, 'resource')} changed; fleet impact not computed (${review.impactNote ?? 'no fleet'})`;
  }
  const share = impact.devices === 0 ? 0 : (impact.affected / impact.devices) * 100;
  const parts = [
    `${number(impact.config.changed)} change config`,
    `${number(impact.firmware.planChanged)} change firmware plan (${number(impact.firmware.startsNow)} start upgrading now)`,
    `${number(sumDevices(impact.firmware.newlyBlocked))} newly blocked`,
    `${number(sumDevices(impact.firmware.newlyOffMatrix))} newly off-matrix`,
  ];
  return `Blast radius: ${number(impact.affected)} of ${plural(impact.devices, 'device')} (${share.toFixed(1)}%) — ${parts.join(', ')}`;
}

function sumDevices(groups: readonly StateGroup[]): number {
  return groups.reduce((sum, group) => sum + group.devices, 0);
}

function firmwareCount(review: Review): number {
  const f = review.firmware;
  return f.releases.length + f.bundles.length + f.requirements.length + f.rollouts.length;
}

function otherResources(review: Review): ResourceChange[] {
  return review.resources.filter((change) => !FIRMWARE_KINDS.has(change.kind));
}

const SIGN = { added: '+', removed: '-', changed: '~' } as const;

// ── text ──────────────────────────────────────────────────────────────────

export function renderText(review: Review): string {
  const out: string[] = [];
  out.push(`fleetform diff ${short(review.base)}..${short(review.head)}`);
  out.push(blastRadius(review));
  if (review.headIssues.length > 0) {
    out.push('', `HEAD issues (${review.headIssues.length}):`);
    for (const issue of review.headIssues) out.push(`  ${formatIssue(issue)}`);
  }
  const f = review.firmware;
  out.push('', `Firmware (${plural(firmwareCount(review), 'change')})`);
  if (f.releases.length > 0) {
    out.push('  Releases');
    for (const r of f.releases) {
      out.push(`    ${SIGN[r.type]} ${r.name}  ${r.hardware}/${r.component} ${r.version}  sha256 ${r.sha256.slice(0, 12)}…  ${formatBytes(r.size)}`);
      for (const field of r.fields) out.push(`        ${fieldLine(field)}`);
    }
  }
  if (f.bundles.length > 0) {
    out.push('  Bundles');
    for (const b of f.bundles) {
      const components = Object.entries(b.components).map(([c, v]) => `${c} ${v}`).join(', ');
      out.push(`    ${SIGN[b.type]} ${b.matrix}/${b.bundle} (${b.version}): ${components}`);
      for (const field of b.fields) out.push(`        ${fieldLine(field)}`);
    }
  }
  if (f.requirements.length > 0) {
    out.push('  Requirements');
    for (const r of f.requirements) {
      out.push(`    ~ ${r.subject}`);
      for (const field of r.fields) out.push(`        ${fieldLine(field)}`);
    }
  }
  if (f.rollouts.length > 0) {
    out.push('  Rollouts');
    for (const r of f.rollouts) {
      out.push(`    ${SIGN[r.type]} ${r.name} (target ${r.target}, active wave ${r.activeWave})`);
      for (const field of r.fields) out.push(`        ${fieldLine(field)}`);
    }
  }
  const others = otherResources(review);
  out.push('', `Resources (${plural(others.length, 'change')})`);
  for (const change of others) {
    out.push(`  ${SIGN[change.type]} ${change.kind}/${change.name}  ${change.file}`);
    for (const field of change.fields) out.push(`      ${fieldLine(field)}`);
  }
  out.push('');
  if (review.impact) out.push(...impactText(review.impact));
  else out.push(`Fleet impact: not computed — ${review.impactNote ?? 'no fleet'}`);
  if (review.impact && review.impactNote) out.push(`  note: ${review.impactNote}`);
  // Every line is built from one piece of output: a newline or escape inside it came from the repository.
  return out.map(escapeControls).join('\n') + '\n';
}

function impactText(impact: FleetImpact): string[] {
  const out = [`Fleet impact (${plural(impact.devices, 'device')})`];
  out.push(`  Config: ${plural(impact.config.changed, 'device')} change effective config${impact.config.orphaned ? ` (${number(impact.config.orphaned)} lose their profile or site)` : ''}`);
  if (impact.config.changed > 0) {
    out.push(`    by site: ${impact.config.bySite.map((c) => `${c.name} ${number(c.devices)}`).join(', ')}`);
    out.push(`    by profile: ${impact.config.byProfile.map((c) => `${c.name} ${number(c.devices)}`).join(', ')}`);
  }
  out.push(
    `  Firmware: ${plural(impact.firmware.planChanged, 'device')} change plan, ${number(impact.firmware.startsNow)} start upgrading now${impact.firmware.stopped ? `, ${number(impact.firmware.stopped)} no longer upgrade` : ''}`,
  );
  for (const path of impact.firmware.paths) {
    out.push(`    ${path.rollout}: ${pathLabel(path)}  ${plural(path.steps, 'step')}, ${formatBytes(path.bytes)} each, ${plural(path.devices, 'device')}`);
  }
  if (impact.firmware.waves.length > 0) {
    out.push(`  Waves: ${impact.firmware.waves.map((w) => `${w.rollout}/${w.wave} ${number(w.devices)}${w.open ? ' (open)' : ''}`).join(', ')}`);
  }
  for (const [title, groups] of [
    ['Newly blocked (no path)', impact.firmware.newlyBlocked],
    ['Newly off-matrix', impact.firmware.newlyOffMatrix],
  ] as const) {
    if (groups.length === 0) continue;
    out.push(`  ${title}: ${plural(sumDevices(groups), 'device')}`);
    for (const g of groups) out.push(`    ${g.hardware} on ${g.firmware}${g.rollout ? ` (rollout ${g.rollout})` : ''}: ${plural(g.devices, 'device')}, e.g. ${g.examples.join(', ')}`);
  }
  out.push(`  At HEAD: ${number(impact.firmware.blockedAtHead)} blocked, ${number(impact.firmware.offMatrixAtHead)} off-matrix in total`);
  return out;
}

// ── markdown ──────────────────────────────────────────────────────────────

// Everything from the repository — names, file names, versions, messages, secret sources — is shown as a
// code span: GitHub renders no HTML, link, image, @mention or #reference inside one. Control characters are
// written as visible escapes first, so nothing can end the line (or the <details> section) early.

/** A code span around any text: the fence is one backtick longer than the longest run inside it (CommonMark). */
function code(text: string): string {
  const safe = escapeControls(text);
  const longest = Math.max(0, ...(safe.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = safe.startsWith('`') || safe.endsWith('`') || (safe.startsWith(' ') && safe.endsWith(' ') && safe.trim() !== '') ? ' ' : '';
  return safe === '' ? '` `' : `${fence}${pad}${safe}${pad}${fence}`;
}

/** A code span in a table cell: a `|` splits cells even inside code, so it is escaped (GFM). */
function cell(text: string): string {
  return code(text).replace(/\|/g, '\\|');
}

/** A PR comment holds at most 65,536 characters: long sections are cut, and the whole comment too. */
export const MARKDOWN_SECTION_LINES = 250;
export const MARKDOWN_MAX_CHARS = 60_000;

function details(summary: string, body: string[]): string[] {
  let lines = [...body];
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MARKDOWN_SECTION_LINES) {
    const cut = lines.length - MARKDOWN_SECTION_LINES;
    lines = [...lines.slice(0, MARKDOWN_SECTION_LINES), '', `… ${plural(cut, 'more line')} — run \`fleetform diff --format text\` for all of it.`];
  }
  return ['<details>', `<summary>${summary}</summary>`, '', ...lines, '', '</details>', ''];
}

const WORD = { added: '**added**', removed: '**removed**', changed: '**changed**' } as const;

export function renderMarkdown(review: Review): string {
  const out: string[] = [];
  const verdict = !review.headValid ? '❌' : review.impact && sumDevices(review.impact.firmware.newlyBlocked) > 0 ? '⚠️' : '✅';
  out.push(`${verdict} **fleetform diff** ${code(short(review.base))} → ${code(short(review.head))}: ${blastRadius(review)}`, '');
  if (review.headIssues.length > 0) {
    out.push(
      ...details(
        `HEAD issues: ${plural(review.head.errors, 'error')}, ${plural(review.head.warnings, 'warning')}`,
        review.headIssues.map((i) => `- ${code(`${i.file}:${i.line}:${i.column}`)} **${i.severity}** ${code(i.code)} ${code(i.message)}`),
      ),
    );
  }
  const f = review.firmware;
  const fw: string[] = [];
  if (f.releases.length > 0) {
    fw.push('**Releases**', '', '| change | release | component | version | sha256 | size |', '|---|---|---|---|---|---|');
    for (const r of f.releases) {
      fw.push(`| ${r.type} | ${cell(r.name)} | ${cell(`${r.hardware}/${r.component}`)} | ${cell(r.version)} | ${cell(r.sha256.slice(0, 12) + '…')} | ${formatBytes(r.size)} |`);
    }
    fw.push('');
    for (const r of f.releases.filter((r) => r.fields.length > 0)) {
      fw.push(`${code(r.name)}:`, ...r.fields.map((field) => `- ${fieldLine(field, code)}`), '');
    }
  }
  if (f.bundles.length > 0) {
    fw.push('**Bundles**', '');
    for (const b of f.bundles) {
      const components = Object.entries(b.components).map(([c, v]) => `${c} ${v}`).join(', ');
      fw.push(`- ${WORD[b.type]} ${code(`${b.matrix}/${b.bundle}`)} (${code(b.version)}): ${code(components)}`);
      for (const field of b.fields) fw.push(`  - ${fieldLine(field, code)}`);
    }
    fw.push('');
  }
  if (f.requirements.length > 0) {
    fw.push('**Requirements**', '');
    for (const r of f.requirements) {
      fw.push(`- ${code(r.subject)}`);
      for (const field of r.fields) fw.push(`  - ${fieldLine(field, code)}`);
    }
    fw.push('');
  }
  if (f.rollouts.length > 0) {
    fw.push('**Rollouts**', '');
    for (const r of f.rollouts) {
      fw.push(`- ${WORD[r.type]} ${code(r.name)} — target ${code(r.target)}, active wave ${code(r.activeWave)}`);
      for (const field of r.fields) fw.push(`  - ${fieldLine(field, code)}`);
    }
    fw.push('');
  }
  if (fw.length === 0) fw.push('No firmware changes.');
  out.push(...details(`Firmware: ${plural(firmwareCount(review), 'change')}`, fw));

  const others = otherResources(review);
  const res: string[] = [];
  for (const change of others) {
    res.push(`- ${WORD[change.type]} ${code(`${change.kind}/${change.name}`)} in ${code(change.file)}`);
    for (const field of change.fields) res.push(`  - ${fieldLine(field, code)}`);
  }
  if (res.length === 0) res.push('No other resource changes.');
  out.push(...details(`Resources: ${plural(others.length, 'change')}`, res));

  if (review.impact) out.push(...impactMarkdown(review.impact, review.impactNote));
  else out.push(`Fleet impact not computed: ${review.impactNote ?? 'no fleet'}.`, '');
  let text = out.join('\n').replace(/\n+$/, '\n');
  if (text.length > MARKDOWN_MAX_CHARS) {
    // Cut at a section boundary so no <details> is left open.
    const cut = text.lastIndexOf('\n<details>', MARKDOWN_MAX_CHARS - 200);
    text = `${text.slice(0, cut > 0 ? cut : MARKDOWN_MAX_CHARS - 200)}\n\n… cut to fit a pull-request comment — run \`fleetform diff --format text\` for all of it.\n`;
  }
  return text;
}

function impactMarkdown(impact: FleetImpact, note: string | null): string[] {
  const out: string[] = [];
  const cfg: string[] = [];
  if (impact.config.changed === 0) cfg.push('No device changes effective config.');
  else {
    cfg.push('| site | devices |', '|---|---:|', ...impact.config.bySite.map((c) => `| ${cell(c.name)} | ${number(c.devices)} |`), '');
    cfg.push('| profile | devices |', '|---|---:|', ...impact.config.byProfile.map((c) => `| ${cell(c.name)} | ${number(c.devices)} |`));
    if (impact.config.orphaned > 0) cfg.push('', `${plural(impact.config.orphaned, 'device')} lose their profile or site.`);
  }
  out.push(`**Fleet impact** (${plural(impact.devices, 'device')})`, '');
  out.push(...details(`Config: ${plural(impact.config.changed, 'device')} change effective config`, cfg));

  const fw: string[] = [];
  if (impact.firmware.paths.length > 0) {
    fw.push('| rollout | path | steps | download each | devices |', '|---|---|---:|---:|---:|');
    for (const p of impact.firmware.paths) {
      fw.push(`| ${cell(p.rollout)} | ${cell(pathLabel(p))} | ${p.steps} | ${formatBytes(p.bytes)} | ${number(p.devices)} |`);
    }
    fw.push('');
  }
  if (impact.firmware.waves.length > 0) {
    fw.push('| rollout | wave | devices | open now |', '|---|---|---:|---|');
    for (const w of impact.firmware.waves) fw.push(`| ${cell(w.rollout)} | ${cell(w.wave)} | ${number(w.devices)} | ${w.open ? 'yes' : 'no'} |`);
    fw.push('');
  }
  if (impact.firmware.stopped > 0) fw.push(`${plural(impact.firmware.stopped, 'device')} no longer upgrade.`, '');
  if (fw.length === 0) fw.push('No device changes firmware plan.');
  const starts = impact.firmware.startsNow > 0 ? `, ${number(impact.firmware.startsNow)} start upgrading now` : '';
  out.push(...details(`Firmware plans: ${plural(impact.firmware.planChanged, 'device')} change${starts}`, fw));

  for (const [title, groups] of [
    ['Newly blocked (no path to the target)', impact.firmware.newlyBlocked],
    ['Newly off-matrix (running a combination that is no longer known-good)', impact.firmware.newlyOffMatrix],
  ] as const) {
    if (groups.length === 0) continue;
    const body = ['| hardware | reported firmware | rollout | devices | e.g. |', '|---|---|---|---:|---|'];
    for (const g of groups) {
      body.push(`| ${cell(g.hardware)} | ${cell(g.firmware)} | ${cell(g.rollout ?? '')} | ${number(g.devices)} | ${cell(g.examples.join(', '))} |`);
    }
    out.push(...details(`${title}: ${plural(sumDevices(groups), 'device')}`, body));
  }
  out.push(`At HEAD: ${number(impact.firmware.blockedAtHead)} blocked, ${number(impact.firmware.offMatrixAtHead)} off-matrix in total.${note ? ` Note: ${note}.` : ''}`, '');
  return out;
}

// ── json ──────────────────────────────────────────────────────────────────

/** The formats a review renders to: terminals, pull-request comments, tools. */
export const REVIEW_FORMATS = ['text', 'markdown', 'json'] as const;
export type ReviewFormat = (typeof REVIEW_FORMATS)[number];

export function renderReview(review: Review, format: ReviewFormat): string {
  switch (format) {
    case 'text':
      return renderText(review);
    case 'markdown':
      return renderMarkdown(review);
    case 'json':
      return renderJson(review);
  }
}

export function renderJson(review: Review): string {
  return JSON.stringify({ summary: blastRadius(review), ...review }, null, 2) + '\n';
}
