// The operator API for rollouts: each rollout of the applied revision with its waves, pause state and
// slots in flight; in detail, per-wave membership and statuses among the devices the token may see.
import type { Rollout } from '../model/index.ts';
import type { BearerToken } from '../http/index.ts';
import type { RolloutRuntime } from '../reconcile/index.ts';
import { rolloutForDevice } from '../reconcile/index.ts';
import { deviceWave } from '../firmware/index.ts';
import type { Principal } from './authorization.ts';
import { NotFoundError } from './errors.ts';
import { requireRevision, type OperatorContext } from './operator-context.ts';

export class OperatorRollouts {
  constructor(
    private readonly context: OperatorContext,
    /** The rollout's wave counts and automatic pause, as the check-in path sees them. */
    private readonly rolloutRuntime: (rollout: Rollout) => RolloutRuntime,
  ) {}

  private async rolloutView(name: string, detailed: boolean, principal?: Principal): Promise<object> {
    const { snapshot } = requireRevision(this.context);
    const rollout = snapshot.rollouts.find((r) => r.metadata.name === name);
    if (!rollout) throw new NotFoundError('rollout', name);
    const runtime = this.rolloutRuntime(rollout);
    const inFlight = await this.context.store.slots.inFlightCounts(name);
    const waveIndex = rollout.spec.waves.findIndex((w) => w.name === rollout.spec.activeWave);
    const pausedReason = rollout.spec.paused ? 'paused in git' : runtime.autoPausedReason;
    const view: Record<string, unknown> = {
      name,
      target: rollout.spec.target,
      activeWave: rollout.spec.activeWave,
      paused: pausedReason !== null,
      pausedReason,
      inFlight: inFlight.total,
      throttle: rollout.spec.throttle ?? {},
      waves: rollout.spec.waves.map((wave, index) => {
        const progress = runtime.waves.find((w) => w.wave === wave.name);
        return {
          name: wave.name,
          percent: wave.percent,
          open: index <= waveIndex,
          succeeded: progress?.succeeded ?? 0,
          failed: progress?.failed ?? 0,
          maxFailureRatio: wave.maxFailureRatio ?? null,
        };
      }),
    };
    if (detailed) {
      // Per wave: members by stable hash bucket among the devices this rollout governs (within the token's tenants).
      const members = await this.context.store.devices.membership(principal?.tenants ?? null);
      const perWave = new Map<string, { devices: number; inFlight: number; byStatus: Record<string, number> }>();
      const byStatus: Record<string, number> = {};
      for (const device of members) {
        const governing = rolloutForDevice(snapshot, { id: device.id, profile: device.profile, site: device.site, labels: device.labels });
        if (governing?.metadata.name !== name) continue;
        byStatus[device.status] = (byStatus[device.status] ?? 0) + 1;
        const wave = deviceWave(rollout, device.id);
        if (!wave) continue;
        const entry = perWave.get(wave.name) ?? { devices: 0, inFlight: 0, byStatus: {} };
        entry.devices += 1;
        if (device.inFlightRollout === name) entry.inFlight += 1;
        entry.byStatus[device.status] = (entry.byStatus[device.status] ?? 0) + 1;
        perWave.set(wave.name, entry);
      }
      view.waves = (view.waves as { name: string; open: boolean }[]).map((wave) => {
        const entry = perWave.get(wave.name);
        return { ...wave, devices: entry?.devices ?? 0, eligible: wave.open ? (entry?.devices ?? 0) : 0, inFlight: entry?.inFlight ?? 0, byStatus: entry?.byStatus ?? {} };
      });
      view.devices = byStatus;
      view.inFlightPerCell = Object.fromEntries(inFlight.perCell);
    }
    return view;
  }

  async listRollouts(token: BearerToken): Promise<object> {
    await this.context.authorize(token, 'viewer');
    const active = this.context.revision();
    if (!active) return { revision: null, rollouts: [] };
    const rollouts = await Promise.all(active.snapshot.rollouts.map((r) => this.rolloutView(r.metadata.name, false)));
    return { revision: active.sha, rollouts };
  }

  async getRollout(token: BearerToken, name: string): Promise<object> {
    const principal = await this.context.authorize(token, 'viewer');
    return this.rolloutView(name, true, principal);
  }
}
