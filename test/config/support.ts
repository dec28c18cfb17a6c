// Assertions on issues: a code at a file and line (and column when it matters).
import { expect } from 'vitest';
import type { Issue } from '../../engine/model/index.ts';

export interface ExpectedIssue {
  code: string;
  file: string;
  line: number;
  column?: number;
  path?: string;
}

export function expectIssue(issues: readonly Issue[], expected: ExpectedIssue): Issue {
  const found = issues.find(
    (issue) =>
      issue.code === expected.code &&
      issue.file === expected.file &&
      issue.line === expected.line &&
      (expected.column === undefined || issue.column === expected.column) &&
      (expected.path === undefined || issue.path === expected.path),
  );
  expect(found, `expected ${JSON.stringify(expected)} among\n${issues.map((i) => JSON.stringify(i)).join('\n')}`).toBeDefined();
  return found as Issue;
}

export function codes(issues: readonly Issue[]): string[] {
  return issues.map((issue) => issue.code);
}
