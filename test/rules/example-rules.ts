// Rules like the ones in rules/*.yaml, as the tests and the benchmark use them.
import type { AlertRule, AlertRuleSpec } from '../../engine/model/index.ts';

export function alertRule(name: string, spec: AlertRuleSpec): AlertRule {
  return { apiVersion: 'fleetform/v1', kind: 'AlertRule', metadata: { name }, spec };
}

export const EXAMPLE_RULES: AlertRule[] = [
  alertRule('low-battery', {
    scope: 'device',
    severity: 'warning',
    conditions: { all: [{ fact: 'battery', operator: 'lessThan', value: 10 }] },
    dedupeKey: '{{device.id}}',
    holdDownSeconds: 0,
  }),
  alertRule('battery-draining-fast', {
    scope: 'device',
    severity: 'info',
    conditions: { all: [{ fact: 'batteryDropPerDay', operator: 'greaterThan', value: 15 }] },
  }),
  alertRule('theft-suspected', {
    scope: 'device',
    severity: 'critical',
    conditions: { all: [{ fact: 'movedWhileLocked', operator: 'equal', value: true }] },
    actions: [{ type: 'command', command: 'enable-theft-recovery', params: { reportIntervalSeconds: 60 } }],
  }),
  alertRule('uptime-time-bomb', {
    scope: 'device',
    severity: 'warning',
    conditions: {
      all: [
        { fact: 'uptimeDays', operator: 'greaterThanInclusive', value: 45 },
        { fact: 'firmware', path: '$.mcu', operator: 'in', value: ['2.3.0', '2.3.1'] },
      ],
    },
  }),
  alertRule('overheating', {
    scope: 'device',
    severity: 'critical',
    conditions: { any: [{ fact: 'temperatureC', operator: 'greaterThan', value: 70 }, { fact: 'temperatureC', operator: 'lessThan', value: -30 }] },
  }),
  alertRule('location-degraded', {
    scope: 'device',
    severity: 'info',
    conditions: {
      all: [
        { fact: 'locationSource', operator: 'in', value: ['cell', 'unknown'] },
        { fact: 'labels', path: '$.tracking', operator: 'equal', value: 'required' },
      ],
    },
  }),
  alertRule('config-drift', {
    scope: 'device',
    severity: 'warning',
    conditions: { all: [{ fact: 'configDrift', operator: 'equal', value: true }, { fact: 'status', operator: 'notIn', value: ['upgrading', 'pending'] }] },
  }),
  alertRule('site-comms-failure', {
    scope: 'fleet',
    severity: 'critical',
    aggregate: { groupBy: 'site', measure: 'offline', threshold: 0.25, minDevices: 10 },
    dedupeKey: '{{site}}',
    holdDownSeconds: 900,
    actions: [{ type: 'webhook', url: 'https://ops.example.com/hooks/fleet' }],
  }),
  alertRule('firmware-combination-failing', {
    scope: 'fleet',
    severity: 'warning',
    aggregate: { groupBy: 'firmware', measure: 'failing', threshold: 0.1, minDevices: 20 },
  }),
];
