// Alert lifecycle, pure: open → acknowledged → resolved, one alert per (rule, dedupe key)
// at a time. Resolution waits until the condition stayed false for the hold-down, so a
// flapping condition does not open and close alerts on every check-in.

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

/** What the store keeps of the current alert for one (rule, dedupe key). */
export interface AlertLifecycleState {
  status: AlertStatus;
  /** Epoch ms. */
  openedAt: number;
  acknowledgedAt: number | null;
  resolvedAt: number | null;
  /** Epoch ms since which the condition has been false; null while it holds. */
  clearSince: number | null;
}

/**
 * - `open`: create a new alert (a resolved one before it stays as history) and run its actions.
 * - `keep`: nothing changes.
 * - `start-hold-down`: the condition went false; resolution is pending.
 * - `cancel-hold-down`: the condition holds again before the hold-down ended.
 * - `resolve`: the condition stayed false for the hold-down.
 * - `none`: no active alert and the condition is false.
 */
export type LifecycleAction = 'open' | 'keep' | 'start-hold-down' | 'cancel-hold-down' | 'resolve' | 'none';

export interface AlertTransition {
  action: LifecycleAction;
  /** The state to store; null when there never was an alert. */
  next: AlertLifecycleState | null;
}

export function isActive(state: AlertLifecycleState | null): state is AlertLifecycleState {
  return state !== null && state.status !== 'resolved';
}

/**
 * Next state of the alert for one (rule, key) given whether the condition holds now.
 * The periodic sweep may call it with `holds: false` for alerts in hold-down, so an alert
 * resolves even when the device stops checking in.
 */
export function nextAlertState(
  current: AlertLifecycleState | null,
  holds: boolean,
  now: number,
  holdDownSeconds: number,
): AlertTransition {
  if (!isActive(current)) {
    if (!holds) return { action: 'none', next: current };
    return { action: 'open', next: { status: 'open', openedAt: now, acknowledgedAt: null, resolvedAt: null, clearSince: null } };
  }
  if (holds) {
    if (current.clearSince === null) return { action: 'keep', next: current };
    return { action: 'cancel-hold-down', next: { ...current, clearSince: null } };
  }
  const clearSince = current.clearSince ?? now;
  if (now - clearSince >= Math.max(0, holdDownSeconds) * 1000) {
    return { action: 'resolve', next: { ...current, status: 'resolved', resolvedAt: now, clearSince } };
  }
  if (current.clearSince === null) return { action: 'start-hold-down', next: { ...current, clearSince } };
  return { action: 'keep', next: current };
}

export class AlertLifecycleError extends Error {
  readonly code: 'alert-resolved';
  constructor(code: 'alert-resolved', message: string) {
    super(message);
    this.name = 'AlertLifecycleError';
    this.code = code;
  }
}

/** An operator acknowledges: open → acknowledged (again: no change). A resolved alert cannot be acknowledged. */
export function acknowledgeAlert(current: AlertLifecycleState, now: number): AlertLifecycleState {
  if (current.status === 'resolved') throw new AlertLifecycleError('alert-resolved', 'a resolved alert cannot be acknowledged');
  if (current.status === 'acknowledged') return current;
  return { ...current, status: 'acknowledged', acknowledgedAt: now };
}
