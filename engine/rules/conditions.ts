// json-rules-engine condition trees, precompiled to plain JS predicates with the same
// semantics (operators, fact-valued operands, `path`, allowUndefinedFacts), so a
// check-in pays microseconds instead of a promise chain per condition.
import type { JsonValue, RuleCondition } from '../model/index.ts';

export type Facts = Readonly<Record<string, unknown>>;
export type Predicate = (facts: Facts) => boolean;

export const OPERATORS = [
  'equal',
  'notEqual',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
] as const;
export type OperatorName = (typeof OPERATORS)[number];
const OPERATOR_SET: ReadonlySet<string> = new Set(OPERATORS);

export function isKnownOperator(name: unknown): name is OperatorName {
  return typeof name === 'string' && OPERATOR_SET.has(name);
}

type Compare = (factValue: unknown, value: unknown) => boolean;

// json-rules-engine's numeric validator: anything parseFloat reads as a number passes.
function numeric(value: unknown): boolean {
  return !Number.isNaN(Number.parseFloat(value as string));
}

function indexOf(container: unknown, item: unknown): number | undefined {
  // json-rules-engine calls container.indexOf(item) and throws on anything without it;
  // here that is simply false (and `checkRuleFacts` flags a literal that is not an array).
  if (Array.isArray(container)) return container.indexOf(item);
  if (typeof container === 'string') return container.indexOf(item as string);
  return undefined;
}

const COMPARE: Readonly<Record<OperatorName, Compare>> = {
  equal: (a, b) => a === b,
  notEqual: (a, b) => a !== b,
  in: (a, b) => {
    const i = indexOf(b, a);
    return i !== undefined && i > -1;
  },
  notIn: (a, b) => indexOf(b, a) === -1,
  contains: (a, b) => Array.isArray(a) && a.indexOf(b) > -1,
  doesNotContain: (a, b) => Array.isArray(a) && a.indexOf(b) === -1,
  lessThan: (a, b) => numeric(a) && (a as number) < (b as number),
  lessThanInclusive: (a, b) => numeric(a) && (a as number) <= (b as number),
  greaterThan: (a, b) => numeric(a) && (a as number) > (b as number),
  greaterThanInclusive: (a, b) => numeric(a) && (a as number) >= (b as number),
};

// ── JSONPath-lite: $, .name, ['name'], [index] ────────────────────────────
export type PathSegment = string | number;

/** Parse a JSONPath of plain steps; null for anything richer (wildcards, filters, slices, `..`). */
export function parseJsonPathLite(path: string): PathSegment[] | null {
  if (!path.startsWith('$')) return null;
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    let match = /^\.([A-Za-z_$][\w$]*)/.exec(rest);
    if (match) {
      segments.push(match[1]!);
      i += match[0].length;
      continue;
    }
    match = /^\[(\d+)\]/.exec(rest);
    if (match) {
      segments.push(Number(match[1]));
      i += match[0].length;
      continue;
    }
    match = /^\['([^'\\]*)'\]/.exec(rest) ?? /^\["([^"\\]*)"\]/.exec(rest);
    if (match) {
      segments.push(match[1]!);
      i += match[0].length;
      continue;
    }
    return null;
  }
  return segments;
}

function follow(value: unknown, segments: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}

type Lookup = (facts: Facts) => unknown;

function factLookup(fact: string, path: string | undefined): Lookup {
  const own = (facts: Facts) => (Object.hasOwn(facts, fact) ? facts[fact] : undefined);
  if (!path) return own;
  const segments = parseJsonPathLite(path);
  // json-rules-engine applies a path only to objects; a scalar fact is compared as it is.
  if (segments === null) {
    return (facts) => {
      const value = own(facts);
      return value !== null && typeof value === 'object' ? undefined : value;
    };
  }
  return (facts) => {
    const value = own(facts);
    return value !== null && typeof value === 'object' ? follow(value, segments) : value;
  };
}

function isFactReference(value: unknown): value is { fact: string; path?: string } {
  return value !== null && typeof value === 'object' && Object.hasOwn(value, 'fact');
}

const NEVER: Predicate = () => false;
const ALWAYS: Predicate = () => true;

/**
 * Compile a condition tree. A malformed node or unknown operator compiles to "false"
 * (validation reports it); an empty `all` or `any` is true, as in json-rules-engine.
 */
export function compileCondition(condition: RuleCondition | undefined): Predicate {
  if (condition === null || typeof condition !== 'object') return NEVER;
  const node = condition as Record<string, unknown>;
  if ('all' in node || 'any' in node || 'not' in node) {
    if ('all' in node) {
      if (!Array.isArray(node['all'])) return NEVER;
      const parts = (node['all'] as RuleCondition[]).map(compileCondition);
      if (parts.length === 0) return ALWAYS;
      if (parts.length === 1) return parts[0]!;
      return (facts) => {
        for (const part of parts) if (!part(facts)) return false;
        return true;
      };
    }
    if ('any' in node) {
      if (!Array.isArray(node['any'])) return NEVER;
      const parts = (node['any'] as RuleCondition[]).map(compileCondition);
      if (parts.length === 0) return ALWAYS;
      if (parts.length === 1) return parts[0]!;
      return (facts) => {
        for (const part of parts) if (part(facts)) return true;
        return false;
      };
    }
    if (Array.isArray(node['not'])) return NEVER;
    const inner = compileCondition(node['not'] as RuleCondition);
    return (facts) => !inner(facts);
  }
  const { fact, operator, value, path } = node;
  if (typeof fact !== 'string' || !isKnownOperator(operator) || !('value' in node)) return NEVER;
  const compare = COMPARE[operator];
  const left = factLookup(fact, typeof path === 'string' ? path : undefined);
  if (isFactReference(value)) {
    const right = factLookup(value.fact, typeof value.path === 'string' ? value.path : undefined);
    return (facts) => compare(left(facts), right(facts));
  }
  const literal: JsonValue | undefined = value as JsonValue | undefined;
  return (facts) => compare(left(facts), literal);
}
