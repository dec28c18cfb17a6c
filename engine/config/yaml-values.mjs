// YAML text → plain values and syntax errors (by offset). Plain JavaScript so that the same code runs in
// the main thread and in the parse workers without a TypeScript loader. Positions are computed later, and
// only for the places an issue points at (see parse.ts).
//
// Two parsers, one meaning. The `yaml` package is the reference (YAML 1.2 core schema, unique keys, alias
// expansion capped, precise error offsets) but parses about 1.5 MB/s; js-yaml is 10–15× faster. A file is
// read with js-yaml, under a schema that resolves plain scalars exactly as YAML 1.2 core does, whenever
// nothing in it can mean something different to the two: no anchors or tags, no complex or null keys,
// no empty document. Anything else, and every file js-yaml refuses, goes to `yaml`, which then also says
// where the error is. test/config/yaml-values.test.ts checks that both paths agree.
import jsyaml from 'js-yaml';
import { Parser, parseAllDocuments, visit } from 'yaml';

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true };

// ── the reference path ─────────────────────────────────────────────────────

function firstLine(message) {
  return message.split('\n')[0] ?? message;
}

export const parseYamlValuesReference = neverThrows(function parseYamlValuesReference(text) {
  const raw = { documents: [], errors: [] };
  let parsed;
  try {
    parsed = parseAllDocuments(text, PARSE_OPTIONS);
  } catch (error) {
    raw.errors.push({ offset: 0, message: error instanceof Error ? error.message : String(error) });
    return raw;
  }
  if (!Array.isArray(parsed)) return raw; // empty stream
  let tagOffsets; // the tag tokens' places: found only once a document holds a tag it may not
  const offsets = () => (tagOffsets ??= tagTokenOffsets(text));
  const mayHaveTags = /(?:^|[\s[{,?:-])!/.test(text); // a tag follows a space, a flow indicator or the start
  parsed.forEach((doc, index) => {
    for (const error of doc.errors) raw.errors.push({ offset: error.pos[0], message: firstLine(error.message) });
    if (doc.errors.length > 0) return;
    const tags = mayHaveTags ? unknownTags(doc, offsets) : [];
    if (tags.length > 0) {
      // A !!binary value became a Buffer, a custom !tag a string: neither is what the author meant, and a
      // device once received {"0":104,…}. The document is refused whole.
      raw.errors.push(...tags);
      return;
    }
    try {
      raw.documents.push({ index, value: doc.toJS({ maxAliasCount: 100 }) ?? null });
    } catch (error) {
      raw.errors.push({ offset: doc.contents?.range?.[0] ?? 0, message: error instanceof Error ? error.message : String(error) });
    }
  });
  return raw;
});

// Tags a document may carry: the YAML 1.2 core schema's (`!!str 12`, `!!map`…) and the non-specific `!`.
// Anything else — YAML 1.1's !!binary, !!set, !!timestamp, !!omap, or an application tag like !vault — is
// refused with its place instead of being turned into a Buffer, a Set, a Date or a silent string.
const CORE_TAGS = new Set(['!', ...['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`)]);

/** Offsets of the tag tokens of the text, ascending (a composed node's range starts at its value, not its tag). */
function tagTokenOffsets(text) {
  const offsets = [];
  const walk = (token) => {
    if (Array.isArray(token)) return token.forEach(walk);
    if (!token || typeof token !== 'object') return;
    if (token.type === 'tag' && typeof token.offset === 'number') offsets.push(token.offset);
    for (const value of Object.values(token)) if (value && typeof value === 'object') walk(value);
  };
  for (const token of new Parser().parse(text)) walk(token);
  return offsets.sort((a, b) => a - b);
}

function unknownTags(doc, tagOffsets) {
  const found = [];
  visit(doc, {
    Node(_key, node) {
      if (node.tag === undefined || CORE_TAGS.has(node.tag)) return;
      const start = node.range?.[0] ?? 0;
      // The tag token right before the value (tags come before it, perhaps on the line above).
      let at = start;
      for (const offset of tagOffsets()) {
        if (offset > start) break;
        at = offset;
      }
      const name = node.tag.startsWith('tag:yaml.org,2002:') ? `!!${node.tag.slice('tag:yaml.org,2002:'.length)}` : node.tag;
      found.push({
        offset: at,
        code: 'unknown-yaml-tag',
        message: `YAML tag ${name} is not allowed: only plain JSON values (strings, numbers, booleans, null, maps, lists) are configuration`,
      });
    },
  });
  return found;
}

// ── the fast path ──────────────────────────────────────────────────────────

// Plain scalars as the YAML 1.2 core schema (and the `yaml` package) resolve them; js-yaml's own types
// also accept YAML 1.1 forms (`1_000`, `0b101`) and miss `+.5`.
const coreNull = new jsyaml.Type('tag:yaml.org,2002:null', {
  kind: 'scalar',
  resolve: (data) => data === '' || data === '~' || data === 'null' || data === 'Null' || data === 'NULL',
  construct: () => null,
  predicate: (object) => object === null,
  represent: () => 'null',
});
const coreBool = new jsyaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data) => /^(?:true|True|TRUE|false|False|FALSE)$/.test(data),
  construct: (data) => data[0] === 't' || data[0] === 'T',
  predicate: (object) => typeof object === 'boolean',
  represent: (object) => String(object),
});
const coreInt = new jsyaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data) => /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/.test(data),
  construct: (data) =>
    data.startsWith('0o') ? parseInt(data.slice(2), 8) : data.startsWith('0x') ? parseInt(data.slice(2), 16) : Number(data),
  predicate: (object) => Number.isInteger(object),
  represent: (object) => String(object),
});
const coreFloat = new jsyaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data) =>
    /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(data) ||
    /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(data) ||
    /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(data),
  construct: (data) => {
    const lower = data.toLowerCase();
    if (lower.endsWith('.nan')) return NaN;
    if (lower.endsWith('.inf')) return data.startsWith('-') ? -Infinity : Infinity;
    return Number(data);
  },
  predicate: (object) => typeof object === 'number',
  represent: (object) => String(object),
});
const CORE_1_2 = new jsyaml.Schema({ implicit: [coreNull, coreBool, coreInt, coreFloat] });

