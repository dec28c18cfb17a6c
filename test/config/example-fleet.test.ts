import { describe, expect, it } from 'vitest';
import semver from 'semver';
import { compileSnapshot } from '../../engine/config/index.ts';
import { DEMO_IDENTITY, MINIMAL_FLEET, exampleFleetTree, treeOf } from './fixtures.ts';

describe('the example fleet', () => {
  it('compiles with no issue at all, its Wi-Fi passwords decrypting with the demo identity', async () => {
    const { snapshot, issues, secrets } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY });
    expect(issues).toEqual([]);
    expect(snapshot).not.toBeNull();
    expect(secrets.size).toBeGreaterThanOrEqual(4);
  });

  it('declares what the product promises: two profiles, three dealership sites or more, a bundle matrix of six or more', async () => {
    const { snapshot } = await compileSnapshot(exampleFleetTree());
    expect(snapshot).not.toBeNull();
    if (!snapshot) return;
    expect([...snapshot.profiles.keys()].sort()).toEqual(['beacon', 'locator']);
    expect(snapshot.sites.size).toBeGreaterThanOrEqual(3);
    expect(snapshot.profiles.get('locator')?.spec.components).toEqual(['mcu', 'ble', 'lte']);
    expect(snapshot.matrices.get('tracker')?.spec.strategy).toBe('bundles');
    expect(snapshot.matrices.get('tracker')?.spec.bundles?.length).toBeGreaterThanOrEqual(6);
    expect(snapshot.matrices.get('beacon')?.spec.strategy).toBe('constraints');
    expect(snapshot.alertRules.length).toBeGreaterThanOrEqual(5);
    const waves = snapshot.rollouts.find((r) => r.metadata.name === 'tracker-app-3.3.0')?.spec.waves.map((w) => w.percent);
    expect(waves).toEqual([5, 25, 100]);
  });

  it('needs several single-component steps from the oldest bundle to the newest, the last one through a transitional combination', async () => {
    const { snapshot } = await compileSnapshot(exampleFleetTree());
    const matrix = snapshot?.matrices.get('tracker');
    const bundles = [...(matrix?.spec.bundles ?? [])].sort((a, b) => semver.compare(a.version, b.version));
    const oldest = bundles[0]!;
    const newest = bundles[bundles.length - 1]!;
    const changed = Object.keys(oldest.components).filter((c) => oldest.components[c] !== newest.components[c]);
    expect(changed.length).toBeGreaterThan(1); // no single step gets there
    for (let i = 1; i < bundles.length - 1; i++) {
      const a = bundles[i - 1]!.components;
      const b = bundles[i]!.components;
      expect(Object.keys(a).filter((c) => a[c] !== b[c])).toHaveLength(1);
    }
    const beforeLast = bundles[bundles.length - 2]!.components;
    const differsInOne = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
      Object.keys(a).filter((c) => a[c] !== b[c]).length === 1;
    expect(differsInOne(beforeLast, newest.components)).toBe(false);
    expect(matrix?.spec.transitional?.some((t) => differsInOne(beforeLast, t) && differsInOne(t, newest.components))).toBe(true);
  });

  it('indexes releases per hardware and component in ascending semver order', async () => {
    const { snapshot } = await compileSnapshot(exampleFleetTree());
    const versions = snapshot?.releases.get('tracker')?.get('mcu')?.map((r) => r.spec.version) ?? [];
    expect(versions.length).toBeGreaterThanOrEqual(3);
    expect(versions).toEqual([...versions].sort(semver.compare));
  });

  it('the small test fleet compiles clean too (the baseline the bad-input tests break)', async () => {
    const { snapshot, issues } = await compileSnapshot(treeOf(MINIMAL_FLEET));
    expect(issues).toEqual([]);
    expect(snapshot).not.toBeNull();
  });
});
