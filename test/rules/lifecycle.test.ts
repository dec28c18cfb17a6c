import { describe, expect, it } from 'vitest';
import { acknowledgeAlert, AlertLifecycleError, nextAlertState, type AlertLifecycleState } from '../../engine/rules/index.ts';

const t0 = Date.parse('2026-11-22T08:00:00Z');
const MIN = 60_000;

/** Feed a series of (minute, holds) observations and collect the actions. */
function run(observations: [number, boolean][], holdDownSeconds: number, start: AlertLifecycleState | null = null) {
  let state = start;
  const actions: string[] = [];
  for (const [minute, holds] of observations) {
    const step = nextAlertState(state, holds, t0 + minute * MIN, holdDownSeconds);
    actions.push(step.action);
    state = step.next;
  }
  return { actions, state };
}

describe('alert lifecycle', () => {
  it('opens once while the condition keeps holding (deduplicated)', () => {
    const { actions, state } = run([[0, true], [15, true], [30, true]], 0);
    expect(actions).toEqual(['open', 'keep', 'keep']);
    expect(state).toMatchObject({ status: 'open', openedAt: t0 });
  });

  it('with no hold-down, resolves at the first check-in where the condition is false', () => {
    const { actions, state } = run([[0, true], [15, false]], 0);
    expect(actions).toEqual(['open', 'resolve']);
    expect(state).toMatchObject({ status: 'resolved', resolvedAt: t0 + 15 * MIN });
  });

  it('resolves only after the condition stayed false for the hold-down', () => {
    const { actions } = run([[0, true], [10, false], [20, false], [39, false], [40, false]], 30 * 60);
    expect(actions).toEqual(['open', 'start-hold-down', 'keep', 'keep', 'resolve']);
  });

  it('a flapping condition restarts the hold-down instead of resolving and re-opening', () => {
    const { actions, state } = run([[0, true], [10, false], [20, true], [30, false], [50, false], [60, false]], 30 * 60);
    expect(actions).toEqual(['open', 'start-hold-down', 'cancel-hold-down', 'start-hold-down', 'keep', 'resolve']);
    expect(state?.resolvedAt).toBe(t0 + 60 * MIN);
  });

  it('holding again after a resolve opens a new alert; nothing happens while it stays false', () => {
    const { actions, state } = run([[0, true], [10, false], [20, false], [30, true]], 0);
    expect(actions).toEqual(['open', 'resolve', 'none', 'open']);
    expect(state).toMatchObject({ status: 'open', openedAt: t0 + 30 * MIN, resolvedAt: null });
  });

  it('an acknowledged alert keeps its acknowledgement until it resolves', () => {
    const opened = nextAlertState(null, true, t0, 0).next!;
    const acked = acknowledgeAlert(opened, t0 + MIN);
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedAt: t0 + MIN });
    expect(acknowledgeAlert(acked, t0 + 2 * MIN)).toBe(acked);
    expect(nextAlertState(acked, true, t0 + 5 * MIN, 0)).toMatchObject({ action: 'keep', next: { status: 'acknowledged' } });
    const resolved = nextAlertState(acked, false, t0 + 6 * MIN, 0).next!;
    expect(resolved.status).toBe('resolved');
    expect(() => acknowledgeAlert(resolved, t0 + 7 * MIN)).toThrow(AlertLifecycleError);
    try {
      acknowledgeAlert(resolved, t0);
    } catch (error) {
      expect((error as AlertLifecycleError).code).toBe('alert-resolved');
    }
  });
});
