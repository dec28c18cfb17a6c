// The simulated fleet: virtual devices (a pure state machine), the fleet plan from a snapshot, the
// driver that runs them against an engine over HTTP, and the audit of what the engine told them.
export { seededRandom, deviceRandom } from './random.ts';
export { planFleet, siteTowers, oldestKnownGood, convergenceTarget, firmwareLabel, type DevicePlan, type FleetPlan, type FleetPlanOptions, type SimulatedTower } from './fleet.ts';
export { VirtualDevice, DEFAULT_BEHAVIOUR, distanceMetres, requestTower, type DeviceBehaviour, type AnswerOutcome, type FirmwareChange } from './device.ts';
export { StepAuditor, TowerThrottleMonitor, type StepViolation, type ThrottleBreach, type HeldDownload } from './audit.ts';
export { EngineClient, type JsonResponse } from './http.ts';
export {
  runSimulation,
  waitForEngine,
  parseDeviceStatusMetrics,
  SimulationError,
  type SimulationOptions,
  type SimulationProgress,
  type SimulationReport,
  type DeviceOutcome,
  type LocalStatus,
} from './driver.ts';
export { formatProgressLine, formatProgressBar, formatReport } from './summary.ts';
export { openRolloutsForDemo, DEMO_MAX_FAILURE_RATIO, type DemoRolloutChange } from './demo-fleet.ts';
