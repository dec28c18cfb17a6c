// The carrier activation task is pluggable: anything that activates SIMs in bulk and declares
// its own rate limit and retry policy. The engine ships an HTTP client for it (and a local stub).
import type { RateLimit, RetryPolicy } from './tasks.ts';

export interface ActivationRequest {
  /** Also the idempotency key: activating a device twice must not activate its SIM twice. */
  deviceId: string;
  iccid: string;
  imei: string | null;
}

export type ActivationResult =
  | { deviceId: string; outcome: 'activated' }
  | { deviceId: string; outcome: 'retry'; error: string }
  | { deviceId: string; outcome: 'rejected'; error: string };

export interface CarrierActivator {
  readonly name: string;
  /** Activations per second (per engine process) and burst. */
  readonly rateLimit: RateLimit;
  readonly retry: RetryPolicy;
  /** Largest number of activations per call. */
  readonly maxBatch: number;
  /** One result per request; a thrown error retries all of them. */
  activate(requests: readonly ActivationRequest[]): Promise<ActivationResult[]>;
}
