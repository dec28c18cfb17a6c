// Dedupe key templates: "{{device.id}}", "{{site}}/{{cell}}". Compiled once per revision.

const REFERENCE = /\{\{\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\}\}/g;

/** `overrides` win over `context` for their root names (e.g. `rule`), without copying the context. */
export type RenderTemplate = (context: Readonly<Record<string, unknown>>, overrides?: Readonly<Record<string, unknown>>) => string;

/** The names a template references, e.g. ['device.id']. */
export function templateReferences(template: string): string[] {
  return [...template.matchAll(REFERENCE)].map((match) => match[1]!);
}

/** A missing or non-scalar value renders as an empty string. */
export function compileTemplate(template: string): RenderTemplate {
  const parts: (string | string[])[] = [];
  let last = 0;
  for (const match of template.matchAll(REFERENCE)) {
    parts.push(template.slice(last, match.index));
    parts.push(match[1]!.split('.'));
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  if (parts.length === 1) return () => template;
  return (context, overrides) => {
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const root = part[0]!;
      let value: unknown = overrides && Object.hasOwn(overrides, root) ? overrides[root] : Object.hasOwn(context, root) ? context[root] : undefined;
      for (let i = 1; i < part.length; i++) {
        const step = part[i]!;
        value = value !== null && typeof value === 'object' && Object.hasOwn(value, step) ? (value as Record<string, unknown>)[step] : undefined;
      }
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out += String(value);
    }
    return out;
  };
}
