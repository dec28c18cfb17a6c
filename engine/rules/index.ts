// Alert rules: per-device facts and rules (json-rules-engine semantics, precompiled),
// fleet-level aggregates and offline cohorts, the alert lifecycle, webhook signing.
export { deriveDeviceFacts, KNOWN_DEVICE_FACTS, DEVICE_FACT_DESCRIPTIONS, MIN_BATTERY_RATE_WINDOW_MS, MS_PER_DAY } from './facts.ts';
export type { DeviceFacts, DeviceFactName, DeviceFactsInput, PreviousCheckIn } from './facts.ts';
export { checkRuleFacts, RULE_ISSUE_CODES, FLEET_TEMPLATE_NAMES } from './check.ts';
export type { RuleIssue, RuleIssueCode } from './check.ts';
export { compileCondition, parseJsonPathLite, OPERATORS, isKnownOperator } from './conditions.ts';
export type { Facts, Predicate, OperatorName, PathSegment } from './conditions.ts';
export { compileTemplate, templateReferences } from './template.ts';
export type { RenderTemplate } from './template.ts';
export { buildRuleSet, evaluateDeviceRules, evaluateDeviceRulesReference, DEFAULT_DEVICE_DEDUPE_KEY } from './ruleset.ts';
export type { RuleSet, RuleEvaluation, CompiledDeviceRule, FleetRule } from './ruleset.ts';
export {
  isOffline,
  offlineDeadline,
  evaluateFleetAggregates,
  groupOfflineCohorts,
  firmwareKey,
  groupKey,
  FAILING_STATUSES,
  UPTIME_OVERFLOWS,
  DEFAULT_OFFLINE_AFTER_MISSED,
} from './fleet.ts';
export type { FleetDevice, FleetAggregateResult, FleetAggregateOptions, OfflineCohort, CohortDimension } from './fleet.ts';
export { nextAlertState, acknowledgeAlert, isActive, AlertLifecycleError } from './lifecycle.ts';
export type { AlertLifecycleState, AlertStatus, LifecycleAction, AlertTransition } from './lifecycle.ts';
export {
  signWebhook,
  verifyWebhookSignature,
  nextDeliveryAttemptAt,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  DEFAULT_DELIVERY_BACKOFF,
} from './webhook.ts';
export type { WebhookSignature, SignatureVerification, DeliveryBackoff } from './webhook.ts';
