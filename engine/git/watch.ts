// Follow a branch: chokidar on the refs for an immediate pick-up, a periodic poll as the safety net.
// Level-based: every trigger just re-reads the branch head and reports it if it differs from the last
// one reported, so missed, duplicated or reordered file events cannot make it report twice or skip a head.
import * as fs from 'node:fs';
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import git from 'isomorphic-git';
import { locateRepository } from './repository.ts';

export interface WatchBranchOptions {
  /** Working directory or bare repository. */
  dir: string;
  branch: string;
  /** Called once per new head, in order, never concurrently; a rejection goes to onError and the head is offered again at the next check. */
  onHead(sha: string): void | Promise<void>;
  /** The safety-net poll. Default 5000 ms. */
  pollIntervalMs?: number;
  /** File events within this window are folded into one read of the ref. Default 50 ms. */
  debounceMs?: number;
  /** Watch the ref files (default true). False: poll only — for file systems without change events (NFS). */
  watchFiles?: boolean;
  /** A head already handled (e.g. the last applied revision on restart): not reported again. */
  knownHead?: string | null;
  /** Errors from reading the ref, from the file watcher or from onHead. Default: ignored (the poll retries). */
  onError?(error: unknown): void;
}

export interface BranchWatcher {
  /** Resolves once the file watcher is set up and the current head has been checked (and reported if new). */
  readonly ready: Promise<void>;
  /** The last head reported (or knownHead), null while the branch does not exist or no head was handled yet. */
  head(): string | null;
  /** Re-read the branch now; resolves when that read (and any onHead it caused) is done. */
  check(): Promise<void>;
  close(): Promise<void>;
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'NotFoundError';
}

/**
 * Watches `refs/heads/<branch>`, `packed-refs` and `HEAD` of the repository and calls `onHead(sha)` for the
 * current head at start (unless it is `knownHead`) and for every later head, each once.
 */
export function watchBranch(options: WatchBranchOptions): BranchWatcher {
  const { branch, onHead, pollIntervalMs = 5000, debounceMs = 50, onError = () => undefined } = options;
  let reported: string | null = options.knownHead ?? null;
  let closed = false;
  let running: Promise<void> | null = null;
  let rerun = false;
  let debounce: NodeJS.Timeout | null = null;
  let poll: NodeJS.Timeout | null = null;
  let watcher: FSWatcher | null = null;
  const location = locateRepository(options.dir);

  const readHead = async (): Promise<string | null> => {
    const { gitdir } = await location;
    try {
      return await git.resolveRef({ fs, gitdir, ref: `refs/heads/${branch}` });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  };

  const checkOnce = async (): Promise<void> => {
    let head: string | null;
    try {
      head = await readHead();
    } catch (error) {
      onError(error);
      return;
    }
    if (closed || head === null || head === reported) return;
    const previous = reported;
    reported = head;
    try {
      await onHead(head);
    } catch (error) {
      // Not handled: the next trigger (or the poll) offers the same head again.
      reported = previous;
      onError(error);
    }
  };

  // One read at a time; triggers during a read fold into one more read after it.
  const check = (): Promise<void> => {
    if (running) {
      rerun = true;
      return running;
    }
    running = (async () => {
      do {
        rerun = false;
        await checkOnce();
      } while (rerun && !closed);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const schedule = (): void => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      void check();
    }, debounceMs);
  };

  const ready = (async () => {
    const { gitdir } = await location;
    const relevant = (path: string): boolean => {
      const name = relative(gitdir, path).split(sep).join('/');
      return name === 'packed-refs' || name === 'HEAD' || name.startsWith('refs/heads/');
    };
    // The git dir's own entries (packed-refs and HEAD are rewritten by rename, and may not exist yet) and
    // refs/heads at any depth (branch names may hold slashes); never objects/ or logs/.
    if (options.watchFiles !== false) await startFileWatcher(gitdir, relevant);
    if (closed) return;
    poll = setInterval(() => void check(), pollIntervalMs);
    poll.unref?.();
    await check();
  })();
  ready.catch(onError);

  async function startFileWatcher(gitdir: string, relevant: (path: string) => boolean): Promise<void> {
    watcher = watch(gitdir, { ignoreInitial: true, depth: 99, ignored: (path) => !isWatched(gitdir, path) });
    watcher.on('all', (_event, path) => {
      if (relevant(path)) schedule();
    });
    watcher.on('error', (error) => onError(error));
    await new Promise<void>((resolve) => watcher?.once('ready', () => resolve()));
  }

  return {
    ready,
    head: () => reported,
    check,
    async close() {
      closed = true;
      if (debounce) clearTimeout(debounce);
      if (poll) clearInterval(poll);
      await ready.catch(() => undefined);
      if (poll) clearInterval(poll);
      await watcher?.close();
      await running;
    },
  };
}

/** Keep chokidar out of objects/, logs/ and the rest: only the git dir's own entries and refs/heads below. */
function isWatched(gitdir: string, path: string): boolean {
  const name = relative(gitdir, path).split(sep).join('/');
  if (name === '' || name === 'refs' || name === 'refs/heads' || name.startsWith('refs/heads/')) return true;
  return !name.includes('/') && name !== 'objects' && name !== 'logs' && name !== 'refs';
}
