// The webhook outbox's worker: claims due deliveries (a lease, so any engine may take over one whose
// attempt never finished), signs and POSTs each (HMAC over body and attempt time, timeout, no redirects),
// records the attempt, and schedules a retry with backoff or gives up. State lives in the database.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { SecretValue } from '../model/index.ts';
import { nextDeliveryAttemptAt, signWebhook, type DeliveryBackoff } from '../rules/index.ts';
import type { AlertStore } from '../store/alerts.ts';
import type { WebhookDeliveryRow } from '../store/alert-entities.ts';
import type { ActiveRevision } from './revisions.ts';

const DELIVERY_BATCH = 20;

/** Where a webhook goes, for logs and operator views: the origin only (hook URLs often carry a token in the path). */
export function webhookTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

export interface WebhookOutboxOptions {
  alerts: AlertStore;
  /** The applied revision: it holds the webhook secrets. */
  revision(): ActiveRevision | null;
  now(): Date;
  random(): number;
  log: Logger;
  backoff?: DeliveryBackoff;
  /** Per attempt (default 10 s). */
  webhookTimeoutMs?: number;
  /** A claimed delivery is retried by any engine after this long if its attempt never finished (default 60 s). */
  webhookLeaseMs?: number;
}

export class WebhookOutbox {
  private delivering: Promise<number> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private webhookAttempts: Counter<'outcome'> | null = null;

  constructor(private readonly options: WebhookOutboxOptions) {}

  /** The worker: every `intervalMs`, attempts the due deliveries. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.deliverDueWebhooks().catch((error: unknown) => this.options.log.warn({ err: error }, 'webhook worker failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once a delivery round under way has ended (shutdown). */
  async settle(): Promise<void> {
    await this.delivering?.catch(() => undefined);
  }

  registerMetrics(registry: Registry): void {
    this.webhookAttempts = new Counter({
      name: 'fleetform_webhook_attempts_total',
      help: 'Webhook delivery attempts by this process, by outcome (delivered, retry, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  /**
   * Attempts every due delivery once (the worker calls this every second; tests call it with `now`).
   * Returns how many were attempted. State lives in the database: a restarted engine carries on.
   */
  async deliverDueWebhooks(now: Date = this.options.now()): Promise<number> {
    while (this.delivering) await this.delivering.catch(() => 0);
    const run = this.deliverOnce(now);
    this.delivering = run;
    try {
      return await run;
    } finally {
      this.delivering = null;
    }
  }

  private async deliverOnce(now: Date): Promise<number> {
    const lease = new Date(now.getTime() + (this.options.webhookLeaseMs ?? 60_000));
    const due = await this.options.alerts.claimDueDeliveries(now, lease, DELIVERY_BATCH);
    await Promise.all(due.map((delivery) => this.attempt(delivery, now)));
    return due.length;
  }

  private async attempt(delivery: WebhookDeliveryRow, now: Date): Promise<void> {
    const attempt = delivery.attempts + 1;
    let statusCode: number | null = null;
    let error: string | null = null;
    const started = process.hrtime.bigint();
    const secret = delivery.secret as SecretValue | null;
    const vault = this.options.revision()?.secrets;
    if (secret !== null && !vault?.has(secret)) {
      // The applied revision cannot reveal it (removed or not decryptable): try again later.
      error = 'secret-unavailable: the applied revision does not hold this webhook secret';
    } else {
      // Signed afresh at each attempt: the timestamp inside the MAC is the attempt's.
      const headers: Record<string, string> =
        secret !== null && vault ? signWebhook(delivery.body, vault.reveal(secret), now.getTime() / 1000).headers : { 'content-type': 'application/json' };
      headers['x-fleetform-delivery'] = delivery.id;
      headers['x-fleetform-event'] = delivery.event;
      try {
        const response = await fetch(delivery.url, {
          method: 'POST',
          headers,
          body: delivery.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.webhookTimeoutMs ?? 10_000),
        });
        statusCode = response.status;
        await response.body?.cancel().catch(() => undefined);
        if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
      } catch (cause) {
        error = cause instanceof Error ? `${cause.name}: ${(cause as Error & { cause?: { code?: string } }).cause?.code ?? cause.message}` : String(cause);
      }
    }
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    const retryAt = error === null ? null : nextDeliveryAttemptAt(attempt, now.getTime(), this.options.random(), this.options.backoff);
    const status = error === null ? 'delivered' : retryAt === null ? 'failed' : 'pending';
    this.webhookAttempts?.inc({ outcome: status === 'pending' ? 'retry' : status });
    if (error !== null) this.options.log.warn({ delivery: delivery.id, target: webhookTarget(delivery.url), attempt, error }, status === 'failed' ? 'webhook delivery given up' : 'webhook delivery failed; will retry');
    await this.options.alerts.recordWebhookAttempt({
      deliveryId: delivery.id,
      attempt,
      at: now,
      statusCode,
      error,
      durationMs,
      status,
      nextAttemptAt: retryAt === null ? null : new Date(retryAt),
    });
  }
}
