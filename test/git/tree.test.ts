import * as fs from 'node:fs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { afterEach, describe, expect, it } from 'vitest';
import {
  listCommits,
  readRevisionTree,
  readWorkingTree,
  resolveRevision,
  WORKTREE_REVISION,
  type GitAdapterError,
} from '../../engine/git/index.ts';
import type { SourceTree } from '../../engine/model/index.ts';
import { GitFixture } from './fixture.ts';

const PROFILE = `apiVersion: fleetform/v1
kind: DeviceProfile
metadata:
  name: locator
spec:
  hardware: tracker
  components: [mcu, ble, lte]
  role: locator
  checkIn:
    intervalSeconds: 900
`;

const SITE = `apiVersion: fleetform/v1
kind: Site
metadata:
  name: north-dealer
spec:
  tenant: acme
  timezone: Europe/Berlin
`;

const fixtures: GitFixture[] = [];
function fixture(): GitFixture {
  const repo = new GitFixture();
  fixtures.push(repo);
  return repo;
}
afterEach(() => {
  for (const repo of fixtures.splice(0)) repo.dispose();
});

function decoded(tree: SourceTree): Record<string, string> {
  return Object.fromEntries(
    tree.files.map((file) => [file.path, `${file.type}:${new TextDecoder().decode(file.content)}`]),
  );
}

async function rejection(promise: Promise<unknown>): Promise<GitAdapterError> {
  try {
    await promise;
  } catch (error) {
    return error as GitAdapterError;
  }
  throw new Error('expected a rejection');
}

function fleetRepo(): GitFixture {
  return fixture()
    .write('fleet-config/profiles/locator.yaml', PROFILE)
    .write('fleet-config/sites/north.yaml', SITE)
    .write('fleet-config/sites/nested/south.yml', SITE.replace('north-dealer', 'south-dealer'))
    .write('firmware-manifests/README.md', '# releases\n')
    .write('rules/battery.yaml', 'apiVersion: fleetform/v1\nkind: AlertRule\n')
    .write('README.md', 'not config\n')
    .write('src/other.yaml', 'kind: NotOurs\n');
}

