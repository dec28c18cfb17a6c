// Which combinations are known-good, their good neighbours, and why a bad one is bad — for both strategies.
import { describe, expect, it } from 'vitest';
import { CompatibilityModel, planFirmwarePath } from '../../engine/firmware/index.ts';
import { bundlesMatrix, constraintsMatrix, release } from './builders.ts';

describe('strategy bundles', () => {
  const releases = [
    release('t', 'mcu', '1.0.0', 500),
    release('t', 'mcu', '1.1.0', 510),
    release('t', 'mcu', '1.2.0', 520),
    release('t', 'ble', '1.0.0', 100),
    release('t', 'ble', '2.0.0', 110),
  ];
  const matrix = bundlesMatrix(
    't',
    ['mcu', 'ble'],
    [
      { name: 'app-1', version: '1.0.0', components: { mcu: '1.0.0', ble: '1.0.0' } },
      { name: 'app-2', version: '2.0.0', components: { mcu: '1.1.0', ble: '2.0.0' } },
      { name: 'app-3', version: '3.0.0', components: { mcu: '1.2.0', ble: '2.0.0' } },
    ],
    { transitional: [{ mcu: '1.1.0', ble: '1.0.0' }] },
  );
  const model = new CompatibilityModel(matrix, releases);

  it('a declared bundle is good and stable, and names itself', () => {
    expect(model.assess({ mcu: '1.1.0', ble: '2.0.0' })).toMatchObject({ good: true, stable: true, transitional: false, bundle: 'app-2', problems: [] });
  });

  it('a transitional combination is good but not a place to stay', () => {
    expect(model.assess({ mcu: '1.1.0', ble: '1.0.0' })).toMatchObject({ good: true, stable: false, transitional: true, bundle: null });
  });

  it('any other combination is bad, and says so', () => {
    const a = model.assess({ mcu: '1.2.0', ble: '1.0.0' });
    expect(a.good).toBe(false);
    expect(a.problems.map((p) => p.code)).toEqual(['not-a-known-combination']);
  });

  it('a combination missing a component is bad because of it', () => {
    expect(model.assess({ mcu: '1.0.0' }).problems).toEqual([expect.objectContaining({ code: 'missing-component', component: 'ble' })]);
  });

  it('good neighbours change exactly one component to another released version, and land on good states', () => {
    const neighbours = model.goodNeighbours({ mcu: '1.0.0', ble: '1.0.0' });
    expect(neighbours.map((n) => [n.component, n.from, n.to, n.transitional])).toEqual([['mcu', '1.0.0', '1.1.0', true]]);
    expect(neighbours[0]?.release.metadata.name).toBe('t-mcu-1.1.0');
  });

  it('downgrades are neighbours only with permission', () => {
    expect(model.goodNeighbours({ mcu: '1.2.0', ble: '2.0.0' })).toEqual([]);
    const down = model.goodNeighbours({ mcu: '1.2.0', ble: '2.0.0' }, { allowDowngrade: true });
    expect(down.map((n) => [n.component, n.to, n.downgrade])).toEqual([['mcu', '1.1.0', true]]);
  });

  it('a bundle target may be named by its application version', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { mcu: '1.0.0', ble: '1.0.0' }, target: { bundle: '3.0.0' } });
    expect(plan.destinationBundle).toBe('app-3');
    expect(plan.steps.map((s) => `${s.component}@${s.to}`)).toEqual(['mcu@1.1.0', 'ble@2.0.0', 'mcu@1.2.0']);
  });
});

