// validate rejects a rollout whose target no known-good combination can reach one component at a time.
import { describe, expect, it } from 'vitest';
import { rolloutReachabilityCheck } from '../../engine/config/index.ts';
import { compileSnapshot } from '../../engine/config/index.ts';
import { DEMO_IDENTITY, MINIMAL_FLEET, exampleFleetTree, fleetWith } from './fixtures.ts';
import { expectIssue } from './support.ts';

describe('rollout reachability (the firmware planner as a snapshot check)', () => {
  it('the example fleet’s rollouts are all reachable', async () => {
    const { issues } = await compileSnapshot(exampleFleetTree(), { identity: DEMO_IDENTITY, checks: [rolloutReachabilityCheck] });
    expect(issues).toEqual([]);
  });

  it('a bundle that differs from every other in two components cannot be reached', async () => {
    const releases = `${MINIMAL_FLEET['firmware-manifests/releases.yaml']}---
apiVersion: fleetform/v1
kind: FirmwareRelease
metadata: { name: tracker-ble-1.1.0 }
spec:
  hardware: tracker
  component: ble
  version: 1.1.0
  artifact: { url: "https://fw.example/ble-1.1.0.bin", sha256: "${'9'.repeat(64)}", size: 210000 }
`;
    const matrix = `apiVersion: fleetform/v1
kind: CompatibilityMatrix
metadata: { name: tracker }
spec:
  hardware: tracker
  components: [mcu, ble]
  strategy: bundles
  bundles:
    - { name: app-1.0.0, version: 1.0.0, components: { mcu: 1.0.0, ble: 1.0.0 } }
    - { name: app-1.1.0, version: 1.1.0, components: { mcu: 1.1.0, ble: 1.0.0 } }
    - { name: app-2.0.0, version: 2.0.0, components: { mcu: 1.0.0, ble: 1.1.0 } }
    - { name: app-3.0.0, version: 3.0.0, components: { mcu: 1.1.0, ble: 1.1.0 } }
`;
    const rollout = (MINIMAL_FLEET['firmware-manifests/rollout.yaml'] ?? '').replace('bundle: app-1.1.0', 'bundle: app-3.0.0');
    // app-3.0.0 is one step from app-1.1.0 (ble) and from app-2.0.0 (mcu): reachable.
    const reachable = await compileSnapshot(
      fleetWith({ 'firmware-manifests/releases.yaml': releases, 'firmware-manifests/matrix.yaml': matrix, 'firmware-manifests/rollout.yaml': rollout }),
      { checks: [rolloutReachabilityCheck] },
    );
    expect(reachable.issues).toEqual([]);
    // Pinning the fleet to the oldest bundle is fine: newer bundles are past it, not cut off from it.
    const pinned = await compileSnapshot(
      fleetWith({
        'firmware-manifests/releases.yaml': releases,
        'firmware-manifests/matrix.yaml': matrix,
        'firmware-manifests/rollout.yaml': rollout.replace('bundle: app-3.0.0', 'bundle: app-1.0.0'),
      }),
      { checks: [rolloutReachabilityCheck] },
    );
    expect(pinned.issues).toEqual([]);
    // Without the two middle bundles it is two components away from app-1.0.0: unreachable.
    const cut = matrix.split('\n').filter((line) => !line.includes('app-1.1.0') && !line.includes('app-2.0.0')).join('\n');
    const { issues, snapshot } = await compileSnapshot(
      fleetWith({ 'firmware-manifests/releases.yaml': releases, 'firmware-manifests/matrix.yaml': cut, 'firmware-manifests/rollout.yaml': rollout }),
      { checks: [rolloutReachabilityCheck] },
    );
    expect(snapshot).toBeNull();
    expectIssue(issues, { code: 'unreachable-target', file: 'firmware-manifests/rollout.yaml', line: 6, path: '/spec/target' });
  });
});