// Where the two could differ, in meaning or in what they refuse: an anchor or alias (`yaml` caps alias
// expansion), a tag, a directive, a reserved indicator, a complex key (`? `, or a flow collection as a
// key), a key that is null or empty, a tab (js-yaml accepts some as indentation), a comment glued to a
// token, a nested sequence on one line, a block scalar at the top level, a flow collection that spans
// lines. A false alarm costs only speed; test/config/yaml-values.test.ts fuzzes both paths against each other.
const NEEDS_REFERENCE = new RegExp(
  [
    /(?:^|[\s[{,])[&*!%@`]/.source,
    /(?:^|[\s[{,])\?(?:\s|$)/.source,
    /(?:^|[\s[{,?-])(?:~|null|Null|NULL)?\s*:(?:[\s,\]}]|$)/.source,
    /[\]}]\s*:/.source,
    /\t/.source,
    /[^\s]#/.source,
    /-[ ]+-(?:\s|$)/.source,
    /^[ ]*[|>]/.source,
    /^[ ]*-[ ]*(?:#|$)/.source,
    /^(?:---|\.\.\.)[^\s]/.source,
  ].join('|'),
  'm',
);

/**
 * A flow collection or a quoted scalar must open and close on its line for the fast path: the two parsers
 * differ on how continuation lines must be indented. Inside a flow mapping, an entry that starts with a
 * collection or a null is a key the two name differently. Block scalars (`|`, `>`) are plain lines here.
 */
function spansLinesOrAmbiguousFlow(text) {
  if (!/["'[{]/.test(text)) return false;
  for (const line of text.split('\n')) {
    const flow = [];
    let entryStart = false;
    for (let i = 0; i < line.length; i++) {
      const char = line[i];
      if (char === ' ') continue;
      const previous = i === 0 ? ' ' : line[i - 1];
      if (char === '#' && previous === ' ') break; // a comment: the rest of the line is not YAML
      const inMapping = flow[flow.length - 1] === '{';
      if (inMapping && entryStart && (char === '[' || char === '{')) return true; // a collection as a key
      if (flow.length > 0 && entryStart && (char === '~' || /^(?:null|Null|NULL)\b/.test(line.slice(i)))) return true; // maybe a null key
      if (entryStart && (char === ':' || char === '?')) return true; // an empty or complex key
      entryStart = false;
      if ((char === '"' || char === "'") && ' [{,:-'.includes(previous)) {
        // A quoted scalar: skip it whole; unclosed on this line means it continues on the next.
        let close = i + 1;
        for (; close < line.length; close++) {
          if (char === '"' && line[close] === '\\') close++;
          else if (line[close] === char) {
            if (char === "'" && line[close + 1] === "'") close++;
            else break;
          }
        }
        if (close >= line.length) return true;
        i = close;
      } else if (char === '[' || char === '{') {
        flow.push(char);
        entryStart = true;
      } else if (char === ']' || char === '}') {
        flow.pop();
      } else if (char === ',') {
        entryStart = true;
      }
    }
    if (flow.length !== 0) return true;
  }
  return false;
}

/**
 * Indentation the two parsers read alike: a line indents deeper than the one before or returns exactly to
 * an enclosing level, and a block scalar's first line holds text. js-yaml accepts some dedents to no level
 * (reading a structure `yaml` refuses); such files go to the reference, which says where they are wrong.
 */
function irregularIndentation(text) {
  const levels = [0];
  let blockScalarIndent = -1; // the header line's indent while inside a block scalar
  let blockScalarStarts = false;
  let firstContent = true;
  for (const line of text.split('\n')) {
    if (line.startsWith('---')) firstContent = true;
    const trimmed = line.trimStart();
    const indent = line.length - trimmed.length;
    if (blockScalarIndent >= 0) {
      if (blockScalarStarts && trimmed === '') return true;
      blockScalarStarts = false;
      if (trimmed === '' || indent > blockScalarIndent) continue;
      blockScalarIndent = -1;
    }
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let dedented = false;
    while (levels.length > 1 && indent < (levels[levels.length - 1] ?? 0)) {
      levels.pop();
      dedented = true;
    }
    const top = levels[levels.length - 1] ?? 0;
    if (indent > top && !dedented) levels.push(indent);
    else if (indent !== top) return true;
    // `- a: 1` opens a mapping at the column after the dash.
    const dash = /^(-[ ]+)+/.exec(trimmed);
    if (dash) levels.push(indent + dash[0].length);
    // A line that is neither a key, an item nor the document's first: a plain scalar over several lines.
    const rest = dash ? trimmed.slice(dash[0].length) : trimmed;
    if (!dash && !firstContent && !/:(?:[ ]|$)/.test(rest)) return true;
    firstContent = false;
    if (/(?::|-)[ ]+[|>][-+0-9]*[ ]*(?:#.*)?$/.test(trimmed)) {
      blockScalarIndent = indent;
      blockScalarStarts = true;
    }
  }
  return false;
}

/** Whether js-yaml may read the text (see above); false sends it to the reference parser. */
export function fastPathApplies(text) {
  return !(NEEDS_REFERENCE.test(text) || spansLinesOrAmbiguousFlow(text) || irregularIndentation(text));
}

export function parseYamlValues(text) {
  return fastPathApplies(text) ? parseYamlValuesFast(text) : parseYamlValuesReference(text);
}

/** Whatever the text, a result: an unexpected failure of a parser is an error of the file, not an exception. */
function neverThrows(parse) {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      return { documents: [], errors: [{ offset: 0, message: `the YAML could not be read: ${error instanceof Error ? error.message : String(error)}` }] };
    }
  };
}

/** For a text `fastPathApplies` accepted: js-yaml, or the reference for what it refuses or counts differently. */
export function parseYamlValuesFast(text) {
  let values;
  try {
    values = jsyaml.loadAll(text, null, { schema: CORE_1_2 });
  } catch {
    return parseYamlValuesReference(text); // says where, as it always did
  }
  // An empty or comment-only document: the two count documents differently there.
  if (values.length === 0 || values.some((value) => value === null || value === undefined)) return parseYamlValuesReference(text);
  return { documents: values.map((value, index) => ({ index, value })), errors: [] };
}
