// `fleetform validate` passes on the example fleet at every commit of this repository that has one.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../engine/config/index.ts';
import { readRevisionTree } from '../../engine/git/index.ts';
import { RESOURCE_FOLDERS } from '../../engine/model/index.ts';
import { DEMO_IDENTITY, REPO_ROOT } from './fixtures.ts';

describe('the example fleet in the project history', () => {
  it('compiles without errors at every commit that changed it', async () => {
    // The resource tree only changes at commits that touch the resource folders.
    const shas = execFileSync('git', ['log', '--format=%H', '--', ...RESOURCE_FOLDERS], { cwd: REPO_ROOT }).toString().trim().split('\n').filter(Boolean);
    expect(shas.length).toBeGreaterThan(0);
    for (const sha of shas) {
      const tree = await readRevisionTree({ dir: REPO_ROOT, ref: sha });
      if (tree.files.length === 0) continue;
      const { issues } = await compileSnapshot(tree, { identity: DEMO_IDENTITY });
      expect(issues.filter((i) => i.severity === 'error'), `commit ${sha}`).toEqual([]);
    }
  });
});
