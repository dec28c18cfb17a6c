// Static checks of an AlertRule: a condition over a fact that does not exist, or an
// operator json-rules-engine does not know, would silently be false forever.
import type { AlertRule, IssueSeverity } from '../model/index.ts';
import { isKnownOperator, OPERATORS, parseJsonPathLite } from './conditions.ts';
import { KNOWN_DEVICE_FACTS } from './facts.ts';
import { templateReferences } from './template.ts';

export const RULE_ISSUE_CODES = {
  'unknown-fact': 'A condition, fact-valued operand or dedupe key template names a fact that no check-in provides.',
  'unknown-operator': 'A condition operator that is not one of equal, notEqual, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive, in, notIn, contains, doesNotContain.',
  'unsupported-path': 'A condition path that is not a plain JSONPath ($.a.b, $.a[0], $[\'a-b\']).',
  'path-on-scalar': 'A path on a fact that is never an object: json-rules-engine then compares the whole fact.',
  'invalid-operand': 'in/notIn with a value that is not a list, or a numeric comparison with a value that is not a number.',
  'malformed-condition': 'A condition node that is neither all/any/not nor a {fact, operator, value} leaf.',
  'empty-condition': 'An empty all/any: json-rules-engine treats both as true.',
  'missing-conditions': 'A device-scoped rule without conditions, or a fleet-scoped rule without an aggregate.',
} as const;
export type RuleIssueCode = keyof typeof RULE_ISSUE_CODES;

/** An issue inside one rule document; the config loader turns `segments` into file:line:col. */
export interface RuleIssue {
  code: RuleIssueCode;
  severity: IssueSeverity;
  /** JSON pointer into the rule document, e.g. `/spec/conditions/all/1/fact`. */
  path: string;
  /** The same path as segments, for `LoadedResource.locate`. */
  segments: (string | number)[];
  message: string;
}

/** Facts that are objects, the only ones a `path` can step into. */
const OBJECT_FACTS: ReadonlySet<string> = new Set(['device', 'location', 'firmware', 'labels', 'state']);
const NUMERIC_OPERATORS: ReadonlySet<string> = new Set(['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive']);

/** Names a fleet rule's dedupe key may use, besides the rule's own `groupBy` dimension (`{{site}}` when grouping by site). */
export const FLEET_TEMPLATE_NAMES: ReadonlySet<string> = new Set(['rule', 'groupBy', 'group', 'measure']);

export function checkRuleFacts(rule: AlertRule): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const add = (code: RuleIssueCode, segments: (string | number)[], message: string, severity: IssueSeverity = 'error') =>
    issues.push({ code, severity, path: toPointer(segments), segments, message });
  const spec = rule.spec;
  const name = rule.metadata.name;

  if (spec.scope === 'fleet') {
    if (!spec.aggregate) add('missing-conditions', ['spec'], `fleet rule '${name}' has no aggregate`);
    // {{cell}} on a rule grouped by site renders empty for every group: all sites would share one alert.
    const names = new Set(FLEET_TEMPLATE_NAMES);
    if (spec.aggregate) names.add(spec.aggregate.groupBy);
    checkTemplate(spec.dedupeKey, names, add);
    return issues;
  }
  if (spec.conditions === undefined) {
    add('missing-conditions', ['spec'], `device rule '${name}' has no conditions`);
  } else {
    checkNode(spec.conditions, ['spec', 'conditions'], add);
  }
  const deviceNames = new Set([...KNOWN_DEVICE_FACTS, 'rule']);
  checkTemplate(spec.dedupeKey, deviceNames, add);
  return issues;
}

type Add = (code: RuleIssueCode, segments: (string | number)[], message: string, severity?: IssueSeverity) => void;

function checkTemplate(template: string | undefined, known: ReadonlySet<string>, add: Add): void {
  if (template === undefined) return;
  for (const reference of templateReferences(template)) {
    const root = reference.split('.')[0] ?? reference;
    if (!known.has(root)) add('unknown-fact', ['spec', 'dedupeKey'], `dedupe key uses {{${reference}}}, but '${root}' is not a known name`);
  }
}

