import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  buildRuleSet,
  deriveDeviceFacts,
  evaluateDeviceRules,
  evaluateDeviceRulesReference,
  OPERATORS,
  type DeviceFactsInput,
} from '../../engine/rules/index.ts';
import type { AlertRule, JsonValue, RuleCondition } from '../../engine/model/index.ts';
import { checkRuleFacts } from '../../engine/rules/index.ts';
import { alertRule, EXAMPLE_RULES } from './example-rules.ts';

/** The repository's own rules/*.yaml, as shipped. */
function repositoryRules(): AlertRule[] {
  const dir = join(import.meta.dirname, '..', '..', 'rules');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
      .map((doc) => doc.toJS() as AlertRule | null)
      .filter((doc): doc is AlertRule => doc?.kind === 'AlertRule'),
  );
}

const now = Date.parse('2026-11-22T08:00:00Z');
function checkIn(overrides: Partial<DeviceFactsInput['telemetry']>, state: Record<string, JsonValue> = {}): DeviceFactsInput {
  return {
    device: { id: 'trk-0042', profile: 'tracker-v2', site: 'dealer-munich', labels: { tracking: 'required' } },
    telemetry: { time: '2026-11-22T08:00:00Z', battery: 80, uptimeMs: 3_600_000, ...overrides },
    reported: { firmware: { mcu: '2.3.1', ble: '1.4.0' }, configHash: 'h1', state },
    desiredConfigHash: 'h1',
    previous: { at: now - 3600_000, battery: 81 },
    location: { source: 'gps', lat: 48.1, lon: 11.5, accuracyM: 5 },
    status: 'converged',
    now,
  };
}
const ruleSet = buildRuleSet(EXAMPLE_RULES);
const shipped = repositoryRules();
const shippedSet = buildRuleSet(shipped);
const holding = (input: DeviceFactsInput) =>
  evaluateDeviceRules(ruleSet, deriveDeviceFacts(input))
    .filter((e) => e.holds)
    .map((e) => e.rule);

