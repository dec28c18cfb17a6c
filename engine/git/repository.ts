// Where a repository's git directory is: `dir/.git`, a `.git` file pointing elsewhere (worktrees), or `dir` itself (bare).
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { NotARepositoryError } from './errors.ts';

export interface RepositoryLocation {
  /** The working directory (for a bare repository: the repository itself). */
  dir: string;
  /** The git directory holding objects and refs. */
  gitdir: string;
  bare: boolean;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function locateRepository(dir: string): Promise<RepositoryLocation> {
  const root = resolve(dir);
  const dotGit = join(root, '.git');
  if (await isDirectory(dotGit)) return { dir: root, gitdir: dotGit, bare: false };
  if (await isFile(dotGit)) {
    // `git worktree` and submodules leave a file: "gitdir: <path>".
    const match = /^gitdir:\s*(.+)\s*$/m.exec(await readFile(dotGit, 'utf8'));
    if (match?.[1]) {
      const target = match[1].trim();
      return { dir: root, gitdir: isAbsolute(target) ? target : resolve(root, target), bare: false };
    }
  }
  if ((await isFile(join(root, 'HEAD'))) && (await isDirectory(join(root, 'objects')))) {
    return { dir: root, gitdir: root, bare: true };
  }
  throw new NotARepositoryError(root);
}
