// A config tree read from a working directory or a git revision: only the resource folders, symlinks never followed.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { RESOURCE_FOLDERS, type SourceFile, type SourceTree } from '../model/index.ts';
import { readPassFs, type ObjectFs } from './object-fs.ts';
import { locateRepository, type RepositoryLocation } from './repository.ts';
import { commitInfo, readRevisionCommit, type GitCache } from './revisions.ts';

/** The revision name of a tree read from a working directory. */
export const WORKTREE_REVISION = 'worktree';

/** Reads in flight at once: enough to keep the disk busy, few enough not to exhaust file descriptors. */
const READ_CONCURRENCY = 64;

const NO_CONTENT = new Uint8Array(0);

const MODE_TREE = '040000';
const MODE_SYMLINK = '120000';
const MODE_SUBMODULE = '160000';

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function byPath(a: SourceFile, b: SourceFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

// ── working directory ─────────────────────────────────────────────────────

type Pending = { path: string; absolute: string };

async function walkDirectory(dir: string, relative: string, symlinks: SourceFile[], regular: Pending[]): Promise<void> {
  const entries = await readdir(join(dir, relative), { withFileTypes: true });
  for (const entry of entries) {
    const path = `${relative}/${entry.name}`;
    if (entry.isSymbolicLink()) symlinks.push({ path, type: 'symlink', content: NO_CONTENT });
    else if (entry.isDirectory()) await walkDirectory(dir, path, symlinks, regular);
    else if (entry.isFile()) regular.push({ path, absolute: join(dir, path) });
    // sockets, fifos, devices: not config, not worth an issue
  }
}

export interface ReadWorkingTreeOptions {
  dir: string;
}

/** The files of the resource folders of a directory (git or not), as they are on disk. Revision `worktree`. */
export async function readWorkingTree({ dir }: ReadWorkingTreeOptions): Promise<SourceTree> {
  const symlinks: SourceFile[] = [];
  const regular: Pending[] = [];
  for (const folder of RESOURCE_FOLDERS) {
    let stats;
    try {
      stats = await lstat(join(dir, folder));
    } catch {
      continue; // a repo may leave out folders it does not use
    }
    if (stats.isSymbolicLink()) symlinks.push({ path: folder, type: 'symlink', content: NO_CONTENT });
    else if (stats.isDirectory()) await walkDirectory(dir, folder, symlinks, regular);
  }
  const files = await mapLimited(regular, READ_CONCURRENCY, async ({ path, absolute }): Promise<SourceFile> => ({
    path,
    type: 'file',
    content: new Uint8Array(await readFile(absolute)),
  }));
  return { revision: WORKTREE_REVISION, files: [...files, ...symlinks].sort(byPath) };
}

// ── git revision ──────────────────────────────────────────────────────────

type TreeEntry = Awaited<ReturnType<typeof git.readTree>>['tree'][number];

interface BlobRef {
  path: string;
  oid: string;
}

class TreeReader {
  private readonly trees = new Map<string, Promise<TreeEntry[]>>();
  private readonly fs: ObjectFs;

  constructor(
    private readonly repo: RepositoryLocation,
    private readonly cache: GitCache,
  ) {
    this.fs = readPassFs(repo.gitdir);
  }

  entries(oid: string): Promise<TreeEntry[]> {
    let entries = this.trees.get(oid);
    if (!entries) {
      entries = git.readTree({ fs: this.fs, gitdir: this.repo.gitdir, oid, cache: this.cache }).then((result) => result.tree);
      this.trees.set(oid, entries);
    }
    return entries;
  }

  /** The entry at a slash-separated path below a root tree, or null. Walks only the trees on the way. */
  async entryAt(rootOid: string, path: string): Promise<TreeEntry | null> {
    let treeOid = rootOid;
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const entry = (await this.entries(treeOid)).find((candidate) => candidate.path === parts[i]);
      if (!entry) return null;
      if (i === parts.length - 1) return entry;
      if (entry.mode !== MODE_TREE) return null;
      treeOid = entry.oid;
    }
    return null;
  }

  async walk(treeOid: string, prefix: string, symlinks: SourceFile[], blobs: BlobRef[]): Promise<void> {
    const entries = await this.entries(treeOid);
    await Promise.all(
      entries.map(async (entry) => {
        const path = `${prefix}/${entry.path}`;
        if (entry.mode === MODE_TREE) await this.walk(entry.oid, path, symlinks, blobs);
        else if (entry.mode === MODE_SYMLINK) symlinks.push({ path, type: 'symlink', content: NO_CONTENT });
        else if (entry.mode !== MODE_SUBMODULE) blobs.push({ path, oid: entry.oid });
      }),
    );
  }

  /**
   * A blob's content. Loose objects are asked for still deflated and inflated with node's native zlib,
   * several times faster than isomorphic-git's pure-JS inflate; packed objects come back inflated.
   */
  async blob(oid: string): Promise<Uint8Array> {
    const result = await git.readObject({ fs: this.fs, gitdir: this.repo.gitdir, oid, cache: this.cache, format: 'deflated' });
    if (result.format === 'content') {
      const object = result.object as Uint8Array; // a Buffer: hand out a plain Uint8Array, as loose reads do
      return new Uint8Array(object.buffer, object.byteOffset, object.byteLength);
    }
    const wrapped = inflateSync(result.object as Uint8Array);
    const header = wrapped.indexOf(0); // "blob <size>\0<content>"
    return new Uint8Array(wrapped.buffer, wrapped.byteOffset + header + 1, wrapped.byteLength - header - 1);
  }
}

