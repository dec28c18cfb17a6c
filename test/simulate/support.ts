// Snapshots for the simulator's unit tests: the engine tests' fixture fleet, and the project's example fleet.
import { fileURLToPath } from 'node:url';
import { compileSnapshot } from '../../engine/config/index.ts';
import { readWorkingTree } from '../../engine/git/index.ts';
import type { FleetFiles } from '../support/fleet.ts';
import type { Snapshot, SourceTree } from '../../engine/model/index.ts';

export const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));

export async function snapshotOf(files: FleetFiles): Promise<Snapshot> {
  const tree: SourceTree = {
    revision: 'test',
    files: Object.entries(files)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, text]) => ({ path, type: 'file' as const, content: new TextEncoder().encode(text) })),
  };
  return compiled(await compileSnapshot(tree));
}

export async function exampleSnapshot(): Promise<Snapshot> {
  return compiled(await compileSnapshot(await readWorkingTree({ dir: PROJECT_DIR })));
}

function compiled(result: Awaited<ReturnType<typeof compileSnapshot>>): Snapshot {
  if (!result.snapshot) throw new Error(`does not compile: ${result.issues.map((i) => `${i.file}: ${i.message}`).join('; ')}`);
  return result.snapshot;
}
