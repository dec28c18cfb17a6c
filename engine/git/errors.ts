// Errors of the git adapter: classes with a stable `code` (tests and callers key on it) and the data that explains them.

export type GitErrorCode = 'not-a-repository' | 'unknown-revision' | 'not-a-commit';

export class GitAdapterError extends Error {
  constructor(
    readonly code: GitErrorCode,
    message: string,
    readonly data: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'GitAdapterError';
  }
}

export class NotARepositoryError extends GitAdapterError {
  constructor(dir: string) {
    super('not-a-repository', `${dir} is not a git repository (no .git directory, and not a bare repository)`, { dir });
    this.name = 'NotARepositoryError';
  }
}

export class UnknownRevisionError extends GitAdapterError {
  constructor(ref: string, dir: string) {
    super('unknown-revision', `unknown revision '${ref}': no branch, tag or commit of that name in ${dir}`, { ref, dir });
    this.name = 'UnknownRevisionError';
  }
}

export class NotACommitError extends GitAdapterError {
  constructor(ref: string, oid: string, type: string) {
    super('not-a-commit', `revision '${ref}' names a ${type} (${oid}), not a commit`, { ref, oid, type });
    this.name = 'NotACommitError';
  }
}
