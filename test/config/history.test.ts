// `fleetform validate` passes on the example fleet at every commit of this repository that has one.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../engine/config/index.ts';
import { readRevisionTree } from '../../engine/git/index.ts';
import { RESOURCE_FOLDERS } from '../../engine/model/index.ts';
import { DEMO_IDENTITY, REPO_ROOT } from './fixtures.ts';

// Checks added since a commit may find what older commits got wrong: the example fleet once sent beacons its
// trackers' GPS settings through a site's config, which layer validation (issue 16) now reports. Those codes,
// at site and group files, are all an older commit may show; the working tree is checked with no allowance
// at all (example-fleet.test.ts).
const TIGHTENED = new Set(['config-schema-violation', 'undeclared-secret', 'secret-source-not-allowed']);

describe('the example fleet in the project history', () => {
  it('compiles without errors at every commit that changed it (older ones: only what later checks tightened)', async () => {
    // The resource tree only changes at commits that touch the resource folders.
    const shas = execFileSync('git', ['log', '--format=%H', '--', ...RESOURCE_FOLDERS], { cwd: REPO_ROOT }).toString().trim().split('\n').filter(Boolean);
    expect(shas.length).toBeGreaterThan(0);
    for (const sha of shas) {
      const tree = await readRevisionTree({ dir: REPO_ROOT, ref: sha });
      if (tree.files.length === 0) continue;
      const { issues } = await compileSnapshot(tree, { identity: DEMO_IDENTITY });
      const errors = issues.filter((i) => i.severity === 'error');
      const tightened = (i: (typeof issues)[number]): boolean => TIGHTENED.has(i.code) && /^fleet-config\/(sites|groups)\//.test(i.file);
      expect(errors.filter((i) => !tightened(i)), `commit ${sha}`).toEqual([]);
    }
  });
});
