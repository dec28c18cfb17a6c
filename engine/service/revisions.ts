// Following git: exactly one engine process (the holder of a PostgreSQL advisory lock) watches
// the branch, compiles new heads and records them; the others load what it applied, told by
// LISTEN/NOTIFY. The active revision is one reference: a swap is atomic for every check-in.
import { watch as watchFiles, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { hasErrors, type Snapshot } from '../model/index.ts';
import { locateRepository, readRevisionTree, resolveRevision, type GitCache } from '../git/index.ts';
import { RevisionChannel, type FleetStore } from '../store/index.ts';
import { compileRevision, type CompileOptions, type Secrets } from './core.ts';

/** A compiled, applied revision with per-revision caches: swapped as one reference. */
export interface ActiveRevision {
  readonly sha: string;
  readonly snapshot: Snapshot;
  readonly secrets: Secrets;
  readonly appliedAt: Date;
  /** Memo of per-revision derived data (effective configs, location sources); dies with the revision. */
  readonly memo: Map<string, unknown>;
}

export interface RevisionFollowerOptions {
  store: FleetStore;
  databaseUrl: string;
  repoDir: string;
  branch: string;
  compile: CompileOptions;
  log: Logger;
  now(): Date;
  /** Safety-net poll of the branch head (default 1000 ms); file watching gives the immediate pick-up. */
  pollIntervalMs?: number;
  /** How often a non-leader retries the lock and checks for a missed notification (default 2000 ms). */
  leaseRetryMs?: number;
  /** Watch ref files with chokidar (default true). */
  watchRefs?: boolean;
  onApplied?(revision: ActiveRevision): void;
  onRejected?(sha: string): void;
}

export class RevisionFollower {
  private active: ActiveRevision | null = null;
  private readonly channel: RevisionChannel;
  private readonly gitCache: GitCache = {};
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastSeenHead: string | null = null;
  private following = false;
  private closed = false;

  constructor(private readonly options: RevisionFollowerOptions) {
    this.channel = new RevisionChannel({
      url: options.databaseUrl,
      onApplied: (sha) => this.enqueue(() => this.adopt(sha)),
      onLost: (error) => {
        options.log.warn({ err: error }, 'lost the coordination connection; will reconnect');
        this.stopFollowing();
      },
    });
  }

  /** The revision a check-in should use: read once at its start. */
  get current(): ActiveRevision | null {
    return this.active;
  }

  get isLeader(): boolean {
    return this.channel.isLeader && this.following;
  }

  async start(): Promise<void> {
    const last = await this.options.store.revisions.lastApplied();
    if (last) await this.enqueue(() => this.adopt(last.sha));
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.leaseRetryMs ?? 2000);
    this.timer.unref();
  }

  /** Resolves when every queued revision change has been processed (tests, shutdown). */
  async settled(): Promise<void> {
    let last: Promise<void> | null = null;
    while (last !== this.chain) {
      last = this.chain;
      await last;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.stopFollowing();
    await this.settled();
    await this.channel.close();
  }

  /** Checks the branch now (the watcher and the poll call this). */
  checkHead(): Promise<void> {
    return this.enqueue(() => this.processHead());
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'revision processing failed');
    });
    this.chain = next;
    return next;
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (await this.channel.tryLead()) {
        if (!this.following) await this.startFollowing();
        return;
      }
      // Not the follower: catch up on a notification missed while disconnected.
      const last = await this.options.store.revisions.lastApplied();
      if (last && last.sha !== this.active?.sha) await this.enqueue(() => this.adopt(last.sha));
    } catch (error) {
      this.options.log.warn({ err: error }, 'revision coordination failed; retrying');
    }
  }

  private async startFollowing(): Promise<void> {
    this.following = true;
    this.lastSeenHead = null;
    this.options.log.info({ branch: this.options.branch }, 'following git');
    const poll = setInterval(() => void this.checkHead(), this.options.pollIntervalMs ?? 1000);
    poll.unref();
    const stopPoll = (): void => clearInterval(poll);
    this.stopPoll = stopPoll;
    if (this.options.watchRefs ?? true) {
      const { gitdir } = await locateRepository(this.options.repoDir);
      this.watcher = watchFiles([`${gitdir}/refs/heads`, `${gitdir}/packed-refs`, `${gitdir}/HEAD`], {
        ignoreInitial: true,
        depth: 8,
      });
      this.watcher.on('all', () => void this.checkHead());
      this.watcher.on('error', (error) => this.options.log.warn({ err: error }, 'ref watcher failed; polling continues'));
    }
    await this.checkHead();
  }

  private stopPoll: () => void = () => undefined;

  private stopFollowing(): void {
    this.following = false;
    this.stopPoll();
    this.stopPoll = () => undefined;
    const watcher = this.watcher;
    this.watcher = null;
    if (watcher) void watcher.close();
  }

  private async processHead(): Promise<void> {
    if (!this.following || this.closed) return;
    const { store, repoDir, branch, log } = this.options;
    const sha = await resolveRevision({ dir: repoDir, ref: branch, cache: this.gitCache });
    if (sha === this.lastSeenHead) return;
    this.lastSeenHead = sha;
    if (sha === this.active?.sha) return;
    const known = await store.revisions.get(sha);
    if (known?.status === 'rejected') return;
    const tree = await readRevisionTree({ dir: repoDir, ref: sha, cache: this.gitCache });
    const compiled = await compileRevision(tree, this.options.compile);
    const at = this.options.now();
    const commit = tree.commit;
    if (!compiled.snapshot || hasErrors(compiled.issues)) {
      await store.revisions.record({
        sha,
        author: commit?.author ?? '',
        message: commit?.message ?? '',
        committedAt: commit?.committedAt ?? null,
        status: 'rejected',
        issues: compiled.issues,
        at,
      });
      log.warn({ revision: sha, issues: compiled.issues.length }, 'revision rejected; serving the last applied one');
      this.options.onRejected?.(sha);
      return;
    }
    // Record first: what the database says is applied is what every process serves.
    await store.revisions.record({
      sha,
      author: commit?.author ?? '',
      message: commit?.message ?? '',
      committedAt: commit?.committedAt ?? null,
      status: 'applied',
      issues: compiled.issues,
      at,
    });
    this.swap({ sha, snapshot: compiled.snapshot, secrets: compiled.secrets, appliedAt: at, memo: new Map() });
    await this.channel.publish(sha);
  }

  /** Loads a revision another process (or an earlier run) applied. */
  private async adopt(sha: string): Promise<void> {
    if (sha === this.active?.sha) return;
    const tree = await readRevisionTree({ dir: this.options.repoDir, ref: sha, cache: this.gitCache });
    const compiled = await compileRevision(tree, this.options.compile);
    if (!compiled.snapshot || hasErrors(compiled.issues)) {
      this.options.log.error({ revision: sha }, 'an applied revision does not compile here (secrets or identity differ?)');
      return;
    }
    const row = await this.options.store.revisions.get(sha);
    this.swap({ sha, snapshot: compiled.snapshot, secrets: compiled.secrets, appliedAt: row?.appliedAt ?? this.options.now(), memo: new Map() });
  }

  private swap(next: ActiveRevision): void {
    this.active = next;
    this.options.log.info({ revision: next.sha }, 'revision applied');
    this.options.onApplied?.(next);
  }
}
