// What a person reads: the progress line and the final report say what happened, including what went wrong.
import { describe, expect, it } from 'vitest';
import { formatProgressBar, formatProgressLine, formatReport, type SimulationReport } from '../../engine/simulate/index.ts';

function report(extra: Partial<SimulationReport> = {}): SimulationReport {
  return {
    elapsedMs: 90_000,
    simulatedMs: 90_000 * 500,
    devices: 10,
    atTarget: 4,
    byLocalStatus: { 'at-target': 4, installing: 2, behind: 3, silent: 1 },
    byFirmware: [
      { firmware: 'tr: ble 1.0.0, mcu 1.0.0', devices: 6 },
      { firmware: 'tr: ble 2.0.0, mcu 1.1.0', devices: 4 },
    ],
    byEngineStatus: { upgrading: 6, converged: 4 },
    checkIns: 321,
    errors: { '429': 2 },
    stepsIssued: 12,
    stepsSucceeded: 9,
    stepsFailed: 1,
    downloadsInFlight: 2,
    convergedAfterMs: null,
    pausedRollouts: [],
    converged: false,
    convergedAfterSimulatedMs: null,
    registrationMs: 1000,
    violations: [],
    breaches: [],
    throttlePeaks: [{ rollout: 'tr-upgrade', tower: '310-410-1-11', peak: 3, limit: 3 }],
    outcomes: [],
    latency: { p50: 5, p90: 9, p99: 20, max: 31 },
    ...extra,
  };
}

describe('the live summary', () => {
  it('shows the share at target as a bar, the counts by status and by firmware, and refusals', () => {
    expect(formatProgressBar(report(), 10)).toMatch(/^\[####\.\.\.\.\.\.\] 4\/10 at target \| at-target 4, installing 2, behind 3, silent 1 \| 321 check-ins/);
    const line = formatProgressLine(report());
    expect(line).toContain('engine: upgrading 6, converged 4');
    expect(line).toContain('tr: ble 1.0.0, mcu 1.0.0 ×6');
    expect(line).toContain('refused: 429 2');
  });

  it('names a paused rollout, since its devices will not converge', () => {
    const paused = report({ pausedRollouts: [{ name: 'tr-upgrade', reason: 'wave all: 3 of 5 steps failed' }] });
    expect(formatProgressLine(paused)).toContain('rollout tr-upgrade is paused: wave all: 3 of 5 steps failed');
    expect(formatReport(paused)).toContain('rollout tr-upgrade is paused (wave all: 3 of 5 steps failed)');
  });
});

describe('the final report', () => {
  it('says how long convergence took, in real and simulated time', () => {
    const text = formatReport(report({ converged: true, atTarget: 10, convergedAfterMs: 45_000, convergedAfterSimulatedMs: 45_000 * 500 }));
    expect(text).toMatch(/^converged: all 10 devices reached their rollout target after 45s \(6h15m simulated\)/);
    expect(text).toContain('every step was valid');
    expect(text).toContain('per-tower throttle held at every moment');
  });

  it('says when the fleet did not converge, and lists invalid steps and throttle breaches', () => {
    const text = formatReport(
      report({
        violations: [{ device: 'd1', stepId: 's1', from: {}, to: {}, reason: 'not-known-good', message: 'd1: step s1 landed on ble 2.0.0, mcu 1.0.0' }],
        breaches: [{ rollout: 'tr-upgrade', tower: '310-410-1-11', inFlight: 4, limit: 3, device: 'd2' }],
      }),
    );
    expect(text).toMatch(/^not converged: 4\/10 devices at their rollout target after 1m30s/);
    expect(text).toContain('INVALID STEPS: 1\n  d1: step s1 landed on ble 2.0.0, mcu 1.0.0');
    expect(text).toContain('THROTTLE EXCEEDED 1 times\n  tr-upgrade @ 310-410-1-11: 4 in flight > 3');
  });
});
