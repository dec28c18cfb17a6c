// Label selectors as rollouts and groups use them (Kubernetes semantics).
import { describe, expect, it } from 'vitest';
import { matchesLabelSelector } from '../../engine/config/index.ts';

describe('matchesLabelSelector', () => {
  const labels = { usage: 'demo', zone: 'garage-b1' };

  it('an empty selector matches every device', () => {
    expect(matchesLabelSelector({}, {})).toBe(true);
    expect(matchesLabelSelector({}, labels)).toBe(true);
  });

  it('matchLabels needs every pair to be equal', () => {
    expect(matchesLabelSelector({ matchLabels: { usage: 'demo' } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { usage: 'demo', zone: 'lot' } }, labels)).toBe(false);
  });

  it('In, NotIn, Exists and DoesNotExist', () => {
    const m = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', key: string, values?: string[]) =>
      matchesLabelSelector({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }, labels);
    expect(m('In', 'zone', ['garage-b1', 'garage-b2'])).toBe(true);
    expect(m('In', 'zone', ['lot'])).toBe(false);
    expect(m('In', 'missing', ['x'])).toBe(false);
    expect(m('NotIn', 'zone', ['lot'])).toBe(true);
    expect(m('NotIn', 'zone', ['garage-b1'])).toBe(false);
    expect(m('NotIn', 'missing', ['x'])).toBe(true);
    expect(m('Exists', 'usage')).toBe(true);
    expect(m('Exists', 'missing')).toBe(false);
    expect(m('DoesNotExist', 'missing')).toBe(true);
    expect(m('DoesNotExist', 'usage')).toBe(false);
  });
});
