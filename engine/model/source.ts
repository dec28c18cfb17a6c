// What a loader reads: the files of a config tree, from a working directory or a git revision.

export interface SourceFile {
  /** Repository-relative path, forward slashes. */
  path: string;
  /** `symlink` files carry no content and are reported as an issue. */
  type: 'file' | 'symlink';
  content: Uint8Array;
}

export interface SourceTree {
  /** Commit sha for a git revision; `worktree` (or a content hash) for a working directory. */
  revision: string;
  files: SourceFile[];
  /** Commit metadata when read from git. */
  commit?: CommitInfo;
}

export interface CommitInfo {
  sha: string;
  author: string;
  message: string;
  /** Committer time. */
  committedAt: Date;
}

/** Folders that hold resource documents. */
export const RESOURCE_FOLDERS = [
  'fleet-config/tenants',
  'fleet-config/profiles',
  'fleet-config/sites',
  'fleet-config/groups',
  'firmware-manifests',
  'rules',
] as const;
