// Small pieces every page uses: panels, badges, bars, times, errors.
import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';
import type { ApiError } from './api.ts';
import { ago, count, dateTime } from './format.ts';
import { DEVICE_STATUSES } from './types.ts';

/** The tone of a status word, shared by badges and bar segments (and so by the legend). */
const TONES: Record<string, string> = {
  converged: 'ok',
  applied: 'ok',
  succeeded: 'ok',
  completed: 'ok',
  done: 'ok',
  resolved: 'ok',
  delivered: 'info',
  upgrading: 'info',
  drifted: 'info',
  running: 'info',
  queued: 'info',
  'in-flight': 'info',
  info: 'info',
  acknowledged: 'muted',
  pending: 'muted',
  idle: 'muted',
  retrying: 'warn',
  'cooling-down': 'warn',
  stopped: 'warn',
  warning: 'warn',
  open: 'warn',
  quarantined: 'bad',
  blocked: 'bad',
  'off-matrix': 'bad',
  offline: 'bad',
  rejected: 'bad',
  failed: 'bad',
  critical: 'bad',
};

export function tone(word: string): string {
  return TONES[word] ?? 'muted';
}

export function Badge({ value, label }: { value: string; label?: string }) {
  return <span class={`badge tone-${tone(value)}`}>{label ?? value}</span>;
}

export function Panel({ title, children, actions, wide }: { title: string; children: ComponentChildren; actions?: ComponentChildren; wide?: boolean }) {
  const id = useId();
  return (
    <section class={wide ? 'panel wide' : 'panel'} aria-labelledby={id}>
      <header class="panel-head">
        <h2 id={id}>{title}</h2>
        {actions && <div class="panel-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function ErrorNote({ error, what }: { error: ApiError | null; what?: string }) {
  if (!error) return null;
  const prefix = what ? `${what}: ` : '';
  return (
    <p class="error" role="alert">
      {prefix}
      {error.message}
      {error.code && error.status !== 0 ? ` (${error.code}${error.field ? ` at ${error.field}` : ''})` : ''}
    </p>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p class="muted" aria-busy="true">{what} …</p>;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return <time dateTime={iso} title={dateTime(iso)}>{ago(iso)}</time>;
}

export function KeyValues({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

export interface Segment {
  label: string;
  value: number;
  /** Defaults to the tone of the label (a status word). */
  tone?: string;
}

/**
 * A horizontal bar of parts of a whole (devices by status, rows by outcome). SVG, so no inline style
 * is needed under the console's CSP; its text alternative names every part.
 */
export function StackedBar({ segments, total, label }: { segments: Segment[]; total?: number; label: string }) {
  const sum = segments.reduce((s, x) => s + x.value, 0);
  const whole = Math.max(total ?? sum, sum, 1);
  let x = 0;
  const description = `${label}: ${segments.filter((s) => s.value > 0).map((s) => `${s.label} ${count(s.value)}`).join(', ') || 'none'}${total !== undefined ? ` of ${count(total)}` : ''}`;
  return (
    <svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label={description}>
      <title>{description}</title>
      <rect class="bar-track" x="0" y="0" width="1000" height="10" />
      {segments.map((s) => {
        const width = (s.value / whole) * 1000;
        const rect = width > 0 ? <rect key={s.label} class={`tone-${s.tone ?? tone(s.label)}`} x={x} y="0" width={width} height="10" /> : null;
        x += width;
        return rect;
      })}
    </svg>
  );
}

/** How much of a limit is in use (throttles): a bar with the figures next to it. */
export function Meter({ value, max, label }: { value: number; max: number | null | undefined; label: string }) {
  const limit = max ?? 0;
  const ratio = limit > 0 ? Math.min(value / limit, 1) : 0;
  const level = ratio >= 1 ? 'bad' : ratio >= 0.8 ? 'warn' : 'info';
  return (
    <div class="meter">
      <StackedBar label={label} segments={[{ label: 'in use', value, tone: level }]} {...(limit > 0 ? { total: limit } : {})} />
      <span class="meter-figure">
        {count(value)}
        {limit > 0 ? ` / ${count(limit)}` : ' (no limit)'}
      </span>
    </div>
  );
}

export function Legend({ segments }: { segments: Segment[] }) {
  return (
    <ul class="legend">
      {segments
        .filter((s) => s.value > 0)
        .map((s) => (
          <li key={s.label}>
            <span class={`swatch tone-${s.tone ?? tone(s.label)}`} aria-hidden="true" />
            {s.label} <strong>{count(s.value)}</strong>
          </li>
        ))}
    </ul>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted">{children}</p>;
}

/** Devices by status as bar parts, in the lifecycle's order (unknown statuses last). */
export function statusSegments(byStatus: Record<string, number>): Segment[] {
  const known: Segment[] = DEVICE_STATUSES.map((status) => ({ label: status, value: byStatus[status] ?? 0 }));
  const other = Object.entries(byStatus).filter(([status]) => !(DEVICE_STATUSES as readonly string[]).includes(status));
  return [...known, ...other.map(([label, value]) => ({ label, value }))];
}