describe('reading a config tree', () => {
  it('returns only the files of the resource folders, in path order', async () => {
    const repo = fleetRepo();
    repo.commit('fleet');
    const tree = await readRevisionTree({ dir: repo.dir, ref: 'HEAD' });
    expect(tree.files.map((file) => file.path)).toEqual([
      'firmware-manifests/README.md',
      'fleet-config/profiles/locator.yaml',
      'fleet-config/sites/nested/south.yml',
      'fleet-config/sites/north.yaml',
      'rules/battery.yaml',
    ]);
  });

  it('reads the same files from the working directory and from the commit that holds them', async () => {
    const repo = fleetRepo().write('fleet-config/groups/binary.yaml', new Uint8Array([0, 1, 2, 255]));
    const sha = repo.commit('fleet');
    const fromDisk = await readWorkingTree({ dir: repo.dir });
    const fromGit = await readRevisionTree({ dir: repo.dir, ref: sha });
    expect(fromDisk.revision).toBe(WORKTREE_REVISION);
    expect(fromGit.revision).toBe(sha);
    expect(fromGit.files).toEqual(fromDisk.files);
    expect(decoded(fromGit)['fleet-config/profiles/locator.yaml']).toBe(`file:${PROFILE}`);
  });

  it('reads the same files before and after `git gc` packs the objects', async () => {
    const repo = fleetRepo();
    const first = repo.commit('first');
    repo.write('fleet-config/sites/north.yaml', SITE.replace('Europe/Berlin', 'Europe/Paris'));
    const second = repo.commit('second');
    const looseFirst = await readRevisionTree({ dir: repo.dir, ref: first });
    const looseSecond = await readRevisionTree({ dir: repo.dir, ref: second });

    repo.gc();
    const objects = join(repo.dir, '.git', 'objects');
    expect(readdirSync(objects).filter((name) => /^[0-9a-f]{2}$/.test(name))).toEqual([]);
    expect(readdirSync(join(objects, 'pack')).some((name) => name.endsWith('.pack'))).toBe(true);

    expect(await readRevisionTree({ dir: repo.dir, ref: first })).toEqual(looseFirst);
    expect(await readRevisionTree({ dir: repo.dir, ref: 'main' })).toEqual(looseSecond);
    expect(decoded(looseSecond)['fleet-config/sites/north.yaml']).toContain('Europe/Paris');
    expect(decoded(looseFirst)['fleet-config/sites/north.yaml']).toContain('Europe/Berlin');
  });

  it('reports a symlink as a symlink and never follows it', async () => {
    const repo = fleetRepo().write('secret.yaml', 'password: hunter2\n').symlink('fleet-config/sites/linked.yaml', '../../secret.yaml');
    const sha = repo.commit('with a link');
    for (const tree of [await readWorkingTree({ dir: repo.dir }), await readRevisionTree({ dir: repo.dir, ref: sha })]) {
      const link = tree.files.find((file) => file.path === 'fleet-config/sites/linked.yaml');
      expect(link?.type).toBe('symlink');
      expect(link?.content.byteLength).toBe(0);
      expect(tree.files.some((file) => new TextDecoder().decode(file.content).includes('hunter2'))).toBe(false);
    }
  });

  it('reports a symlinked resource folder as a symlink instead of reading through it', async () => {
    const repo = fixture().write('elsewhere/site.yaml', SITE).symlink('rules', 'elsewhere');
    const sha = repo.commit('linked folder');
    const expected = [{ path: 'rules', type: 'symlink', content: new Uint8Array(0) }];
    expect((await readWorkingTree({ dir: repo.dir })).files).toEqual(expected);
    expect((await readRevisionTree({ dir: repo.dir, ref: sha })).files).toEqual(expected);
  });

  it('matches what `git show` prints for every file of a revision', async () => {
    const repo = fleetRepo();
    const sha = repo.commit('fleet');
    const tree = await readRevisionTree({ dir: repo.dir, ref: sha });
    for (const file of tree.files) {
      expect(new TextDecoder().decode(file.content)).toBe(repo.git('show', `${sha}:${file.path}`) + '\n');
    }
  });

  it('reads a commit written by isomorphic-git the same as one written by the git command line', async () => {
    const repo = fleetRepo();
    const cliSha = repo.commit('fleet');
    repo.write('fleet-config/sites/east.yaml', SITE.replace('north-dealer', 'east-dealer'));
    await git.add({ fs, dir: repo.dir, filepath: 'fleet-config/sites/east.yaml' });
    const isoSha = await git.commit({
      fs,
      dir: repo.dir,
      message: 'east site',
      author: { name: 'Iso', email: 'iso@example.com', timestamp: 1_767_225_600, timezoneOffset: 0 },
    });
    expect(repo.git('rev-parse', 'HEAD')).toBe(isoSha);
    const before = await readRevisionTree({ dir: repo.dir, ref: cliSha });
    const after = await readRevisionTree({ dir: repo.dir, ref: 'HEAD' });
    expect(after.files.map((file) => file.path)).toEqual(
      [...before.files.map((file) => file.path), 'fleet-config/sites/east.yaml'].sort(),
    );
    expect(after.files).toEqual(expect.arrayContaining(before.files));
    expect(after.commit).toEqual({
      sha: isoSha,
      author: 'Iso <iso@example.com>',
      message: 'east site',
      committedAt: new Date(1_767_225_600 * 1000),
    });
  });

  it('follows a rename: the file is read under its new path only', async () => {
    const repo = fleetRepo();
    repo.commit('fleet');
    repo.rename('fleet-config/sites/north.yaml', 'fleet-config/sites/dealers/north-dealer.yaml');
    repo.commit('move');
    const files = decoded(await readRevisionTree({ dir: repo.dir, ref: 'HEAD' }));
    expect(files['fleet-config/sites/north.yaml']).toBeUndefined();
    expect(files['fleet-config/sites/dealers/north-dealer.yaml']).toBe(`file:${SITE}`);
  });

  it('reads a bare repository', async () => {
    const repo = fleetRepo();
    const sha = repo.commit('fleet');
    const bare = fixture();
    bare.dispose();
    repo.git('clone', '--quiet', '--bare', repo.dir, bare.dir);
    const tree = await readRevisionTree({ dir: bare.dir, ref: 'main' });
    expect(tree.revision).toBe(sha);
    expect(tree.files).toEqual((await readRevisionTree({ dir: repo.dir, ref: sha })).files);
  });
});

