// Webhook notifications, pure parts: the signature and the retry schedule.
// Signature: HMAC-SHA256 over `${timestamp}.${body}` with the rule's secret, sent as
//   X-Fleetform-Timestamp: <unix seconds>
//   X-Fleetform-Signature: sha256=<hex>
// Signing the timestamp with the body lets a receiver refuse replays of an old delivery.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-fleetform-signature';
export const TIMESTAMP_HEADER = 'x-fleetform-timestamp';
/** A receiver accepts a delivery whose timestamp is within this many seconds of its clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export interface WebhookSignature {
  /** Unix seconds, as sent in the timestamp header. */
  timestamp: number;
  /** `sha256=<64 hex>`. */
  signature: string;
  headers: Record<string, string>;
}

/** Sign a JSON body at `timestamp` (unix seconds; the caller reads the clock). */
export function signWebhook(body: string, secret: string, timestamp: number): WebhookSignature {
  const seconds = Math.floor(timestamp);
  const signature = `sha256=${hmac(secret, seconds, body)}`;
  return {
    timestamp: seconds,
    signature,
    headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: String(seconds), [SIGNATURE_HEADER]: signature },
  };
}

export type SignatureVerification =
  | { ok: true }
  | { ok: false; code: 'malformed-signature' | 'malformed-timestamp' | 'stale-timestamp' | 'signature-mismatch' };

/** What a receiver does: check the format, the freshness of the timestamp, then the HMAC in constant time. */
export function verifyWebhookSignature(input: {
  body: string;
  secret: string;
  signature: string | undefined;
  timestamp: string | undefined;
  /** Receiver's clock, unix seconds. */
  now: number;
  toleranceSeconds?: number;
}): SignatureVerification {
  const match = /^sha256=([0-9a-f]{64})$/.exec(input.signature ?? '');
  if (!match) return { ok: false, code: 'malformed-signature' };
  if (!/^\d{1,12}$/.test(input.timestamp ?? '')) return { ok: false, code: 'malformed-timestamp' };
  const timestamp = Number(input.timestamp);
  if (Math.abs(input.now - timestamp) > (input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS)) {
    return { ok: false, code: 'stale-timestamp' };
  }
  const expected = Buffer.from(hmac(input.secret, timestamp, input.body), 'hex');
  const given = Buffer.from(match[1]!, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, code: 'signature-mismatch' };
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export interface DeliveryBackoff {
  /** Delay before the 2nd attempt (default 10 s); doubles each attempt. */
  baseSeconds?: number;
  /** Longest delay (default 1 h). */
  capSeconds?: number;
  /** Attempts in total, the first included, before the delivery is given up (default 12). */
  maxAttempts?: number;
}

export const DEFAULT_DELIVERY_BACKOFF: Required<DeliveryBackoff> = { baseSeconds: 10, capSeconds: 3600, maxAttempts: 12 };

/**
 * When to try again after attempt number `attempt` (1-based) failed at `now` (epoch ms);
 * null once `maxAttempts` were made. "Equal jitter": half the exponential delay is fixed,
 * the other half scaled by `jitter` in [0, 1) (the caller draws it), so receivers that came
 * back are not hit by every retry at once, yet each retry still waits at least half.
 */
export function nextDeliveryAttemptAt(attempt: number, now: number, jitter: number, backoff: DeliveryBackoff = {}): number | null {
  const { baseSeconds, capSeconds, maxAttempts } = { ...DEFAULT_DELIVERY_BACKOFF, ...backoff };
  if (attempt >= maxAttempts) return null;
  const exponential = Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, attempt - 1));
  const clampedJitter = Math.min(Math.max(jitter, 0), 1);
  const delaySeconds = exponential / 2 + (exponential / 2) * clampedJitter;
  return now + Math.round(delaySeconds * 1000);
}
