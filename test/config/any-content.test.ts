// Issue 14, item 9: whatever a file holds, compiling returns issues, never an exception (the engine records
// every revision it looks at), and what a snapshot holds is plain JSON — never a Buffer, a Set or a Date.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../engine/config/index.ts';
import { canonicalJson, type JsonValue } from '../../engine/model/index.ts';
import { MINIMAL_FLEET, fleetWith, treeOf } from './fixtures.ts';
import { expectIssue } from './support.ts';

const SITE = 'fleet-config/sites/lot-a.yaml';
const TENANT = 'fleet-config/tenants/acme.yaml';
const site = (config: string): string => `apiVersion: fleetform/v1
kind: Site
metadata: { name: lot-a }
spec:
  tenant: acme
  timezone: UTC
  config:
${config}
`;

describe('YAML beyond JSON', () => {
  it('refuses every tag but the core ones, at the tag', async () => {
    for (const [value, tag] of [
      ['!!binary aGVsbG8=', '!!binary'],
      ['!!set { a, b }', '!!set'],
      ['!!timestamp 2001-12-14', '!!timestamp'],
      ['!!omap [ { a: 1 } ]', '!!omap'],
      ['!vault lot-a/wifi', '!vault'],
      ['!<tag:example.com,2026:secret> x', 'tag:example.com,2026:secret'],
    ] as const) {
      const { snapshot, issues } = await compileSnapshot(fleetWith({ [SITE]: site(`    note: ${value}`) }));
      expect(snapshot, value).toBeNull();
      const issue = expectIssue(issues, { code: 'unknown-yaml-tag', file: SITE, line: 8, column: 11 });
      expect(issue.message).toContain(`YAML tag ${tag} is not allowed`);
    }
  });

  it('keeps the core tags, which mean what they say', async () => {
    const { snapshot, issues } = await compileSnapshot(fleetWith({ [SITE]: site('    note: !!str 12\n    other: ! 13') }));
    expect(issues).toEqual([]);
    expect(snapshot?.sites.get('lot-a')?.spec.config).toEqual({ note: '12', other: '13' });
  });

  it('refuses numbers JSON cannot carry', async () => {
    const { issues } = await compileSnapshot(fleetWith({ [SITE]: site('    a: 1\n    b: .inf') }));
    expectIssue(issues, { code: 'non-json-value', file: SITE, line: 9, path: '/spec/config/b' });
  });
});

describe('any file content', () => {
  const isJson = (value: unknown): boolean => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
    if (typeof value === 'number') return Number.isFinite(value);
    if (Array.isArray(value)) return value.every(isJson);
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isJson);
    return false;
  };
  const yamlish = fc.string({ unit: fc.constantFrom(...'ab1 :-\n\t!&*[]{},"\'|>#%@`?~.\u0000\u001b'.split(''), 'k: ', '\n    ', '!!binary aGk=', '!!set {a}', '!!timestamp 2001-01-01', '<<: ', '.inf', '---\n'), maxLength: 40 });

  it('compiles to issues or a snapshot of plain JSON, never an exception', async () => {
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(yamlish.map((tail) => site('    ' + tail)), yamlish, fc.uint8Array({ maxLength: 64 })), async (content) => {
        // One file alone: its issues are what is under test (dangling references to the rest are fine).
        const result = await compileSnapshot(treeOf({ [SITE]: content, [TENANT]: MINIMAL_FLEET[TENANT] ?? '' }));
        if (result.snapshot) valid++;
        expect(Array.isArray(result.issues)).toBe(true);
        if (result.snapshot) {
          for (const { resource } of result.snapshot.resources) {
            expect(isJson(resource)).toBe(true);
            canonicalJson(resource as unknown as JsonValue);
          }
        } else {
          expect(result.issues.some((issue) => issue.severity === 'error')).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    expect(valid).toBeGreaterThan(0); // some runs compile: the plain-JSON property is exercised
  });
});