describe('naming revisions', () => {
  it('resolves branches, lightweight and annotated tags, short shas, HEAD and parent suffixes to commits', async () => {
    const repo = fleetRepo();
    const first = repo.commit('first');
    repo.git('tag', 'v1');
    repo.git('tag', '-a', 'release-1', '-m', 'annotated');
    repo.write('rules/offline.yaml', 'x: 1\n');
    const second = repo.commit('second');
    repo.git('branch', 'feature', first);
    repo.gc(); // refs packed too
    expect(await resolveRevision({ dir: repo.dir, ref: 'main' })).toBe(second);
    expect(await resolveRevision({ dir: repo.dir, ref: 'HEAD' })).toBe(second);
    expect(await resolveRevision({ dir: repo.dir, ref: 'feature' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: 'v1' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: 'release-1' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: second.slice(0, 7) })).toBe(second);
    expect(await resolveRevision({ dir: repo.dir, ref: 'HEAD~1' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: 'main^' })).toBe(first);
    const third = repo.commit('third');
    expect(await resolveRevision({ dir: repo.dir, ref: 'HEAD~2' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: 'main~1^1' })).toBe(first);
    expect(await resolveRevision({ dir: repo.dir, ref: 'HEAD^0' })).toBe(third);
    const tagged = await readRevisionTree({ dir: repo.dir, ref: 'release-1' });
    expect(tagged.revision).toBe(first);
    expect(tagged.files.some((file) => file.path === 'rules/offline.yaml')).toBe(false);
  });

  it('carries the commit info of the revision it read', async () => {
    const repo = fleetRepo();
    const sha = repo.commit('Raise the rollout to the wider wave');
    const tree = await readRevisionTree({ dir: repo.dir, ref: 'main' });
    expect(tree.commit).toEqual({
      sha,
      author: 'Fleet Engineer <fleet@example.com>',
      message: 'Raise the rollout to the wider wave',
      committedAt: new Date(repo.git('log', '-1', '--format=%cI')),
    });
  });

  it('lists commits newest first, limited by depth', async () => {
    const repo = fleetRepo();
    const shas = [repo.commit('one'), repo.commit('two'), repo.commit('three')];
    const all = await listCommits({ dir: repo.dir, ref: 'main' });
    expect(all.map((commit) => commit.sha)).toEqual([...shas].reverse());
    expect(all.map((commit) => commit.message)).toEqual(['three', 'two', 'one']);
    const two = await listCommits({ dir: repo.dir, ref: 'main', depth: 2 });
    expect(two.map((commit) => commit.sha)).toEqual([shas[2], shas[1]]);
  });

  it('rejects unknown revisions, non-commits and non-repositories with stable codes', async () => {
    const repo = fleetRepo();
    repo.commit('fleet');
    const treeSha = repo.git('rev-parse', 'HEAD^{tree}');
    expect((await rejection(readRevisionTree({ dir: repo.dir, ref: 'no-such-branch' }))).code).toBe('unknown-revision');
    expect((await rejection(resolveRevision({ dir: repo.dir, ref: 'HEAD~5' }))).code).toBe('unknown-revision');
    // A huge ancestry count walks to the root commit and stops there, whatever the number.
    expect((await rejection(resolveRevision({ dir: repo.dir, ref: 'HEAD~99999999999999999999' }))).code).toBe('unknown-revision');
    expect((await rejection(resolveRevision({ dir: repo.dir, ref: '0'.repeat(40) }))).code).toBe('unknown-revision');
    expect((await rejection(resolveRevision({ dir: repo.dir, ref: treeSha }))).code).toBe('not-a-commit');
    expect((await rejection(readRevisionTree({ dir: join(repo.dir, 'rules'), ref: 'HEAD' }))).code).toBe(
      'not-a-repository',
    );
  });
});
