// Firmware: which combinations are known-good, the fewest-step path of a device to its target, and the
// rollout policy (waves, throttles, timeouts, maintenance windows, failure policy, automatic pause).
// Pure: no clock, env, files or network; `now` is passed in as epoch milliseconds.
export {
  CompatibilityModel,
  compatibilityModel,
  compareVersions,
  describeVersions,
  satisfiesRange,
  type CompatibilityProblem,
  type StateAssessment,
  type FirmwareNeighbour,
} from './compatibility.ts';
export {
  planFirmwarePath,
  planWithModel,
  latestTarget,
  targetKey,
  PlanCache,
  FirmwarePlanner,
  type FirmwareTarget,
  type FirmwarePlan,
  type PlanStatus,
  type PlannedStep,
  type BlockReason,
  type PlanOptions,
  type PlanRequest,
  type PlanFirmwarePathInput,
} from './plan.ts';
export {
  waveBucket,
  rolloutCampaign,
  waveForBucket,
  activeWave,
  deviceWave,
  isDeviceEligible,
  waveOfDevice,
  throttleAllows,
  stepDeadline,
  DEFAULT_STEP_TIMEOUT_SECONDS,
  isStepTimedOut,
  wavePauseDecision,
  shouldPauseRollout,
  type ThrottleDecision,
  type PauseDecision,
} from './rollout.ts';
export { maintenanceWindowOpen, localTime, isValidTimezone } from './window.ts';
export {
  applyFirmwareEvent,
  advanceFirmwareState,
  stepOutcome,
  DEFAULT_FAILURE_POLICY,
  type FirmwarePolicyEvent,
  type FirmwareTransition,
} from './failure-policy.ts';
