// The periodic alert sweep (the leader runs it; tests call it): marks devices past their offline deadline,
// runs the device rules for those that went silent, resolves expired hold-downs and alerts of rules gone
// from the revision, and evaluates the fleet aggregates into one alert per group.
import type { AlertAction, Severity, Telemetry } from '../model/index.ts';
import { deriveDeviceFacts, evaluateDeviceRules, evaluateFleetAggregates, nextAlertState, type DeviceFacts } from '../rules/index.ts';
import type { AlertStore, IndexedDevice } from '../store/alerts.ts';
import { cacheKey, cached, type AlertLifecycle, type CachedAlert, type Change } from './alert-lifecycle.ts';
import { alertRuleSet, type DeviceRuleEvaluator } from './alert-rules.ts';
import type { ActiveRevision } from './revisions.ts';

/** The facts a device rule sees when the sweep finds the device silent: identity, last known state, `offline`. */
function offlineFacts(device: IndexedDevice, now: number): DeviceFacts {
  return deriveDeviceFacts({
    device: { id: device.id, profile: device.profile, site: device.site, labels: device.labels },
    telemetry: { time: new Date(now).toISOString() } as Telemetry,
    reported: { firmware: device.firmware, configHash: null },
    desiredConfigHash: null,
    previous: device.lastCheckInAt ? { at: device.lastCheckInAt.getTime() } : null,
    location: { source: 'unknown' },
    status: 'offline',
    now,
  });
}

export interface AlertSweepOptions {
  alerts: AlertStore;
  lifecycle: AlertLifecycle;
  evaluator: DeviceRuleEvaluator;
  revision(): ActiveRevision | null;
  now(): Date;
}

