// The git adapter: read a revision's (or the working directory's) config tree, name revisions, watch a branch.
export { readWorkingTree, readRevisionTree, WORKTREE_REVISION } from './tree.ts';
export type { ReadWorkingTreeOptions, ReadRevisionTreeOptions } from './tree.ts';
export { resolveRevision, readCommitInfo, listCommits } from './revisions.ts';
export type { RevisionOptions, GitCache } from './revisions.ts';
export { locateRepository } from './repository.ts';
export type { RepositoryLocation } from './repository.ts';
export { GitAdapterError, NotARepositoryError, UnknownRevisionError, NotACommitError } from './errors.ts';
export type { GitErrorCode } from './errors.ts';
export { watchBranch } from './watch.ts';
export type { WatchBranchOptions, BranchWatcher } from './watch.ts';
