// Validation returns a list of issues instead of throwing on the first one.

export type IssueSeverity = 'error' | 'warning' | 'note';

export interface SourceLocation {
  /** Repository-relative path, forward slashes. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface Issue {
  /** Stable machine code, e.g. `yaml-syntax`, `schema`, `dangling-reference`, `plaintext-secret`. Tests assert on it. */
  code: string;
  severity: IssueSeverity;
  file: string;
  line: number;
  column: number;
  /** JSON path inside the document, e.g. `/spec/wifi/0/password`. Empty for file-level issues. */
  path: string;
  message: string;
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((issue) => issue.severity === 'error');
}

/** Deterministic order: file, line, column, code. */
export function sortIssues(issues: readonly Issue[]): Issue[] {
  return [...issues].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code),
  );
}

export function formatIssue(issue: Issue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.severity} [${issue.code}] ${issue.message}`;
}
