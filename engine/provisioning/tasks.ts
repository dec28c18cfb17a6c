// The per-device task graph of a provisioning job, and the policies around it: retries with
// exponential backoff up to a limit, and a token-bucket rate limit for tasks that call outside
// systems. Pure: callers pass `now` (ms) and a random source.

export const PROVISIONING_TASK_NAMES = ['validate', 'register', 'credentials', 'site', 'activate', 'ready'] as const;
export type ProvisioningTaskName = (typeof PROVISIONING_TASK_NAMES)[number];

export interface RetryPolicy {
  /** Attempts before the task (and its row) fails for good. */
  maxAttempts: number;
  /** Delay before the second attempt; doubled each time after. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Calls per second allowed to an outside system, with a burst. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface TaskSpec {
  name: ProvisioningTaskName;
  /** Tasks that must be done (or skipped) first. */
  dependsOn: readonly ProvisioningTaskName[];
  retry: RetryPolicy;
  description: string;
}

const DB_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** In dependency order. `activate`'s retry policy and rate limit come from the carrier plugged in. */
export const PROVISIONING_TASKS: readonly TaskSpec[] = [
  { name: 'validate', dependsOn: [], retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 }, description: 'row checked against the applied revision' },
  { name: 'register', dependsOn: ['validate'], retry: DB_RETRY, description: 'device registered (profile from hardware, labels, flashed firmware)' },
  { name: 'credentials', dependsOn: ['register'], retry: DB_RETRY, description: 'device token issued; only its hash stored' },
  { name: 'site', dependsOn: ['register'], retry: DB_RETRY, description: "device moved to its shipment's site" },
  { name: 'activate', dependsOn: ['register'], retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 }, description: 'SIM activated with the carrier' },
  { name: 'ready', dependsOn: ['credentials', 'site', 'activate'], retry: DB_RETRY, description: 'device marked ready to ship' },
];

export type TaskStatus = 'pending' | 'retrying' | 'done' | 'skipped' | 'failed';

export interface TaskState {
  status: TaskStatus;
  attempts: number;
  error: string | null;
  /** When a retrying task may run again, ms since epoch. */
  nextAttemptAt: number | null;
}

export type TaskStates = Record<ProvisioningTaskName, TaskState>;

export type RowOutcome = 'pending' | 'done' | 'failed';

const pending = (): TaskState => ({ status: 'pending', attempts: 0, error: null, nextAttemptAt: null });

/** A validated row's tasks before any ran: activation is skipped without a SIM or a carrier. */
export function initialTaskStates(options: { hasSim: boolean; carrier: boolean }): TaskStates {
  return {
    validate: { status: 'done', attempts: 1, error: null, nextAttemptAt: null },
    register: pending(),
    credentials: pending(),
    site: pending(),
    activate: options.hasSim && options.carrier ? pending() : { status: 'skipped', attempts: 0, error: null, nextAttemptAt: null },
    ready: pending(),
  };
}

function settled(state: TaskState): boolean {
  return state.status === 'done' || state.status === 'skipped';
}

/** Tasks whose dependencies are settled and which are due now, in dependency order. */
export function runnableTasks(states: TaskStates, now: number, specs: readonly TaskSpec[] = PROVISIONING_TASKS): ProvisioningTaskName[] {
  if (rowOutcome(states) !== 'pending') return [];
  return specs
    .filter((spec) => {
      const state = states[spec.name];
      if (state.status !== 'pending' && state.status !== 'retrying') return false;
      if (state.nextAttemptAt !== null && state.nextAttemptAt > now) return false;
      return spec.dependsOn.every((dep) => settled(states[dep]));
    })
    .map((spec) => spec.name);
}

/** The task may run now: its dependencies are settled, it is not settled itself, and it is due. */
export function isRunnable(states: TaskStates, task: ProvisioningTaskName, now: number, specs: readonly TaskSpec[] = PROVISIONING_TASKS): boolean {
  return runnableTasks(states, now, specs).includes(task);
}

/** Failed as soon as one task failed for good; done when every task is settled. */
export function rowOutcome(states: TaskStates): RowOutcome {
  const all = Object.values(states);
  if (all.some((s) => s.status === 'failed')) return 'failed';
  return all.every(settled) ? 'done' : 'pending';
}

/** The first failed task and its error. */
export function rowFailure(states: TaskStates): { task: ProvisioningTaskName; error: string } | null {
  for (const name of PROVISIONING_TASK_NAMES) {
    const state = states[name];
    if (state.status === 'failed') return { task: name, error: state.error ?? 'failed' };
  }
  return null;
}

/** Earliest time a retrying task of the row is due, or null. */
export function nextDueAt(states: TaskStates): number | null {
  let due: number | null = null;
  for (const state of Object.values(states)) {
    if (state.status === 'retrying' && state.nextAttemptAt !== null) due = due === null ? state.nextAttemptAt : Math.min(due, state.nextAttemptAt);
  }
  return due;
}

/** Exponential backoff with jitter in [50%, 100%] of the step, so retries of a batch spread out. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step * (0.5 + random() / 2));
}

export function succeeded(state: TaskState): TaskState {
  return { status: 'done', attempts: state.attempts + 1, error: null, nextAttemptAt: null };
}

/** After a failed attempt: retry later while attempts remain (and the failure is not permanent), else fail. */
export function failedAttempt(
  state: TaskState,
  policy: RetryPolicy,
  failure: { error: string; permanent: boolean },
  now: number,
  random: () => number,
): TaskState {
  const attempts = state.attempts + 1;
  if (failure.permanent || attempts >= policy.maxAttempts) {
    const error = failure.permanent ? failure.error : `${failure.error} (gave up after ${attempts} attempts)`;
    return { status: 'failed', attempts, error, nextAttemptAt: null };
  }
  return { status: 'retrying', attempts, error: failure.error, nextAttemptAt: now + backoffDelayMs(attempts, policy, random) };
}

/** Failed tasks set back to pending with their attempts cleared (retry-failed). */
export function resetFailed(states: TaskStates): TaskStates {
  const next = { ...states };
  for (const name of PROVISIONING_TASK_NAMES) {
    if (next[name].status === 'failed' && name !== 'validate') next[name] = { status: 'pending', attempts: 0, error: null, nextAttemptAt: null };
  }
  return next;
}

/**
 * A token bucket: `take` grants up to `wanted` calls now and says how long to wait for the rest.
 * State is explicit so a worker can keep one per task.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed / 1000) * this.limit.perSecond);
    this.updatedAt = now;
  }

  /** Grants up to `wanted` tokens (whole ones) now. */
  take(wanted: number, now: number): number {
    this.refill(now);
    const granted = Math.max(0, Math.min(wanted, Math.floor(this.tokens)));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds until `wanted` tokens (at most one burst) are available. */
  waitMs(wanted: number, now: number): number {
    this.refill(now);
    const missing = Math.min(wanted, this.limit.burst) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.limit.perSecond) * 1000);
  }
}

/** Rows by outcome and task → status → rows, over some rows' task states. */
export interface TaskSummary {
  rows: Record<RowOutcome, number>;
  tasks: Record<string, Record<string, number>>;
}

export function summarizeTaskStates(rows: readonly TaskStates[]): TaskSummary {
  const summary: TaskSummary = { rows: { pending: 0, done: 0, failed: 0 }, tasks: {} };
  for (const states of rows) {
    summary.rows[rowOutcome(states)]++;
    for (const name of PROVISIONING_TASK_NAMES) {
      const status = states[name].status;
      const counts = (summary.tasks[name] ??= {});
      counts[status] = (counts[status] ?? 0) + 1;
    }
  }
  return summary;
}
