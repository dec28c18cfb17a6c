import { describe, expect, it } from 'vitest';
import { formatIssue, hasErrors, sortIssues, type Issue } from '../../engine/model/index.ts';

const issue = (file: string, line: number, severity: Issue['severity'] = 'error'): Issue => ({
  code: 'schema',
  severity,
  file,
  line,
  column: 3,
  path: '/spec',
  message: 'must have required property hardware',
});

describe('issues', () => {
  it('are reported in file, line order whatever order they were found in', () => {
    const sorted = sortIssues([issue('b.yaml', 1), issue('a.yaml', 9), issue('a.yaml', 2)]);
    expect(sorted.map((i) => `${i.file}:${i.line}`)).toEqual(['a.yaml:2', 'a.yaml:9', 'b.yaml:1']);
  });

  it('count as failing only when one is an error', () => {
    expect(hasErrors([issue('a.yaml', 1, 'warning')])).toBe(false);
    expect(hasErrors([issue('a.yaml', 1, 'warning'), issue('a.yaml', 2)])).toBe(true);
  });

  it('print as path:line:col: message', () => {
    expect(formatIssue(issue('fleet-config/sites/x.yaml', 4))).toBe(
      'fleet-config/sites/x.yaml:4:3: error [schema] must have required property hardware',
    );
  });
});
