// Progress a person can watch: on a terminal one line redrawn in place (a bar, the stage, rate and
// time left); elsewhere (CI logs, pipes) a plain line every few seconds and at every stage change,
// so logs stay readable. Shared by `provision import` and `cells import`.
import type { CliContext } from './context.ts';

export type ProgressMode = 'bar' | 'lines' | 'none';

/** `auto` → bar on a terminal, lines otherwise. */
export function progressMode(flag: string | undefined, isTty: boolean): ProgressMode {
  if (flag === undefined || flag === 'auto') return isTty ? 'bar' : 'lines';
  if (flag === 'bar' || flag === 'lines' || flag === 'none') return flag;
  return isTty ? 'bar' : 'lines';
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function bar(ratio: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round(ratio * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** Text from a file or a server made safe for a terminal: no control characters (no escape sequences). */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
}

/** One progress figure line: `stage [bar] 52% 26,012/50,000 rows · 1,630 rows/s · ETA 0:15 | detail`. */
export function progressText(input: {
  stage: string;
  done: number;
  total: number | null;
  unit: string;
  perSecond: number | null;
  etaSeconds: number | null;
  detail?: string;
  withBar: boolean;
}): string {
  const ratio = input.total ? input.done / input.total : null;
  const parts = [input.stage];
  if (ratio !== null && input.withBar) parts.push(bar(ratio));
  if (ratio !== null) parts.push(`${Math.floor(ratio * 100)}%`);
  parts.push(input.total !== null ? `${formatCount(input.done)}/${formatCount(input.total)} ${input.unit}` : `${formatCount(input.done)} ${input.unit}`);
  const figures: string[] = [];
  if (input.perSecond !== null) figures.push(`${formatCount(input.perSecond)} ${input.unit}/s`);
  if (input.etaSeconds !== null) figures.push(`ETA ${formatDuration(input.etaSeconds)}`);
  return `${parts.join(' ')}${figures.length ? ` · ${figures.join(' · ')}` : ''}${input.detail ? ` | ${input.detail}` : ''}`;
}

/** Where progress lines go: redrawn in place (bar) or printed now and then (lines). */
export class ProgressOutput {
  private lastPrinted = 0;
  private lastStage = '';
  private drawn = false;

  constructor(
    private readonly ctx: CliContext,
    readonly mode: ProgressMode,
    private readonly intervalMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  get bars(): boolean {
    return this.mode === 'bar';
  }

  /** A new figure for `stage`; printed at once on a new stage, else on a terminal or when the interval has passed. */
  update(stage: string, line: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'bar') {
      this.ctx.stderr(`\r\u001b[2K${line}`);
      this.drawn = true;
      return;
    }
    const now = this.now();
    if (stage !== this.lastStage || now - this.lastPrinted >= this.intervalMs) {
      this.ctx.stderr(`${line}\n`);
      this.lastPrinted = now;
      this.lastStage = stage;
    }
  }

  /** The stage's last figure, always printed, and the bar line closed. */
  finish(line: string): void {
    if (this.mode === 'none') return;
    this.ctx.stderr(this.mode === 'bar' ? `\r\u001b[2K${line}\n` : `${line}\n`);
    this.drawn = false;
    this.lastStage = '';
  }

  /** Before other output: ends a drawn bar line so text does not land on it. */
  interrupt(): void {
    if (this.drawn) this.ctx.stderr('\n');
    this.drawn = false;
  }
}
