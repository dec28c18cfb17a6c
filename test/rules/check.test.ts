import { describe, expect, it } from 'vitest';
import { checkRuleFacts } from '../../engine/rules/index.ts';
import type { RuleCondition } from '../../engine/model/index.ts';
import { alertRule, EXAMPLE_RULES } from './example-rules.ts';

function deviceRule(conditions: RuleCondition, dedupeKey?: string) {
  return alertRule('r', { scope: 'device', severity: 'info', conditions, ...(dedupeKey ? { dedupeKey } : {}) });
}

describe('checkRuleFacts', () => {
  it('finds nothing wrong with the example rules', () => {
    expect(EXAMPLE_RULES.flatMap(checkRuleFacts)).toEqual([]);
  });

  it('points at an unknown fact by its JSON path, with a hint for a typo', () => {
    const issues = checkRuleFacts(
      deviceRule({ all: [{ fact: 'battery', operator: 'lessThan', value: 10 }, { fact: 'batery', operator: 'lessThan', value: 10 }] }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'unknown-fact', severity: 'error', path: '/spec/conditions/all/1/fact', segments: ['spec', 'conditions', 'all', 1, 'fact'] });
    expect(issues[0]!.message).toContain("did you mean 'battery'");
  });

  it('reports unknown operators and facts inside not / fact-valued operands', () => {
    const issues = checkRuleFacts(
      deviceRule({ any: [{ not: { fact: 'battery', operator: 'below', value: 10 } }, { fact: 'battery', operator: 'lessThan', value: { fact: 'threshold' } }] }),
    );
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['unknown-operator', '/spec/conditions/any/0/not/operator'],
      ['unknown-fact', '/spec/conditions/any/1/value/fact'],
    ]);
  });

  it('rejects paths richer than plain steps and operands json-rules-engine would choke on', () => {
    const issues = checkRuleFacts(
      deviceRule({
        all: [
          { fact: 'firmware', path: '$..mcu', operator: 'equal', value: '2.3.1' },
          { fact: 'status', operator: 'in', value: 'offline' },
          { fact: 'battery', path: '$.level', operator: 'lessThan', value: 10 },
        ],
      }),
    );
    expect(issues.map((i) => [i.code, i.severity, i.path])).toEqual([
      ['unsupported-path', 'error', '/spec/conditions/all/0/path'],
      ['invalid-operand', 'error', '/spec/conditions/all/1/value'],
      ['path-on-scalar', 'warning', '/spec/conditions/all/2/path'],
    ]);
  });

  it('checks the names a dedupe key template uses', () => {
    expect(checkRuleFacts(deviceRule({ all: [] }, '{{device.id}}/{{rule}}')).map((i) => i.code)).toEqual(['empty-condition']);
    expect(checkRuleFacts(deviceRule({ all: [{ fact: 'battery', operator: 'lessThan', value: 5 }] }, '{{devcie.id}}')).map((i) => [i.code, i.path])).toEqual([
      ['unknown-fact', '/spec/dedupeKey'],
    ]);
  });

  it('requires conditions on device rules and an aggregate on fleet rules', () => {
    expect(checkRuleFacts(alertRule('d', { scope: 'device', severity: 'info' })).map((i) => i.code)).toEqual(['missing-conditions']);
    expect(checkRuleFacts(alertRule('f', { scope: 'fleet', severity: 'info' })).map((i) => i.code)).toEqual(['missing-conditions']);
  });
});

describe('checkRuleFacts on fleet rules', () => {
  it('refuses a dedupe key naming another dimension than the rule groups by, which would merge every group into one alert', () => {
    const bySite = (dedupeKey: string) =>
      alertRule('f', { scope: 'fleet', severity: 'critical', aggregate: { groupBy: 'site', measure: 'offline', threshold: 0.3 }, dedupeKey });
    expect(checkRuleFacts(bySite('{{site}}'))).toEqual([]);
    expect(checkRuleFacts(bySite('{{rule}}/{{group}}'))).toEqual([]);
    expect(checkRuleFacts(bySite('{{cell}}')).map((i) => [i.code, i.path])).toEqual([['unknown-fact', '/spec/dedupeKey']]);
  });
});
