// The repository's own promises: editors find a schema for every example file, and every issue code is documented.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ISSUE_CODES, SCHEMA_FILES } from '../../engine/config/index.ts';
import type { ResourceKind } from '../../engine/model/index.ts';
import { REPO_ROOT, exampleFleetTree } from './fixtures.ts';

describe('the example files', () => {
  it('each starts with a yaml-language-server modeline naming an existing schema of the kind it holds', () => {
    const files = exampleFleetTree().files;
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = new TextDecoder().decode(file.content);
      const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text.split('\n')[0] ?? '');
      expect(modeline, `${file.path} has no modeline on its first line`).not.toBeNull();
      const schemaPath = join(REPO_ROOT, dirname(file.path), modeline?.[1] ?? '');
      expect(existsSync(schemaPath), `${file.path}: ${schemaPath} does not exist`).toBe(true);
      const kinds = new Set(parseAllDocuments(text).map((doc) => (doc.toJS() as { kind?: string } | null)?.kind));
      for (const kind of kinds) {
        expect(schemaPath.endsWith('/' + SCHEMA_FILES[kind as ResourceKind]), `${file.path}: ${kind} documents under ${modeline?.[1]}`).toBe(true);
      }
    }
  });
});

describe('docs/config.md', () => {
  it('documents every issue code', () => {
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'config.md'), 'utf8');
    for (const code of Object.keys(ISSUE_CODES)) expect(docs, code).toContain('`' + code + '`');
  });
});
