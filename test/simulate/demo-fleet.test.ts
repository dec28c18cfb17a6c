// The demo's fleet repository: the example fleet as committed, then one commit that opens every rollout.
import { mkdtemp, rm } from 'node:fs/promises';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDemoFleet } from '../../engine/cli/demo.ts';
import { compileSnapshot } from '../../engine/config/index.ts';
import { readRevisionTree } from '../../engine/git/index.ts';
import { openRolloutsForDemo } from '../../engine/simulate/index.ts';
import { PROJECT_DIR, exampleSnapshot } from './support.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('the demo fleet', () => {
  it('is the example fleet plus one commit that opens every rollout to its last wave, outside maintenance windows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetform-demo-test-'));
    dirs.push(dir);
    await prepareDemoFleet(PROJECT_DIR, dir);
    const log = await git.log({ fs, dir, ref: 'main' });
    expect(log.map((c) => c.commit.message.split('\n')[0])).toEqual([
      'demo: open every rollout to its last wave, no maintenance window, 10 s retries, failure ratio 0.5',
      `Example fleet, copied from ${PROJECT_DIR}`,
    ]);
    const compiled = await compileSnapshot(await readRevisionTree({ dir, ref: 'main' }));
    expect(compiled.snapshot).not.toBeNull();
    const example = await exampleSnapshot();
    expect(compiled.snapshot?.rollouts.map((r) => r.metadata.name)).toEqual(example.rollouts.map((r) => r.metadata.name));
    for (const rollout of compiled.snapshot?.rollouts ?? []) {
      expect(rollout.spec.activeWave).toBe(rollout.spec.waves?.at(-1)?.name);
      expect(rollout.spec.useMaintenanceWindow ?? false).toBe(false);
      expect(rollout.spec.failurePolicy?.retryDelaySeconds).toBe(10);
      for (const wave of rollout.spec.waves) if (wave.maxFailureRatio !== undefined) expect(wave.maxFailureRatio).toBe(0.5);
      // Targets and throttles are the example's own.
      const original = example.rollouts.find((r) => r.metadata.name === rollout.metadata.name);
      expect(rollout.spec.target).toEqual(original?.spec.target);
      expect(rollout.spec.throttle).toEqual(original?.spec.throttle);
    }
  });

  it('leaves files without a Rollout untouched, byte for byte', () => {
    const text = '# a release\napiVersion: fleetform/v1\nkind: FirmwareRelease\nmetadata: { name: x }\n';
    expect(openRolloutsForDemo(text)).toEqual({ text, changes: [] });
  });
});
