// A compiled snapshot is immutable and exists only when the revision has no error.
import { describe, expect, it } from 'vitest';
import { compileSnapshot, type CheckContext, type SnapshotCheck } from '../../engine/config/index.ts';
import type { Snapshot } from '../../engine/model/index.ts';
import { fleetWith, treeOf, MINIMAL_FLEET } from './fixtures.ts';
import { expectIssue } from './support.ts';

describe('the compiled snapshot', () => {
  it('cannot be changed: resources, lists and maps are frozen', async () => {
    const { snapshot } = await compileSnapshot(treeOf(MINIMAL_FLEET));
    const s = snapshot as Snapshot;
    const profile = s.profiles.get('locator');
    expect(profile).toBeDefined();
    expect(() => {
      (profile as { spec: { checkIn: { intervalSeconds: number } } }).spec.checkIn.intervalSeconds = 1;
    }).toThrow(TypeError);
    expect(() => (s.groups as unknown[]).push(null)).toThrow(TypeError);
    expect(() => {
      (s as { revision: string }).revision = 'other';
    }).toThrow(TypeError);
    expect('set' in s.profiles).toBe(false);
    expect(() => (s.profiles as unknown as Map<string, unknown>).set?.('x', 1)).not.toThrow(); // no set at all…
    expect(s.profiles.has('x')).toBe(false); // …so nothing changed
    expect(s.profiles.get('locator')?.spec.checkIn.intervalSeconds).toBe(1800);
  });

  it('carries the revision it was compiled from and indexes groups and rollouts in merge order', async () => {
    const { snapshot } = await compileSnapshot({ ...treeOf(MINIMAL_FLEET), revision: 'abc123' });
    expect(snapshot?.revision).toBe('abc123');
    expect(snapshot?.resources.length).toBe(11); // 1 tenant, 1 profile, 2 sites, 1 group, 3 releases, 1 matrix, 1 rollout, 1 rule
    expect(snapshot?.matrices.get('tracker')?.metadata.name).toBe('tracker');
  });

  it('is null when there is an error, and present when there are only warnings', async () => {
    const withError = await compileSnapshot(fleetWith({ 'rules/x.yaml': 'kind: [' }));
    expect(withError.snapshot).toBeNull();
    const warn: SnapshotCheck = ({ resources, issue }) => [issue(resources[0]!, ['metadata'], 'style', 'just a hint', 'warning')];
    const withWarning = await compileSnapshot(treeOf(MINIMAL_FLEET), { checks: [warn] });
    expect(withWarning.issues.map((i) => i.code)).toEqual(['style']);
    expect(withWarning.snapshot).not.toBeNull();
  });
});

describe('pluggable checks', () => {
  it('run after the built-in ones with the draft snapshot, and their issues carry file:line', async () => {
    let seen: CheckContext | undefined;
    const noCanaryOnly: SnapshotCheck = (context) => {
      seen = context;
      return context.ofKind('Rollout').flatMap((rollout) =>
        rollout.resource.spec.activeWave === 'canary'
          ? [context.issue(rollout, ['spec', 'activeWave'], 'rollout-unreachable', 'pretend the planner cannot reach the target')]
          : [],
      );
    };
    const { snapshot, issues } = await compileSnapshot(treeOf(MINIMAL_FLEET), { checks: [noCanaryOnly] });
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'rollout-unreachable', file: 'firmware-manifests/rollout.yaml', line: 10, column: 15 });
    expect(seen?.snapshot.matrices.get('tracker')).toBeDefined();
  });

  it('a check that throws rejects the revision with check-failed instead of hiding the other issues', async () => {
    const broken: SnapshotCheck = function brokenCheck() {
      throw new Error('boom');
    };
    const { snapshot, issues } = await compileSnapshot(fleetWith({ 'fleet-config/sites/lot-b.yaml': MINIMAL_FLEET['fleet-config/sites/lot-b.yaml']!.replace('tenant: acme', 'tenant: nobody') }), {
      checks: [broken],
    });
    expect(snapshot).toBeNull();
    expect(issues.map((i) => i.code).sort()).toEqual(['check-failed', 'dangling-reference']);
    expect(issues.find((i) => i.code === 'check-failed')?.message).toContain('brokenCheck');
  });
});
