// The firmware core as fleet impact sees it: which rollout governs a device, where its reported firmware
// leads, and which wave it falls in — the same functions the engine answers check-ins with.
import type { Rollout, Snapshot } from '../model/index.ts';
import { FirmwarePlanner, activeWave, waveBucket, waveForBucket } from '../firmware/index.ts';
import { rolloutForDevice } from '../reconcile/index.ts';
import type { FirmwarePort, PlanOutlook } from './impact.ts';

export function firmwarePort(): FirmwarePort {
  // One planner per snapshot: its plan cache is what makes a million devices cheap.
  const planners = new WeakMap<Snapshot, FirmwarePlanner>();
  const plannerFor = (snapshot: Snapshot): FirmwarePlanner => {
    let planner = planners.get(snapshot);
    if (!planner) {
      planner = new FirmwarePlanner(snapshot);
      planners.set(snapshot, planner);
    }
    return planner;
  };
  return {
    rolloutFor: (snapshot, device) => rolloutForDevice(snapshot, device),
    plan(snapshot, hardware, rollout, reported): PlanOutlook {
      const plan = plannerFor(snapshot).plan({ hardware, from: reported, rollout });
      return {
        status: plan.status === 'blocked' ? 'blocked' : plan.steps.length > 0 ? 'upgrade' : 'up-to-date',
        offMatrix: plan.offMatrix,
        steps: plan.steps.map((step) => ({ component: step.component, from: step.from, to: step.to, size: step.bytes })),
      };
    },
    bucket: (rolloutName, deviceId) => waveBucket(rolloutName, deviceId),
    placement(rollout: Rollout, bucket: number) {
      const open = activeWave(rollout);
      return { wave: waveForBucket(rollout.spec.waves, bucket)?.name ?? null, eligible: open !== null && bucket < open.percent };
    },
  };
}
