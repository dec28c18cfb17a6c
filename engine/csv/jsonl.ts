// Lines → JSON Lines values. A value goes on into PostgreSQL (jsonb, text), which refuses NUL
// characters and lone surrogates and overflows its stack on deep nesting: such a line fails alone
// here, with its number, instead of failing the statement that stores its neighbours.
import type { TextLine } from './lines.ts';
import type { BadRecord } from './records.ts';

export interface JsonRecord {
  line: number;
  value: unknown;
}

export type JsonItem = { record: JsonRecord; bad?: undefined } | { bad: BadRecord; record?: undefined };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as text, or null. */
export function unstorableText(text: string): string | null {
  if (text.includes('\0')) return 'holds a NUL character';
  if (LONE_SURROGATE.test(text)) return 'holds a lone UTF-16 surrogate (not a character)';
  return null;
}

/** Why a parsed JSON value cannot be stored (NUL, lone surrogates, nesting deeper than `maxDepth`), naming where; or null. */
export function unstorableJson(value: unknown, maxDepth = 32): string | null {
  const visit = (v: unknown, path: string, depth: number): string | null => {
    if (typeof v === 'string') {
      const problem = unstorableText(v);
      return problem ? `${path || 'the value'} ${problem}` : null;
    }
    if (v === null || typeof v !== 'object') return null;
    if (depth >= maxDepth) return `${path || 'the value'} is nested deeper than ${maxDepth} levels`;
    for (const [key, item] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
      const where = `${path}/${String(key).replace(/[\0\uD800-\uDFFF]/g, '?')}`;
      if (typeof key === 'string') {
        const problem = unstorableText(key);
        if (problem) return `key ${where} ${problem}`;
      }
      const found = visit(item, where, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(value, '', 0);
}

/** One line of a JSON Lines file: a value, a bad line, or null for a blank line. */
export function readJsonLine(line: TextLine): JsonItem | null {
  if (line.text === null) return { bad: { line: line.line, reason: line.bad } };
  if (line.text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    return { bad: { line: line.line, reason: `not valid JSON: ${(error as Error).message.slice(0, 200)}` } };
  }
  const problem = unstorableJson(value);
  if (problem) return { bad: { line: line.line, reason: problem } };
  return { record: { line: line.line, value } };
}