function checkNode(node: unknown, at: (string | number)[], add: Add): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    add('malformed-condition', at, 'a condition must be an object: {all: [...]}, {any: [...]}, {not: {...}} or {fact, operator, value}');
    return;
  }
  const record = node as Record<string, unknown>;
  const booleans = (['all', 'any', 'not'] as const).filter((key) => key in record);
  if (booleans.length > 1) {
    add('malformed-condition', at, `a condition may have only one of all/any/not, found ${booleans.join(', ')}`);
    return;
  }
  const boolean = booleans[0];
  if (boolean === 'all' || boolean === 'any') {
    const children = record[boolean];
    if (!Array.isArray(children)) {
      add('malformed-condition', [...at, boolean], `'${boolean}' must be a list of conditions`);
      return;
    }
    if (children.length === 0) add('empty-condition', [...at, boolean], `an empty '${boolean}' is always true`, 'warning');
    children.forEach((child, index) => checkNode(child, [...at, boolean, index], add));
    return;
  }
  if (boolean === 'not') {
    if (Array.isArray(record['not'])) {
      add('malformed-condition', [...at, 'not'], "'not' takes one condition, not a list");
      return;
    }
    checkNode(record['not'], [...at, 'not'], add);
    return;
  }
  if ('condition' in record) {
    add('malformed-condition', [...at, 'condition'], 'shared condition references are not supported; write the condition inline');
    return;
  }

  const { fact, operator, value, path } = record;
  if (typeof fact !== 'string') {
    add('malformed-condition', at, "a condition needs a 'fact' name");
  } else {
    checkFactName(fact, [...at, 'fact'], add);
    if (path !== undefined) checkPath(fact, path, [...at, 'path'], add);
  }
  if (!isKnownOperator(operator)) {
    add('unknown-operator', [...at, 'operator'], `unknown operator '${String(operator)}'; expected one of ${OPERATORS.join(', ')}`);
  }
  if (!('value' in record)) {
    add('malformed-condition', at, "a condition needs a 'value'");
    return;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'fact' in value) {
    const reference = value as { fact: unknown; path?: unknown };
    if (typeof reference.fact !== 'string') add('malformed-condition', [...at, 'value', 'fact'], 'a fact-valued operand needs a fact name');
    else {
      checkFactName(reference.fact, [...at, 'value', 'fact'], add);
      if (reference.path !== undefined) checkPath(reference.fact, reference.path, [...at, 'value', 'path'], add);
    }
    return;
  }
  if ((operator === 'in' || operator === 'notIn') && !Array.isArray(value)) {
    add('invalid-operand', [...at, 'value'], `'${operator}' needs a list of values`);
  }
  if (typeof operator === 'string' && NUMERIC_OPERATORS.has(operator) && typeof value !== 'number') {
    add('invalid-operand', [...at, 'value'], `'${operator}' compares numbers, but the value is ${JSON.stringify(value)}`, 'warning');
  }
}

function checkFactName(fact: string, at: (string | number)[], add: Add): void {
  if (!KNOWN_DEVICE_FACTS.has(fact)) {
    const hint = closest(fact, [...KNOWN_DEVICE_FACTS]);
    add('unknown-fact', at, `unknown fact '${fact}'${hint ? ` (did you mean '${hint}'?)` : ''}; the condition would always be false`);
  }
}

function checkPath(fact: string, path: unknown, at: (string | number)[], add: Add): void {
  if (typeof path !== 'string' || parseJsonPathLite(path) === null) {
    add('unsupported-path', at, `path ${JSON.stringify(path)} is not a plain JSONPath like $.mcu or $.a[0]`);
    return;
  }
  if (KNOWN_DEVICE_FACTS.has(fact) && !OBJECT_FACTS.has(fact)) {
    add('path-on-scalar', at, `'${fact}' is not an object; the path is ignored and the whole fact compared`, 'warning');
  }
}

function toPointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** A known name within edit distance 2, to turn a typo into a hint. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
