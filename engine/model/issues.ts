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

// C0 and C1 controls (terminal escapes start with ESC or CSI), DEL, line/paragraph separators and the
// bidirectional overrides that make text read differently from what it is.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a repository (a file name, a message quoting a value) as a terminal may show it: every control
 * character written as a visible escape (`\u001b`), so a name cannot move the cursor, recolour the output,
 * or start a line that looks like the tool's own.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (char) => {
    if (char === '\n') return '\\n';
    if (char === '\t') return '\\t';
    if (char === '\r') return '\\r';
    return '\\u' + char.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

export function formatIssue(issue: Issue): string {
  return escapeControls(`${issue.file}:${issue.line}:${issue.column}: ${issue.severity} [${issue.code}] ${issue.message}`);
}
