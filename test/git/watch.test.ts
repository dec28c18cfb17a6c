import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchBranch, type BranchWatcher } from '../../engine/git/index.ts';
import { GitFixture } from './fixture.ts';

// Long enough that only the file watcher (not the safety-net poll) can explain a prompt report.
const NO_POLL = 3_600_000;
const GENEROUS = { timeout: 20_000, interval: 25 };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function repository(): GitFixture {
  const repo = new GitFixture('fleetform-watch-');
  cleanup.push(() => repo.dispose());
  repo.write('rules/offline.yaml', 'kind: AlertRule\n');
  return repo;
}

function follow(
  dir: string,
  branch: string,
  extra: { knownHead?: string; pollIntervalMs?: number; watchFiles?: boolean } = {},
) {
  const heads: string[] = [];
  const errors: unknown[] = [];
  const watcher: BranchWatcher = watchBranch({
    dir,
    branch,
    pollIntervalMs: NO_POLL,
    ...extra,
    onHead: (sha) => {
      heads.push(sha);
    },
    onError: (error) => errors.push(error),
  });
  cleanup.push(() => watcher.close());
  return { heads, errors, watcher };
}

describe('following a branch', () => {
  it('reports the current head at start, then a new commit on the branch', async () => {
    const repo = repository();
    const first = repo.commit('first');
    const { heads, errors, watcher } = follow(repo.dir, 'main');
    await watcher.ready;
    expect(heads).toEqual([first]);
    const second = repo.commit('second');
    await vi.waitFor(() => expect(heads).toEqual([first, second]), GENEROUS);
    expect(watcher.head()).toBe(second);
    expect(errors).toEqual([]);
  });

  it('reports the latest head, and no head twice, when commits come in quick succession', async () => {
    const repo = repository();
    repo.commit('first');
    const { heads, watcher } = follow(repo.dir, 'main');
    await watcher.ready;
    const last = [repo.commit('a'), repo.commit('b'), repo.commit('c')].at(-1);
    await vi.waitFor(() => expect(heads.at(-1)).toBe(last), GENEROUS);
    expect(new Set(heads).size).toBe(heads.length);
  });

  it('offers a head again at the next check when handling it failed', async () => {
    const repo = repository();
    const head = repo.commit('first');
    const calls: string[] = [];
    const errors: unknown[] = [];
    const watcher = watchBranch({
      dir: repo.dir,
      branch: 'main',
      pollIntervalMs: NO_POLL,
      onHead: (sha) => {
        calls.push(sha);
        if (calls.length === 1) throw new Error('store unavailable');
      },
      onError: (error) => errors.push(error),
    });
    cleanup.push(() => watcher.close());
    await watcher.ready;
    expect(calls).toEqual([head]);
    expect(errors).toHaveLength(1);
    expect(watcher.head()).toBeNull();
    await watcher.check();
    expect(calls).toEqual([head, head]);
    expect(watcher.head()).toBe(head);
    await watcher.check();
    expect(calls).toEqual([head, head]);
  });

  it('does not report a head it was told is already handled', async () => {
    const repo = repository();
    const applied = repo.commit('applied before the restart');
    const { heads, watcher } = follow(repo.dir, 'main', { knownHead: applied });
    await watcher.ready;
    expect(heads).toEqual([]);
    const next = repo.commit('next');
    await vi.waitFor(() => expect(heads).toEqual([next]), GENEROUS);
  });

  it('ignores other branches and picks up a branch that is created later', async () => {
    const repo = repository();
    const base = repo.commit('base');
    const { heads, watcher } = follow(repo.dir, 'release');
    await watcher.ready;
    expect(heads).toEqual([]);
    repo.commit('only on main');
    repo.git('branch', 'release', base);
    await vi.waitFor(() => expect(heads).toEqual([base]), GENEROUS);
  });

  it('sees a head that moved while the ref lives only in packed-refs', async () => {
    const repo = repository();
    const first = repo.commit('first');
    const second = repo.commit('second');
    repo.git('update-ref', 'refs/heads/main', first);
    repo.gc(); // refs/heads/main now only in packed-refs
    const { heads, watcher } = follow(repo.dir, 'main');
    await watcher.ready;
    expect(heads).toEqual([first]);
    // Rewrite packed-refs by hand the way `git pack-refs` does: write a new file, rename it over.
    repo.git('update-ref', 'refs/heads/main', second);
    repo.git('pack-refs', '--all');
    await vi.waitFor(() => expect(heads).toEqual([first, second]), GENEROUS);
  });

  it('follows a bare repository that is pushed to', async () => {
    const repo = repository();
    repo.commit('first');
    const bare = new GitFixture('fleetform-bare-');
    bare.dispose();
    repo.git('clone', '--quiet', '--bare', repo.dir, bare.dir);
    cleanup.push(() => bare.dispose());
    const { heads, watcher } = follow(bare.dir, 'main');
    await watcher.ready;
    const pushed = repo.commit('pushed');
    repo.git('push', '--quiet', bare.dir, 'main');
    await vi.waitFor(() => expect(heads.at(-1)).toBe(pushed), GENEROUS);
  });

  it('picks up a new head by the periodic poll alone when file events are off', async () => {
    const repo = repository();
    const first = repo.commit('first');
    const { heads, watcher } = follow(repo.dir, 'main', { pollIntervalMs: 100, watchFiles: false });
    await watcher.ready;
    const second = repo.commit('second');
    await vi.waitFor(() => expect(heads).toEqual([first, second]), GENEROUS);
    await watcher.check();
    expect(heads).toEqual([first, second]);
  });

  it('reports nothing after close', async () => {
    const repo = repository();
    repo.commit('first');
    const { heads, watcher } = follow(repo.dir, 'main', { pollIntervalMs: 50 });
    await watcher.ready;
    await watcher.close();
    repo.commit('after close');
    await watcher.check();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heads).toHaveLength(1);
  });
});
