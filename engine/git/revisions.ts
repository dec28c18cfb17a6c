// Revisions by name: branch, tag (annotated tags peeled), full or short sha, HEAD, with `~N` / `^` / `^N` suffixes.
import * as fs from 'node:fs';
import git from 'isomorphic-git';
import type { CommitInfo } from '../model/index.ts';
import { NotACommitError, UnknownRevisionError } from './errors.ts';
import { locateRepository, type RepositoryLocation } from './repository.ts';

type ReadCommitResult = Awaited<ReturnType<typeof git.readCommit>>;

/** isomorphic-git's object cache: pack indexes parsed once and shared by every read that is given it. */
export type GitCache = object;

export interface RevisionOptions {
  dir: string;
  ref: string;
  cache?: GitCache;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** One step of a suffix: go to parent number `parent` (1-based; 0 is the commit itself), `times` times. */
interface Hop {
  parent: number;
  times: number;
}

/**
 * `main~2^2` → base `main` and the hops [{1, 2}, {2, 1}]. `~N` stays one hop repeated N times, so a huge N
 * costs no memory: the walk ends at the root commit.
 */
function parseRevision(ref: string): { base: string; hops: Hop[] } | null {
  const match = /^([^~^]+)((?:[~^]\d*)*)$/.exec(ref);
  if (!match?.[1]) return null;
  const hops: Hop[] = [];
  for (const [, op, digits] of (match[2] ?? '').matchAll(/([~^])(\d*)/g)) {
    const n = digits === '' || digits === undefined ? 1 : Number(digits);
    hops.push(op === '~' ? { parent: 1, times: n } : { parent: n, times: 1 });
  }
  return { base: match[1], hops };
}

async function readCommitObject(
  repo: RepositoryLocation,
  ref: string,
  oid: string,
  cache: GitCache,
): Promise<ReadCommitResult> {
  try {
    return await git.readCommit({ fs, gitdir: repo.gitdir, oid, cache });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'NotFoundError') throw new UnknownRevisionError(ref, repo.dir);
    if (code === 'ObjectTypeError') {
      const { type } = await git.readObject({ fs, gitdir: repo.gitdir, oid, cache, format: 'deflated' });
      throw new NotACommitError(ref, oid, type);
    }
    throw error;
  }
}

async function resolveBase(repo: RepositoryLocation, base: string, ref: string, cache: GitCache): Promise<string> {
  try {
    return await git.resolveRef({ fs, gitdir: repo.gitdir, ref: base });
  } catch (error) {
    if (errorCode(error) !== 'NotFoundError') throw error;
  }
  if (/^[0-9a-f]{4,39}$/i.test(base)) {
    try {
      return await git.expandOid({ fs, gitdir: repo.gitdir, oid: base.toLowerCase(), cache });
    } catch (error) {
      if (errorCode(error) !== 'NotFoundError') throw error;
    }
  }
  throw new UnknownRevisionError(ref, repo.dir);
}

/** The commit a revision names, read (with a peeled tag and parent hops applied). */
export async function readRevisionCommit(
  repo: RepositoryLocation,
  ref: string,
  cache: GitCache,
): Promise<ReadCommitResult> {
  const parsed = parseRevision(ref.trim());
  if (!parsed) throw new UnknownRevisionError(ref, repo.dir);
  let commit = await readCommitObject(repo, ref, await resolveBase(repo, parsed.base, ref, cache), cache);
  for (const { parent: which, times } of parsed.hops) {
    if (which === 0) continue;
    for (let i = 0; i < times; i++) {
      const parent = commit.commit.parent[which - 1];
      if (!parent) throw new UnknownRevisionError(ref, repo.dir);
      commit = await readCommitObject(repo, ref, parent, cache);
    }
  }
  return commit;
}

export function commitInfo(result: ReadCommitResult): CommitInfo {
  const { author, committer, message } = result.commit;
  return {
    sha: result.oid,
    author: `${author.name} <${author.email}>`,
    message: message.replace(/\n+$/, ''),
    committedAt: new Date(committer.timestamp * 1000),
  };
}

/** The full commit sha a revision names. Throws UnknownRevisionError (`unknown-revision`) or NotACommitError. */
export async function resolveRevision({ dir, ref, cache = {} }: RevisionOptions): Promise<string> {
  const repo = await locateRepository(dir);
  return (await readRevisionCommit(repo, ref, cache)).oid;
}

/** Commit metadata of a revision. */
export async function readCommitInfo({ dir, ref, cache = {} }: RevisionOptions): Promise<CommitInfo> {
  const repo = await locateRepository(dir);
  return commitInfo(await readRevisionCommit(repo, ref, cache));
}

/** Commits reachable from `ref`, newest first (`depth` limits how many). */
export async function listCommits({
  dir,
  ref,
  depth,
  cache = {},
}: RevisionOptions & { depth?: number }): Promise<CommitInfo[]> {
  const repo = await locateRepository(dir);
  const head = await readRevisionCommit(repo, ref, cache);
  const commits = await git.log({ fs, gitdir: repo.gitdir, ref: head.oid, cache, ...(depth === undefined ? {} : { depth }) });
  return commits.map(commitInfo);
}
