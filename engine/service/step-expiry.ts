// Step expiry: ends firmware steps never reported back by their deadline, so a device gone dark does not
// hold its throttle slots for ever. Run periodically by the leader (engine/service/timers.ts).
import type { Logger } from 'pino';
import type { FleetStore } from '../store/index.ts';
import { heldStatus } from '../reconcile/index.ts';
import { applyFirmwareEvent, isStepTimedOut, rolloutCampaign, waveOfDevice } from '../firmware/index.ts';
import type { ActiveRevision } from './revisions.ts';

export interface StepExpiryOptions {
  store: FleetStore;
  /** The applied revision, if any. */
  revision(): ActiveRevision | null;
  log: Logger;
}

/**
 * Ends steps never reported back by their deadline (the rollout's stepTimeoutSeconds), so a device gone dark
 * does not hold its throttle slots for ever: the failure policy advances as if the device had
 * checked in late, the slots are released, the wave counts a failure. Run by the leader (the git follower).
 * Returns how many steps it ended.
 */
export async function expireSteps(options: StepExpiryOptions, now: Date): Promise<number> {
  const active = options.revision();
  if (!active) return 0;
  let expired = 0;
  const declared = new Map(active.snapshot.rollouts.map((rollout) => [rollout.metadata.name, rollout]));
  // A rollout removed from git may still have steps out: they end under the default timeout and
  // failure policy (as a late check-in would), or their slots would be held for ever.
  const names = new Set([...declared.keys(), ...(await options.store.rollouts.stepsInFlight()).keys()]);
  for (const name of [...names].sort()) {
    const rollout = declared.get(name);
    // Steps in flight are few (bounded by the throttles); the deadline rule is the firmware module's.
    for (const device of await options.store.rollouts.findExpiredSteps(name, now.getTime())) {
      const step = device.firmwareState.step;
      if (!step || !isStepTimedOut(step, rollout?.spec.throttle, now.getTime())) continue;
      const transition = applyFirmwareEvent(device.firmwareState, { type: 'timed-out' }, rollout?.spec.failurePolicy, now.getTime());
      // Held (quarantined, retrying, cooling down) as a check-in would show it; otherwise its firmware is off target.
      const status = heldStatus(transition.state.phase) ?? 'drifted';
      const wave = rollout ? (waveOfDevice(rollout, device.id)?.name ?? null) : null;
      const stepEvent = { rollout: name, wave, stepId: step.id, component: step.component, fromVersion: step.from, toVersion: step.to, cell: step.cell };
      const events = [{ type: 'step-timed-out', ...stepEvent, error: 'step timed out' }];
      if (transition.quarantined) events.push({ type: 'quarantined', ...stepEvent, error: 'step timed out' });
      const ended = await options.store.rollouts.expireStep({
        deviceId: device.id,
        stepId: step.id,
        rollout: name,
        cell: step.cell,
        wave,
        campaign: rollout ? rolloutCampaign(rollout) : null,
        firmwareState: transition.state,
        status,
        events,
        at: now,
      });
      if (ended) expired += 1;
    }
  }
  if (expired > 0) options.log.info({ expired }, 'firmware steps timed out');
  return expired;
}
