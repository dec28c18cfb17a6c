// How a simulation reads to a person: one line every few seconds (or a redrawn bar on a terminal), and
// the final report.
import type { SimulationProgress, SimulationReport } from './driver.ts';

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function counts(record: Record<string, number>): string {
  return Object.entries(record)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** `[#####.....] 412/1000 at target | installing 40, behind 530, silent 18 | 1803 check-ins, 7m sim` */
export function formatProgressBar(p: SimulationProgress, width = 30): string {
  const ratio = p.devices === 0 ? 1 : p.atTarget / p.devices;
  const filled = Math.round(ratio * width);
  const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
  return `[${bar}] ${p.atTarget}/${p.devices} at target | ${counts(p.byLocalStatus)} | ${p.checkIns} check-ins, ${p.downloadsInFlight} downloading | ${duration(p.elapsedMs)} (${duration(p.simulatedMs)} simulated)`;
}

export function formatProgressLine(p: SimulationProgress, topFirmware = 3): string {
  const lines = [formatProgressBar(p, 20)];
  if (p.byEngineStatus) lines.push(`  engine: ${counts(p.byEngineStatus) || '(no devices yet)'}`);
  const firmware = p.byFirmware.slice(0, topFirmware).map((f) => `${f.firmware} ×${f.devices}`);
  if (firmware.length > 0) lines.push(`  firmware: ${firmware.join(' | ')}${p.byFirmware.length > topFirmware ? ` | +${p.byFirmware.length - topFirmware} more` : ''}`);
  const errors = counts(p.errors);
  if (errors) lines.push(`  refused: ${errors}`);
  for (const r of p.pausedRollouts) lines.push(`  rollout ${r.name} is paused: ${r.reason}`);
  return lines.join('\n') + '\n';
}

export function formatReport(r: SimulationReport): string {
  const lines: string[] = [];
  lines.push(
    r.converged
      ? `converged: all ${r.devices} devices reached their rollout target after ${duration(r.convergedAfterMs ?? 0)} (${duration(r.convergedAfterSimulatedMs ?? 0)} simulated)`
      : `not converged: ${r.atTarget}/${r.devices} devices at their rollout target after ${duration(r.elapsedMs)} (${duration(r.simulatedMs)} simulated)`,
  );
  for (const paused of r.pausedRollouts) lines.push(`rollout ${paused.name} is paused (${paused.reason}): the devices it governs stay where they are`);
  lines.push(`check-ins: ${r.checkIns} (latency p50 ${r.latency.p50} ms, p90 ${r.latency.p90} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms); registration took ${duration(r.registrationMs)}`);
  lines.push(`firmware steps: ${r.stepsIssued} issued, ${r.stepsSucceeded} succeeded, ${r.stepsFailed} failed`);
  if (counts(r.errors)) lines.push(`refused check-ins: ${counts(r.errors)}`);
  lines.push('firmware now:');
  for (const f of r.byFirmware) lines.push(`  ${String(f.devices).padStart(6)}  ${f.firmware}`);
  const peaks = [...r.throttlePeaks].sort((a, b) => b.peak - a.peak).slice(0, 5);
  if (peaks.length > 0) {
    lines.push('busiest towers (downloads at once / per-cell limit):');
    for (const p of peaks) lines.push(`  ${p.rollout} @ ${p.tower}: ${p.peak} / ${p.limit ?? 'none'}`);
  }
  lines.push(r.violations.length === 0 ? 'every step was valid (one component, onto a known-good combination)' : `INVALID STEPS: ${r.violations.length}`);
  for (const v of r.violations.slice(0, 10)) lines.push(`  ${v.message}`);
  lines.push(r.breaches.length === 0 ? 'per-tower throttle held at every moment' : `THROTTLE EXCEEDED ${r.breaches.length} times`);
  for (const b of r.breaches.slice(0, 10)) lines.push(`  ${b.rollout} @ ${b.tower}: ${b.inFlight} in flight > ${b.limit}`);
  return lines.join('\n') + '\n';
}
