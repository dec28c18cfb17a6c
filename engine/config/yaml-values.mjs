// YAML text → plain values and syntax errors (by offset). Plain JavaScript so that the same code runs in
// the main thread and in the parse workers without a TypeScript loader. Positions are computed later, and
// only for the places an issue points at (see parse.ts).
import { parseAllDocuments } from 'yaml';

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true };

function firstLine(message) {
  return message.split('\n')[0] ?? message;
}

export function parseYamlValues(text) {
  const raw = { documents: [], errors: [] };
  let parsed;
  try {
    parsed = parseAllDocuments(text, PARSE_OPTIONS);
  } catch (error) {
    raw.errors.push({ offset: 0, message: error instanceof Error ? error.message : String(error) });
    return raw;
  }
  if (!Array.isArray(parsed)) return raw; // empty stream
  parsed.forEach((doc, index) => {
    for (const error of doc.errors) raw.errors.push({ offset: error.pos[0], message: firstLine(error.message) });
    if (doc.errors.length > 0) return;
    try {
      raw.documents.push({ index, value: doc.toJS({ maxAliasCount: 100 }) ?? null });
    } catch (error) {
      raw.errors.push({ offset: doc.contents?.range?.[0] ?? 0, message: error instanceof Error ? error.message : String(error) });
    }
  });
  return raw;
}
