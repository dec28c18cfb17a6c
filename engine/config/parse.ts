// YAML documents with their source positions: every later issue can name file:line:col.
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Node } from 'yaml';
import type { Issue, SourceLocation } from '../model/index.ts';

export type JsonPath = readonly (string | number)[];

export interface ParsedDocument {
  file: string;
  /** 0-based index of the document inside its file. */
  index: number;
  /** The document as plain data (null for an empty document). */
  value: unknown;
  /** Where a JSON path is in the source; falls back to the nearest parent that exists. */
  locate(path: JsonPath): SourceLocation;
}

/** `/spec/wifi/0/password` (JSON Pointer, RFC 6901). */
export function pointer(path: JsonPath): string {
  return path.map((segment) => '/' + String(segment).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Inverse of `pointer`; numeric segments become numbers. */
export function parsePointer(text: string): (string | number)[] {
  if (text === '') return [];
  return text
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment));
}

/** The deepest node on the path that exists. */
function nodeAtParent(root: Node | null, path: JsonPath): Node | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const found = nodeAtExact(root, path.slice(0, depth));
    if (found) return found;
  }
  return root;
}

function nodeAtExact(root: Node | null, path: JsonPath): Node | null {
  let node: Node | null = root;
  for (const segment of path) {
    if (!node) return null;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (!pair) return null;
      node = (pair.value as Node | null) ?? (pair.key as Node | null);
    } else if (isSeq(node) && typeof segment === 'number') {
      node = (node.items[segment] as Node | undefined) ?? null;
    } else {
      return null;
    }
  }
  return node;
}

function offsetToLocation(file: string, lines: LineCounter, offset: number): SourceLocation {
  const { line, col } = lines.linePos(offset);
  return { file, line: Math.max(line, 1), column: Math.max(col, 1) };
}

/** Splits a YAML file into documents; syntax errors become `yaml-syntax` issues (all of them). */
export function parseYamlFile(file: string, text: string): { documents: ParsedDocument[]; issues: Issue[] } {
  const lines = new LineCounter();
  const issues: Issue[] = [];
  const documents: ParsedDocument[] = [];
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    issues.push(syntaxIssue(file, 1, 1, error instanceof Error ? error.message : String(error)));
    return { documents, issues };
  }
  if (!Array.isArray(parsed)) return { documents, issues }; // empty stream
  parsed.forEach((doc, index) => {
    const errors = doc.errors;
    for (const error of errors) {
      const at = offsetToLocation(file, lines, error.pos[0]);
      issues.push(syntaxIssue(file, at.line, at.column, firstLine(error.message)));
    }
    if (errors.length > 0) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      const start = doc.contents?.range?.[0] ?? 0;
      const at = offsetToLocation(file, lines, start);
      issues.push(syntaxIssue(file, at.line, at.column, error instanceof Error ? error.message : String(error)));
      return;
    }
    const root = doc.contents as Node | null;
    const documentStart = root?.range?.[0] ?? doc.range?.[0] ?? 0;
    documents.push({
      file,
      index,
      value: value ?? null,
      locate(path) {
        const node = nodeAtParent(root, path);
        const offset = node?.range?.[0] ?? documentStart;
        return offsetToLocation(file, lines, offset);
      },
    });
  });
  return { documents, issues };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function syntaxIssue(file: string, line: number, column: number, message: string): Issue {
  return { code: 'yaml-syntax', severity: 'error', file, line, column, path: '', message };
}