describe('strategy constraints', () => {
  const releases = [
    release('b', 'mcu', '1.0.0', 90, { ble: '>=0.9.0 <1.1.0' }),
    release('b', 'mcu', '1.1.0', 95, { ble: '^1.0.0' }),
    release('b', 'mcu', '1.2.0-rc.1', 97, { ble: '>=1.1.0-rc.1' }),
    release('b', 'ble', '0.9.0', 60, { mcu: '~1.0.0' }),
    release('b', 'ble', '1.0.0', 62, { mcu: '1.x' }),
    release('b', 'ble', '1.1.0-rc.1', 63),
    release('b', 'ble', '1.1.0', 64, { mcu: '>=1.1.0' }),
  ];
  const model = new CompatibilityModel(constraintsMatrix('b', ['mcu', 'ble']), releases);

  it('is good when every installed release’s requirements hold', () => {
    expect(model.isGood({ mcu: '1.0.0', ble: '0.9.0' })).toBe(true);
    expect(model.isGood({ mcu: '1.1.0', ble: '1.1.0' })).toBe(true);
  });

  it('names the release, the requirement and what is installed when one fails (by component name)', () => {
    const a = model.assess({ mcu: '1.0.0', ble: '1.1.0' });
    expect(a.good).toBe(false);
    expect(a.problems).toEqual([
      expect.objectContaining({ code: 'requirement-unmet', component: 'ble', version: '1.1.0', requires: 'mcu', range: '>=1.1.0', installed: '1.0.0' }),
      expect.objectContaining({ code: 'requirement-unmet', component: 'mcu', version: '1.0.0', requires: 'ble', range: '>=0.9.0 <1.1.0', installed: '1.1.0' }),
    ]);
  });

  it('an installed version with no release is bad: unknown-release', () => {
    expect(model.assess({ mcu: '9.9.9', ble: '1.0.0' }).problems.map((p) => p.code)).toContain('unknown-release');
  });

  it('handles pre-releases as semver does: a range admits a pre-release only on its own major.minor.patch', () => {
    // ble 1.1.0-rc.1 does not satisfy `^1.0.0` (mcu 1.1.0's requirement)…
    expect(model.isGood({ mcu: '1.1.0', ble: '1.1.0-rc.1' })).toBe(false);
    // …but does satisfy `>=1.1.0-rc.1` (mcu 1.2.0-rc.1's), and 1.1.0 satisfies it too.
    expect(model.isGood({ mcu: '1.2.0-rc.1', ble: '1.1.0-rc.1' })).toBe(true);
    // mcu 1.2.0-rc.1 does not satisfy ble 1.1.0's `>=1.1.0` (a pre-release of another tuple).
    expect(model.isGood({ mcu: '1.2.0-rc.1', ble: '1.1.0' })).toBe(false);
  });

  it('good neighbours meet every requirement after the step', () => {
    const neighbours = model.goodNeighbours({ mcu: '1.0.0', ble: '0.9.0' });
    expect(neighbours.map((n) => `${n.component}@${n.to}`)).toEqual(['ble@1.0.0']);
  });

  it('plans the order that keeps every requirement true: ble first, then mcu, then ble, then mcu', () => {
    const plan = planFirmwarePath({
      matrix: constraintsMatrix('b', ['mcu', 'ble']),
      releases,
      from: { mcu: '1.0.0', ble: '0.9.0' },
      target: { components: { mcu: '1.1.0', ble: '1.1.0' } },
    });
    expect(plan.status).toBe('planned');
    expect(plan.steps.map((s) => `${s.component}@${s.to}`)).toEqual(['ble@1.0.0', 'mcu@1.1.0', 'ble@1.1.0']);
    expect(plan.totalBytes).toBe(62 + 95 + 64);
  });
});