export interface ReadRevisionTreeOptions {
  dir: string;
  /** Branch, tag, full or short sha, HEAD; `~N` / `^N` suffixes follow parents. */
  ref: string;
  /** Share one across reads of the same repository to parse pack indexes once. */
  cache?: GitCache;
}

/**
 * The files of the resource folders at a git revision, with its commit info. Reads loose and packed objects
 * (as `git gc` leaves them). Throws UnknownRevisionError / NotACommitError / NotARepositoryError.
 */
export async function readRevisionTree({ dir, ref, cache = {} }: ReadRevisionTreeOptions): Promise<SourceTree> {
  const repo = await locateRepository(dir);
  const commit = await readRevisionCommit(repo, ref, cache);
  try {
    return await readCommitTree(repo, commit, cache);
  } catch (error) {
    // A `git gc` that ran during the read moved objects into a new pack: read once more with fresh listings.
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'NotFoundError') {
      return readCommitTree(repo, commit, cache);
    }
    throw error;
  }
}

async function readCommitTree(
  repo: RepositoryLocation,
  commit: Awaited<ReturnType<typeof readRevisionCommit>>,
  cache: GitCache,
): Promise<SourceTree> {
  const reader = new TreeReader(repo, cache);
  const symlinks: SourceFile[] = [];
  const blobs: BlobRef[] = [];
  for (const folder of RESOURCE_FOLDERS) {
    const entry = await reader.entryAt(commit.commit.tree, folder);
    if (!entry) continue;
    if (entry.mode === MODE_SYMLINK) symlinks.push({ path: folder, type: 'symlink', content: NO_CONTENT });
    else if (entry.mode === MODE_TREE) await reader.walk(entry.oid, folder, symlinks, blobs);
  }
  // Identical blobs (copied files) are read once.
  const contents = new Map<string, Promise<Uint8Array>>();
  const files = await mapLimited(blobs, READ_CONCURRENCY, async ({ path, oid }): Promise<SourceFile> => {
    let content = contents.get(oid);
    if (!content) {
      content = reader.blob(oid);
      contents.set(oid, content);
    }
    return { path, type: 'file', content: await content };
  });
  return { revision: commit.oid, files: [...files, ...symlinks].sort(byPath), commit: commitInfo(commit) };
}