export class AlertSweep {
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: AlertSweepOptions) {}

  /** Resolves once a sweep under way has ended (shutdown). */
  async settle(): Promise<void> {
    await this.sweeping?.catch(() => undefined);
  }

  /**
   * One sweep at `now` (the engine runs it on one process, the leader; tests call it directly):
   * marks devices past their offline deadline (an index range, not a telemetry scan) and runs the
   * device rules that hold for a silent device; resolves alerts whose hold-down ran out while their
   * device stayed quiet, and alerts of rules that left the revision; evaluates the fleet
   * aggregates into one alert per group.
   */
  async sweep(now: Date = this.options.now()): Promise<{ markedOffline: number; fleetResults: number }> {
    while (this.sweeping) await this.sweeping.catch(() => undefined);
    let outcome = { markedOffline: 0, fleetResults: 0 };
    const run = (async () => {
      outcome = await this.sweepOnce(now);
    })();
    this.sweeping = run;
    try {
      await run;
    } finally {
      this.sweeping = null;
    }
    return outcome;
  }

  private async sweepOnce(now: Date): Promise<{ markedOffline: number; fleetResults: number }> {
    const at = now.getTime();
    const active = this.options.revision();
    const { alerts, lifecycle, evaluator } = this.options;
    const marked = await alerts.markOffline(now);
    if (!active) return { markedOffline: marked.length, fleetResults: 0 };
    const ruleSet = alertRuleSet(active);

    // Device rules for devices that just went silent (e.g. status == offline).
    if (ruleSet.deviceRules.length > 0) {
      for (const device of marked) {
        const facts = offlineFacts(device, at);
        const evaluations = evaluateDeviceRules(ruleSet, facts);
        if (evaluations.some((e) => e.holds)) evaluator.enqueue({ active, device, facts, evaluations, now: at, opensOnly: true });
      }
    }
    await evaluator.idle();

    // Hold-downs that ran out while the device stayed quiet, and rules no longer in the revision.
    const rules = new Map<string, { severity: Severity; holdDownSeconds: number; actions: readonly AlertAction[] }>();
    for (const rule of ruleSet.deviceRules) rules.set(rule.name, rule);
    for (const rule of ruleSet.fleetRules) rules.set(rule.name, rule);
    const stale: Change[] = [];
    for (const row of await alerts.alertsInHoldDown()) {
      const rule = rules.get(row.rule);
      const holdDownSeconds = rule?.holdDownSeconds ?? row.holdDownSeconds;
      const transition = nextAlertState(cached(row), false, at, holdDownSeconds);
      if (transition.action === 'resolve') {
        stale.push({ evaluation: { rule: row.rule, severity: row.severity, dedupeKey: row.dedupeKey, holdDownSeconds, actions: rule?.actions ?? [] }, action: 'resolve', current: cached(row), next: transition.next });
      }
    }
    const activeRows = await alerts.activeAlerts();
    for (const row of activeRows) {
      if (rules.has(row.rule) || stale.some((c) => c.current?.id === row.id)) continue;
      stale.push({ evaluation: { rule: row.rule, severity: row.severity, dedupeKey: row.dedupeKey, holdDownSeconds: 0, actions: [] }, action: 'resolve', current: cached(row), next: { ...cached(row), status: 'resolved', resolvedAt: at, clearSince: at } });
    }
    if (stale.length > 0) await lifecycle.writeChanges(active, stale, at);

    // Fleet aggregates: one alert per (rule, group).
    let fleetResults = 0;
    if (ruleSet.fleetRules.length > 0) {
      const devices = await alerts.fleetIndex();
      // No check-in policy: the stored deadline (marked just above) is the truth about offline.
      const results = evaluateFleetAggregates(ruleSet, devices, at);
      fleetResults = results.length;
      const fleetActive = new Map<string, CachedAlert>();
      for (const row of activeRows) if (row.scope === 'fleet' && rules.has(row.rule)) fleetActive.set(cacheKey(row.rule, row.dedupeKey), cached(row));
      const changes: Change[] = [];
      const seen = new Set<string>();
      const byKey = new Map<string, (typeof results)[number]>();
      for (const result of results) {
        const key = cacheKey(result.rule, result.dedupeKey);
        // Two groups rendering one key: the key holds if any of them holds.
        const earlier = byKey.get(key);
        if (!earlier || (!earlier.holds && result.holds)) byKey.set(key, result);
      }
      for (const [key, result] of byKey) {
        seen.add(key);
        const current = fleetActive.get(key) ?? null;
        const transition = nextAlertState(current, result.holds, at, result.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        const change: Change = { evaluation: result, action: transition.action, current, next: transition.next };
        if (transition.action === 'open') {
          const site = result.groupBy === 'site' ? result.group : null;
          change.description = {
            scope: 'fleet',
            tenant: site ? (active.snapshot.sites.get(site)?.spec.tenant ?? null) : null,
            site,
            deviceId: null,
            summary: result.summary,
            details: {
              groupBy: result.groupBy,
              group: result.group,
              measure: result.measure,
              total: result.total,
              affected: result.affected,
              share: result.share,
              threshold: result.threshold,
              minDevices: result.minDevices,
              sampleDeviceIds: result.sampleDeviceIds,
            },
          };
        }
        changes.push(change);
      }
      // An active fleet alert whose group no longer exists: its condition no longer holds.
      for (const [key, current] of fleetActive) {
        if (seen.has(key)) continue;
        const rule = rules.get(current.rule);
        const transition = nextAlertState(current, false, at, rule?.holdDownSeconds ?? current.holdDownSeconds);
        if (transition.action === 'none' || transition.action === 'keep') continue;
        changes.push({
          evaluation: { rule: current.rule, severity: rule?.severity ?? 'warning', dedupeKey: current.dedupeKey, holdDownSeconds: rule?.holdDownSeconds ?? 0, actions: rule?.actions ?? [] },
          action: transition.action,
          current,
          next: transition.next,
        });
      }
      if (changes.length > 0) await lifecycle.writeChanges(active, changes, at);
    }
    await lifecycle.refresh();
    return { markedOffline: marked.length, fleetResults };
  }
}