describe('evaluateDeviceRules', () => {
  it('opens low-battery at 5 % with the device id as dedupe key, and not at 80 %', () => {
    const low = evaluateDeviceRules(ruleSet, deriveDeviceFacts(checkIn({ battery: 5 }))).find((e) => e.rule === 'low-battery');
    expect(low).toMatchObject({ holds: true, severity: 'warning', dedupeKey: 'trk-0042' });
    expect(holding(checkIn({ battery: 80 }))).not.toContain('low-battery');
  });

  it('asks for theft recovery when a locked device moves', () => {
    const theft = evaluateDeviceRules(ruleSet, deriveDeviceFacts(checkIn({ movement: true }, { movementLock: true }))).find((e) => e.rule === 'theft-suspected');
    expect(theft?.holds).toBe(true);
    expect(theft?.actions).toEqual([{ type: 'command', command: 'enable-theft-recovery', params: { reportIntervalSeconds: 60 } }]);
    expect(holding(checkIn({ movement: true }, { movementLock: false }))).not.toContain('theft-suspected');
  });

  it('reads nested facts through a path ($.mcu)', () => {
    expect(holding(checkIn({ uptimeMs: 48 * 86_400_000 }))).toContain('uptime-time-bomb');
    const newer = checkIn({ uptimeMs: 48 * 86_400_000 });
    newer.reported = { ...newer.reported, firmware: { mcu: '2.4.0', ble: '1.4.0' } };
    expect(holding(newer)).not.toContain('uptime-time-bomb');
  });

  it('treats a missing fact as no match rather than an error', () => {
    const facts = deriveDeviceFacts(checkIn({ battery: undefined }));
    expect(evaluateDeviceRules(ruleSet, facts).find((e) => e.rule === 'low-battery')?.holds).toBe(false);
  });

  it('leaves fleet rules to the aggregates and reports every device rule, holding or not', () => {
    expect(ruleSet.fleetRules.map((r) => r.name)).toEqual(['site-comms-failure', 'firmware-combination-failing']);
    expect(evaluateDeviceRules(ruleSet, deriveDeviceFacts(checkIn({}))).map((e) => e.rule)).toEqual(
      EXAMPLE_RULES.filter((r) => r.spec.scope === 'device').map((r) => r.metadata.name),
    );
  });

  it('the rules shipped in rules/ name only known facts and operators', () => {
    expect(shipped.length).toBeGreaterThan(0);
    expect(shipped.flatMap((rule) => checkRuleFacts(rule).map((i) => `${rule.metadata.name}: ${i.code} ${i.path}`))).toEqual([]);
  });

  it('agrees with json-rules-engine on the example and shipped rules for random check-ins', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          battery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
          uptimeMs: fc.option(fc.integer({ min: 0, max: 60 * 86_400_000 }), { nil: undefined }),
          temperatureC: fc.option(fc.integer({ min: -50, max: 90 }), { nil: undefined }),
          movement: fc.option(fc.boolean(), { nil: undefined }),
          lock: fc.boolean(),
          mcu: fc.constantFrom('2.2.0', '2.3.0', '2.3.1', '2.4.0'),
          profile: fc.constantFrom('locator', 'beacon'),
          source: fc.constantFrom('gps', 'ble', 'cell', 'unknown') as fc.Arbitrary<'gps' | 'ble' | 'cell' | 'unknown'>,
          previousBattery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
          status: fc.constantFrom('converged', 'drifted', 'upgrading', 'pending', 'offline') as fc.Arbitrary<'converged' | 'drifted' | 'upgrading' | 'pending' | 'offline'>,
          hash: fc.constantFrom('h1', 'h2'),
        }),
        async (r) => {
          const input = checkIn({ battery: r.battery, uptimeMs: r.uptimeMs, temperatureC: r.temperatureC, movement: r.movement }, { movementLock: r.lock });
          input.reported = { ...input.reported, firmware: { mcu: r.mcu }, configHash: r.hash };
          input.location = { source: r.source };
          input.previous = { at: now - 7200_000, ...(r.previousBattery === undefined ? {} : { battery: r.previousBattery }) };
          input.status = r.status;
          input.device = { ...input.device, profile: r.profile };
          const facts = deriveDeviceFacts(input);
          expect(evaluateDeviceRules(ruleSet, facts)).toEqual(await evaluateDeviceRulesReference(ruleSet, facts));
          expect(evaluateDeviceRules(shippedSet, facts)).toEqual(await evaluateDeviceRulesReference(shippedSet, facts));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ── Random rules over random facts: the precompiled predicate is json-rules-engine ──

const scalar = fc.constantFrom<JsonValue>(0, 5, 10, -1, 2.5, '5', '10abc', 'a', 'b', '', true, false, null);
const list = fc.array(scalar, { maxLength: 4 });
// Facts come from JSON: plain objects, never null-prototype ones.
const nested = fc.record({ mcu: scalar, a: fc.record({ b: scalar }, { noNullPrototype: true }), list }, { requiredKeys: [], noNullPrototype: true });
const factValue = fc.oneof(scalar, list, nested);
const FACT_NAMES = ['f1', 'f2', 'f3', 'obj', 'missing'] as const;
const PATHS = [undefined, '$.mcu', '$.a.b', '$.list', '$.list[0]', "$['mcu']"] as const;

const leaf: fc.Arbitrary<RuleCondition> = fc
  .record({
    fact: fc.constantFrom(...FACT_NAMES),
    operator: fc.constantFrom(...OPERATORS),
    path: fc.constantFrom(...PATHS),
    literal: fc.oneof(scalar, list),
    list,
    reference: fc.option(fc.record({ fact: fc.constantFrom(...FACT_NAMES), path: fc.constantFrom(...PATHS) }), { nil: undefined }),
  })
  .map(({ fact, operator, path, literal, list: values, reference }) => {
    // json-rules-engine throws (rejects the whole run) on in/notIn with a non-list: checkRuleFacts rejects such rules.
    const listOperator = operator === 'in' || operator === 'notIn';
    const value: RuleCondition extends infer _ ? JsonValue | { fact: string; path?: string } : never = listOperator
      ? values
      : reference
        ? { fact: reference.fact, ...(reference.path ? { path: reference.path } : {}) }
        : literal;
    return { fact, operator, value, ...(path ? { path } : {}) } as RuleCondition;
  });

const condition: fc.Arbitrary<RuleCondition> = fc.letrec<{ node: RuleCondition }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { maxLength: 3 }).map((all) => ({ all })),
    fc.array(tie('node'), { maxLength: 3 }).map((any) => ({ any })),
    tie('node').map((not) => ({ not })),
  ),
})).node;

describe('precompiled conditions', () => {
  it('hold exactly when json-rules-engine says they hold, for random rules and facts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(condition, { minLength: 1, maxLength: 4 }),
        fc.record({ f1: factValue, f2: factValue, f3: factValue, obj: nested }, { requiredKeys: [], noNullPrototype: true }),
        async (conditions, facts) => {
          const set = buildRuleSet(conditions.map((c, i) => alertRule(`r${i}`, { scope: 'device', severity: 'info', conditions: c })));
          expect(set.deviceRules.every((r) => r.inReference)).toBe(true);
          const compiled = evaluateDeviceRules(set, facts).map((e) => e.holds);
          const reference = (await evaluateDeviceRulesReference(set, facts)).map((e) => e.holds);
          expect(compiled).toEqual(reference);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never holds for a rule with an unknown operator, and keeps other rules evaluating', async () => {
    const set = buildRuleSet([
      alertRule('bad', { scope: 'device', severity: 'info', conditions: { all: [{ fact: 'battery', operator: 'below', value: 10 }] } }),
      EXAMPLE_RULES[0]!,
    ]);
    expect(set.issues.get('bad')?.map((i) => i.code)).toEqual(['unknown-operator']);
    const facts = { battery: 3, device: { id: 'd1' } };
    expect(evaluateDeviceRules(set, facts).map((e) => e.holds)).toEqual([false, true]);
    expect((await evaluateDeviceRulesReference(set, facts)).map((e) => e.holds)).toEqual([false, true]);
  });
});
