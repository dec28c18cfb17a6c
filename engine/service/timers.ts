// The engine's periodic jobs: the rollout runtime refresh (every engine), and per sweep period the
// alert cache refresh (followers) or the offline sweep and step expiry (the leader).
import type { Logger } from 'pino';

/** What the periodic jobs run; each returns a promise whose failure is logged, never thrown. */
export interface PeriodicJobs {
  refreshRolloutRuntimes(): Promise<void>;
  /** Whether this engine leads (follows git): only the leader sweeps. */
  isLeader(): boolean;
  refreshActiveAlerts(): Promise<void>;
  sweepAlerts(now: Date): Promise<unknown>;
  expireSteps(now: Date): Promise<number>;
  now(): Date;
  log: Logger;
  /** Offline sweep period (default 30 s; 0 disables). */
  offlineSweepMs?: number;
}

/** Starts the timers (unref'd: they never keep the process alive); the caller clears them on close. */
export function startPeriodicJobs(jobs: PeriodicJobs): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  const { log } = jobs;
  const refresh = setInterval(() => void jobs.refreshRolloutRuntimes().catch(() => undefined), 2000);
  timers.push(refresh);
  const sweepMs = jobs.offlineSweepMs ?? 30_000;
  if (sweepMs > 0) {
    timers.push(
      setInterval(() => {
        // Every engine refreshes its alert cache; one (the leader) sweeps: offline index, fleet rules, hold-downs.
        if (!jobs.isLeader()) {
          jobs.refreshActiveAlerts().catch((error: unknown) => log.warn({ err: error }, 'alert refresh failed'));
          return;
        }
        jobs.sweepAlerts(jobs.now()).catch((error: unknown) => log.warn({ err: error }, 'offline sweep failed'));
        jobs.expireSteps(jobs.now()).catch((error: unknown) => log.warn({ err: error }, 'step timeout sweep failed'));
      }, sweepMs),
    );
  }
  for (const timer of timers) timer.unref();
  return timers;
}
