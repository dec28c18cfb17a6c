// YAML documents with their source positions: every later issue can name file:line:col.
import { isMap, isScalar, isSeq, parseAllDocuments, type Node } from 'yaml';
import type { Issue, SourceLocation } from '../model/index.ts';
import { parseYamlValues, type RawYamlFile } from './yaml-values.mjs';

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

/** 1-based line and column of a character offset. */
function offsetToLocation(file: string, text: string, offset: number): SourceLocation {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { file, line, column: end - lineStart + 1 };
}

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

export { parseYamlValues, type RawYamlFile };

/**
 * Documents with a `locate` that re-parses the file the first time a position is asked for: positions are
 * needed only for issues, and keeping every node tree of a 10k-document repo alive costs more than parsing it.
 */
export function withPositions(file: string, text: string, raw: RawYamlFile): { documents: ParsedDocument[]; issues: Issue[] } {
  const issues = raw.errors.map((error): Issue => {
    const at = offsetToLocation(file, text, error.offset);
    return { ...syntaxIssue(file, at.line, at.column, error.message), code: error.code ?? 'yaml-syntax' };
  });
  let nodes: (Node | null)[] | undefined;
  const rootOf = (index: number): Node | null => {
    if (!nodes) {
      const parsed = parseAllDocuments(text, PARSE_OPTIONS);
      nodes = Array.isArray(parsed) ? parsed.map((doc) => doc.contents as Node | null) : [];
    }
    return nodes[index] ?? null;
  };
  const documents = raw.documents.map(({ index, value }): ParsedDocument => ({
    file,
    index,
    value,
    locate(path) {
      const node = nodeAtParent(rootOf(index), path);
      return offsetToLocation(file, text, node?.range?.[0] ?? 0);
    },
  }));
  return { documents, issues };
}

/** Splits a YAML file into documents; syntax errors become `yaml-syntax` issues (all of them). */
export function parseYamlFile(file: string, text: string): { documents: ParsedDocument[]; issues: Issue[] } {
  return withPositions(file, text, parseYamlValues(text));
}

function syntaxIssue(file: string, line: number, column: number, message: string): Issue {
  return { code: 'yaml-syntax', severity: 'error', file, line, column, path: '', message };
}
