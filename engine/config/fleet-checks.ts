// Checks that need the rules module's fact catalogue and the firmware planner. They are part of every
// compile that decides whether a revision is good — `fleetform validate`, `fleetform diff` and the engine
// applying a merge — so that the engine never applies what validate rejects.
import { checkRuleFacts } from '../rules/index.ts';
import { FirmwarePlanner, compareVersions } from '../firmware/index.ts';
import type { FirmwareVersions, Issue } from '../model/index.ts';
import type { SnapshotCheck } from './checks.ts';

/** The rules module's static checks (unknown facts, operators, paths) as a snapshot check, with file:line:col. */
export const ruleFactsCheck: SnapshotCheck = ({ ofKind, issue }) =>
  ofKind('AlertRule').flatMap((rule) =>
    checkRuleFacts(rule.resource).map((found) => issue(rule, found.segments, found.code, found.message, found.severity)),
  );

/**
 * A rollout target that no declared known-good combination (other than the target itself) can reach, one
 * component at a time, is an error.
 * Starting points: the bundles below the target, nearest first (bundles strategy), or every component's oldest
 * release when that combination is good (constraints strategy). Uses the firmware planner.
 */
const MAX_STARTS = 16;

export const rolloutReachabilityCheck: SnapshotCheck = ({ ofKind, snapshot, issue }) => {
  const planner = new FirmwarePlanner(snapshot);
  const issues: Issue[] = [];
  for (const rollout of ofKind('Rollout')) {
    const spec = rollout.resource.spec;
    const hardware = new Set<string>();
    for (const name of spec.selector.profiles ?? []) {
      const profile = snapshot.profiles.get(name);
      if (profile) hardware.add(profile.spec.hardware);
    }
    if (hardware.size === 0) for (const name of snapshot.matrices.keys()) hardware.add(name);
    for (const name of hardware) {
      const model = planner.model(name);
      if (!model) continue; // reported as a dangling reference already
      if ('bundle' in spec.target && !model.bundle(spec.target.bundle)) continue; // another hardware's bundle, or unknown-bundle
      // Nearest first: the bundle just below the target is usually one step away, so the common case plans
      // one short path instead of walking the whole history. Bundles above the target (only a downgrade
      // leads back) are left out; a broken target is tried from at most MAX_STARTS combinations.
      const targetBundle = 'bundle' in spec.target ? model.bundle(spec.target.bundle) : null;
      const notPast = (state: FirmwareVersions): boolean =>
        !targetBundle || model.components.every((c) => compareVersions(state[c] ?? '0.0.0', targetBundle.components[c] ?? '0.0.0') <= 0);
      const starts: FirmwareVersions[] =
        model.strategy === 'bundles'
          ? [...model.bundles]
              .filter((b) => b.name !== targetBundle?.name && notPast(b.components))
              .sort((a, b) => compareVersions(b.version, a.version))
              .slice(0, MAX_STARTS)
              .map((b) => b.components)
          : [Object.fromEntries(model.components.map((c, i) => [c, model.versions[i]?.[0] ?? '']))].filter((state) => model.isGood(state));
      if (starts.length === 0) continue;
      // The target itself is trivially "reached"; what matters is that devices elsewhere can get there.
      let lastReason = '';
      let others = 0;
      const reachable = starts.some((from) => {
        const plan = planner.plan({ hardware: name, from, rollout: rollout.resource });
        if (plan.status === 'up-to-date') return false;
        // Devices already past the target (only a downgrade leads back) do not make it unreachable: pinning is legitimate.
        if (plan.status !== 'planned' && plan.reasons.length > 0 && plan.reasons.every((r) => r.code === 'downgrade-not-allowed')) return false;
        others++;
        lastReason = plan.reasons.map((reason) => reason.message).join('; ');
        return plan.status === 'planned';
      });
      if (!reachable && others > 0) {
        issues.push(
          issue(rollout, ['spec', 'target'], 'unreachable-target', `no known-good ${name} combination can reach the target one component at a time: ${lastReason}`),
        );
      }
    }
  }
  return issues;
};

/** Checks from other modules that run after the built-in ones wherever a revision is judged. */
export const VALIDATE_CHECKS: readonly SnapshotCheck[] = [ruleFactsCheck, rolloutReachabilityCheck];