describe('planning outcomes', () => {
  const releases = [
    release('h', 'a', '1.0.0', 10),
    release('h', 'a', '2.0.0', 20),
    release('h', 'a', '3.0.0', 30),
    release('h', 'b', '1.0.0', 5),
    release('h', 'b', '2.0.0', 7),
  ];
  const matrix = bundlesMatrix('h', ['a', 'b'], [
    { name: 'one', version: '1.0.0', components: { a: '1.0.0', b: '1.0.0' } },
    { name: 'two', version: '2.0.0', components: { a: '2.0.0', b: '1.0.0' } },
    { name: 'two-b', version: '2.1.0', components: { a: '2.0.0', b: '2.0.0' } },
    { name: 'three', version: '3.0.0', components: { a: '3.0.0', b: '2.0.0' } },
  ]);

  it('a device already on its target is up to date, with no steps', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { a: '3.0.0', b: '2.0.0' }, target: { bundle: 'three' } });
    expect(plan).toMatchObject({ status: 'up-to-date', steps: [], totalBytes: 0, destinationBundle: 'three' });
  });

  it('an unknown bundle blocks with unknown-bundle, never a throw', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { a: '1.0.0', b: '1.0.0' }, target: { bundle: 'nine' } });
    expect(plan.status).toBe('blocked');
    expect(plan.reasons.map((r) => r.code)).toEqual(['unknown-bundle']);
  });

  it('a range no release satisfies blocks with no-release', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { a: '1.0.0', b: '1.0.0' }, target: { components: { a: '>=4' } } });
    expect(plan.reasons).toEqual([expect.objectContaining({ code: 'no-release', component: 'a', range: '>=4' })]);
  });

  it('a target no known-good combination meets blocks with no-good-target', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { a: '1.0.0', b: '1.0.0' }, target: { components: { a: '3.0.0', b: '1.0.0' } } });
    expect(plan.reasons.map((r) => r.code)).toEqual(['no-good-target']);
  });

  it('a target behind a missing bundle names the blocked component and the combination it would land on', () => {
    const gap = bundlesMatrix('h', ['a', 'b'], [
      { name: 'one', version: '1.0.0', components: { a: '1.0.0', b: '1.0.0' } },
      { name: 'three', version: '3.0.0', components: { a: '3.0.0', b: '2.0.0' } },
    ]);
    const plan = planFirmwarePath({ matrix: gap, releases, from: { a: '1.0.0', b: '1.0.0' }, target: { bundle: 'three' } });
    expect(plan.status).toBe('blocked');
    expect(plan.reasons).toEqual([
      expect.objectContaining({ code: 'incompatible-step', component: 'a', from: '1.0.0', to: '3.0.0', via: { a: '1.0.0', b: '1.0.0' } }),
      expect.objectContaining({ code: 'incompatible-step', component: 'b', from: '1.0.0', to: '2.0.0' }),
    ]);
  });

  it('a downgrade is planned only when the matrix or the rollout allows it', () => {
    const from = { a: '3.0.0', b: '2.0.0' };
    const refused = planFirmwarePath({ matrix, releases, from, target: { bundle: 'two' } });
    expect(refused.reasons.map((r) => r.code)).toContain('downgrade-not-allowed');
    const byRollout = planFirmwarePath({ matrix, releases, from, target: { bundle: 'two' }, allowDowngrade: true });
    expect(byRollout.steps.map((s) => `${s.component}@${s.to}`)).toEqual(['a@2.0.0', 'b@1.0.0']);
    const byMatrix = planFirmwarePath({ matrix: { ...matrix, spec: { ...matrix.spec, allowDowngrade: true } }, releases, from, target: { bundle: 'two' } });
    expect(byMatrix.status).toBe('planned');
  });

  it('a device off the matrix is planned back onto it first, and the plan says so', () => {
    // a 2.0.0 + b 1.0.0 is 'two'; a 3.0.0 + b 1.0.0 is no bundle.
    const plan = planFirmwarePath({ matrix, releases, from: { a: '3.0.0', b: '1.0.0' }, target: { bundle: 'three' } });
    expect(plan).toMatchObject({ status: 'off-matrix', offMatrix: true, backOnMatrixAtStep: 1 });
    expect(plan.fromProblems.map((p) => p.code)).toEqual(['not-a-known-combination']);
    expect(plan.steps.map((s) => [`${s.component}@${s.to}`, s.lands])).toEqual([['b@2.0.0', 'stable']]);
  });

  it('with ranges per component the nearest matching good state wins, unnamed components staying put', () => {
    const plan = planFirmwarePath({ matrix, releases, from: { a: '1.0.0', b: '1.0.0' }, target: { components: { a: '>=2.0.0' } } });
    expect(plan.destinationBundle).toBe('two');
    expect(plan.steps).toHaveLength(1);
  });
});

describe('a device far off the matrix with no way back to the target', () => {
  it('is given up on after a bounded search through bad combinations, and the reasons say so', () => {
    const versions = Array.from({ length: 60 }, (_, i) => `1.${i}.0`);
    const releases = ['a', 'b', 'c'].flatMap((c) => versions.map((v) => release('h', c, v, 1)));
    // Every bundle lies below the device, and downgrades are not allowed: every way up is off the matrix.
    const matrix = bundlesMatrix('h', ['a', 'b', 'c'], [
      { name: 'low', version: '1.0.0', components: { a: '1.0.0', b: '1.0.0', c: '1.0.0' } },
      { name: 'mid', version: '2.0.0', components: { a: '1.10.0', b: '1.10.0', c: '1.10.0' } },
    ]);
    const plan = planFirmwarePath({ matrix, releases, from: { a: '1.30.0', b: '1.31.0', c: '1.32.0' }, target: { bundle: 'mid' } });
    expect(plan.status).toBe('blocked');
    expect(plan.offMatrix).toBe(true);
    expect(plan.reasons.map((r) => r.code)).toContain('downgrade-not-allowed');
    expect(plan.reasons.find((r) => r.code === 'unreachable')?.message).toMatch(/gave up after/);
  });
});
