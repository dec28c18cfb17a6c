// The fast YAML path (js-yaml under a YAML 1.2 core schema) must mean exactly what the reference
// (`yaml`) means: same documents, same values, and an error wherever the reference has one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseYamlValues, parseYamlValuesReference } from '../../engine/config/yaml-values.mjs';
import { REPO_ROOT } from './fixtures.ts';

function agree(text: string): void {
  const reference = parseYamlValuesReference(text);
  const fast = parseYamlValues(text);
  expect(fast.documents, JSON.stringify(text)).toEqual(reference.documents);
  expect(fast.errors.length > 0, JSON.stringify(text)).toBe(reference.errors.length > 0);
}

function yamlFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry)) found.push(path);
  }
  return found;
}

describe('the fast YAML path', () => {
  it('reads every YAML file of the project as the reference does', () => {
    const files = yamlFiles(REPO_ROOT);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) agree(readFileSync(file, 'utf8'));
  });

  it('resolves plain scalars as YAML 1.2 core, not 1.1', () => {
    const scalars = [
      '1_000', '0b101', '0o17', '017', '0x1F', '0x_1', '1__0', '0_1', '1e3', '1E3', '.5', '+.5', '+12', '-0', '12e03', '0.1e+5',
      '1.', '0.', '00', '09', '0o8', '1.2.3', '1,000', '.inf', '-.Inf', '+.INF', '.NaN', '.nan', '~', 'null', 'Null', 'NULL', 'nUll',
      'true', 'True', 'TRUE', 'tRue', 'yes', 'no', 'on', 'off', 'y', 'n', 'Y', '1:20', '2026-01-01', '2026-01-01T00:00:00Z',
      '"1"', "'1'", '"\\x41\\u0041\\/\\e\\N\\_"', '=', '<<', '$a', 'a #b', 'a# b', '- 1', '@a', '`a', '%a', '!!str 1', '!!float 1', '!foo a',
      '9007199254740993', '-9007199254740993', '1e400', '0x7FFFFFFFFFFFFFFFF',
    ];
    for (const scalar of scalars) {
      agree(`v: ${scalar}\n`);
      agree(`v: [${scalar}]\n`);
      agree(`- ${scalar}\n`);
    }
  });

  it('counts documents and reads structure as the reference does', () => {
    const texts = [
      '', '\n', '# c\n', '---\n', '---\n---\n', 'a: 1\n---\n', 'a: 1\n---\nb: 2\n', '---\na: 1\n...\n', 'a: 1\n...\n---\nb: 1', '---\n# only\n',
      '%YAML 1.2\n---\na: 1\n', '- a\n- b\n', 'a', '"a"', 'a: &x 1\nb: *x\n', 'a: 1\na: 2\n', '{a: 1, a: 2}', '? [a, b]\n: 1\n', '1: a\n',
      '1.0: a\n', 'null: a\n', '~: a\n', ': a\n', 'true: a\n', '[1, 2]: a\n', '{a: 1}: b\n', '[a]:\n  b\n', 'a: b: c\n', '\t a: 1\n', 'a: "open\n', 'a: 1\n\tb: 2\n',
      "a: 'x''y'\n", 'a: !!binary aGVsbG8=\n', '<<: {a: 1}\nb: 2\n', 'a: [1, 2,]\n', 'a: {b: 1,}\n', 'a: 1 # c\nb: 2\n', '\ufeffa: 1\n',
      'a: 1\r\nb: 2\r\n', '__proto__: {polluted: 1}\n', 'a: |\n  x\n  y\n', 'a: |-\n  x\n', 'a: |+\n  x\n\n', 'a: >\n  x\n  y\n\n  z\n',
      'a: |2\n   x\n', 'a: "x\n  y"\n', 'a: x\n  y\n', "a: 'x\n\n  y'\n", 'a: {b: [1, {c: d}], e: f}\n', '- - - a\n', '- {a: 1}\n- [b]\n',
      'a:\n- 1\n- 2\n', 'a:\n  - b\n   - c\n', 'a: b\n c: d\n', 'a: [b\n', 'key with spaces: 1\n', '"quoted key": 1\n', 'a: "\\t"\n',
    ];
    for (const text of texts) agree(text);
  });

  it('agrees on random documents written in block, flow and quoted styles', () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(value, fc.constantFrom('block', 'flow', 'quoted'), (data, style) => {
        const text =
          style === 'block'
            ? stringify(data)
            : style === 'flow'
              ? stringify(data, { collectionStyle: 'flow' })
              : stringify(data, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
        agree(text);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees on random text in block structures: indentation, comments, block scalars, flow collections, documents', () => {
    const piece = fc.string({ unit: fc.constantFrom(...'ab0_.1e:  \n\t-#[]{},~"\'|>?&*!'.split('')), maxLength: 10 });
    const indent = fc.integer({ min: 0, max: 4 }).map((n) => ' '.repeat(n));
    const shapes: ((t: string, u: string, i: string) => string)[] = [
      (t, u, i) => `a:\n  b: ${t}\n  c:\n${i}- ${u}\n${i}- {x: ${t}}\n`,
      (t, u, i) => `- ${t}\n${i}${u}\n - ${u}\n`,
      (t, u, i) => `k: ${t}\n${i}${u}: ${t}\n`,
      (t, u, i) => `a: |\n${i}${t}\n${i}${u}\nb: ${u}\n`,
      (t, u) => `---\n${t}\n---\n${u}: ${t}\n`,
      (t, u, i) => `- a: ${t}\n${i}b: ${u}\n-${i}${u}\n`,
      (t, u) => `"${t}": ${u}\n'${u}': ${t}\n`,
      (t, u, i) => `a:\n${i}- ${t}\n${i}- ${u}\n${i}c: ${u}\n`,
      (t, u) => `a: >-\n  ${t}\n\n  ${u}\n`,
      (t, u) => `${t}\n${u}\n`,
      (t, u, i) => `a: x |\n  ${t}\n${i}${u}\nb: 1\n`,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...shapes), piece, piece, indent, (shape, t, u, i) => agree(shape(t, u, i))),
      { numRuns: 20_000 },
    );
  });

  it('agrees on random plain scalars made of the characters that decide types', () => {
    const scalar = fc.string({ unit: fc.constantFrom(...'0123456789_+-.eExXoObBinfINFaNul~tTrRfFsS :#\'"[]{},&*!?|>%@`\\'.split('')), maxLength: 12 });
    fc.assert(
      fc.property(scalar, (text) => {
        agree(`v: ${text}\n`);
        agree(`${text}: 1\n`);
        agree(`{${text}: 1, k: ${text}}\n`);
        agree(`- [${text}, ${text}]\n`);
      }),
      { numRuns: 5000 },
    );
  });
});
