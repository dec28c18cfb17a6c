// The rules of one revision, built once: device rules precompiled to predicates, and a
// json-rules-engine Engine over the same rules as the reference implementation.
import { Engine, type RuleProperties, type TopLevelCondition } from 'json-rules-engine';
import type { AlertAction, AlertRule, FleetAggregate, RuleCondition, Severity } from '../model/index.ts';
import { compileCondition, type Facts, type Predicate } from './conditions.ts';
import { checkRuleFacts, type RuleIssue } from './check.ts';
import { compileTemplate, type RenderTemplate } from './template.ts';

export const DEFAULT_DEVICE_DEDUPE_KEY = '{{device.id}}';

export interface CompiledDeviceRule {
  readonly name: string;
  readonly severity: Severity;
  readonly holdDownSeconds: number;
  readonly actions: readonly AlertAction[];
  readonly dedupeKeyTemplate: string;
  readonly holds: Predicate;
  readonly dedupeKey: RenderTemplate;
  /** Whether the reference engine runs this rule (false when json-rules-engine would reject it). */
  readonly inReference: boolean;
}

export interface FleetRule {
  readonly name: string;
  readonly severity: Severity;
  readonly aggregate: FleetAggregate;
  readonly holdDownSeconds: number;
  readonly actions: readonly AlertAction[];
  readonly dedupeKey: RenderTemplate | null;
  readonly description?: string;
}

export interface RuleSet {
  readonly deviceRules: readonly CompiledDeviceRule[];
  readonly fleetRules: readonly FleetRule[];
  /** Issues of every rule (what `checkRuleFacts` reports), by rule name. */
  readonly issues: ReadonlyMap<string, readonly RuleIssue[]>;
  /** json-rules-engine over the device rules, `allowUndefinedFacts: true`. */
  readonly reference: Engine;
}

export interface RuleEvaluation {
  rule: string;
  severity: Severity;
  /** Whether the rule's condition holds for these facts. */
  holds: boolean;
  /** The rendered dedupe key: alerts are deduplicated by (rule, dedupeKey). */
  dedupeKey: string;
  holdDownSeconds: number;
  actions: readonly AlertAction[];
}

/** Build once per revision. Never throws: a malformed rule never holds, and its issues are in `issues`. */
export function buildRuleSet(rules: readonly AlertRule[]): RuleSet {
  const deviceRules: CompiledDeviceRule[] = [];
  const fleetRules: FleetRule[] = [];
  const issues = new Map<string, readonly RuleIssue[]>();
  const reference = new Engine([], { allowUndefinedFacts: true });

  for (const rule of rules) {
    const name = rule.metadata.name;
    const spec = rule.spec;
    const ruleIssues = checkRuleFacts(rule);
    issues.set(name, ruleIssues);
    const holdDownSeconds = Math.max(0, spec.holdDownSeconds ?? 0);
    const actions = spec.actions ?? [];

    if (spec.scope === 'fleet') {
      if (!spec.aggregate) continue;
      fleetRules.push({
        name,
        severity: spec.severity,
        aggregate: spec.aggregate,
        holdDownSeconds,
        actions,
        dedupeKey: spec.dedupeKey ? compileTemplate(spec.dedupeKey) : null,
        ...(spec.description ? { description: spec.description } : {}),
      });
      continue;
    }

    const conditions = spec.conditions;
    const dedupeKeyTemplate = spec.dedupeKey ?? DEFAULT_DEVICE_DEDUPE_KEY;
    // json-rules-engine rejects a whole run on an unknown operator or a non-list `in`;
    // such rules stay out of the reference so the others still evaluate.
    const rejectedByReference = ruleIssues.some(
      (issue) => issue.severity === 'error' && issue.code !== 'unknown-fact' && issue.code !== 'path-on-scalar',
    );
    let inReference = false;
    if (conditions !== undefined && !rejectedByReference) {
      try {
        reference.addRule(toReferenceRule(name, conditions, deviceRules.length));
        inReference = true;
      } catch {
        inReference = false;
      }
    }
    deviceRules.push({
      name,
      severity: spec.severity,
      holdDownSeconds,
      actions,
      dedupeKeyTemplate,
      holds: conditions === undefined ? () => false : compileCondition(conditions),
      dedupeKey: compileTemplate(dedupeKeyTemplate),
      inReference,
    });
  }
  return { deviceRules, fleetRules, issues, reference };
}

/** Evaluate every device rule against one check-in's facts (see `deriveDeviceFacts`), in rule order. */
export function evaluateDeviceRules(ruleSet: RuleSet, facts: Facts): RuleEvaluation[] {
  return ruleSet.deviceRules.map((rule) => ({
    rule: rule.name,
    severity: rule.severity,
    holds: rule.holds(facts),
    dedupeKey: rule.dedupeKey(facts, { rule: rule.name }),
    holdDownSeconds: rule.holdDownSeconds,
    actions: rule.actions,
  }));
}

/** The same through json-rules-engine: the reference the precompiled predicates are tested against. */
export async function evaluateDeviceRulesReference(ruleSet: RuleSet, facts: Facts): Promise<RuleEvaluation[]> {
  const defined: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(facts)) if (value !== undefined) defined[name] = value;
  const { results } = await ruleSet.reference.run(defined);
  const holding = new Set(results.map((result) => result.name));
  return ruleSet.deviceRules.map((rule) => ({
    rule: rule.name,
    severity: rule.severity,
    holds: rule.inReference && holding.has(rule.name),
    dedupeKey: rule.dedupeKey(facts, { rule: rule.name }),
    holdDownSeconds: rule.holdDownSeconds,
    actions: rule.actions,
  }));
}

function toReferenceRule(name: string, conditions: RuleCondition, index: number): RuleProperties {
  // json-rules-engine wants all/any/not at the root; a bare leaf means the same as all:[leaf].
  const root = ('all' in conditions || 'any' in conditions || 'not' in conditions ? conditions : { all: [conditions] }) as unknown as TopLevelCondition;
  return { name, conditions: root, event: { type: `rule-${index}` } };
}
