// The carrier activation task is pluggable: anything that activates SIMs and declares its own rate
// limit and retry policy. The engine ships an HTTP adapter driven by a declared mapping (this
// file: the mapping's types and the pure parts — requests from activations, outcomes from
// responses); the adapter that sends them lives in engine/service/provisioning-carrier.ts.
import type { RateLimit, RetryPolicy } from './tasks.ts';

export interface ActivationRequest {
  /** Also the idempotency key: activating a device twice must not activate its SIM twice. */
  deviceId: string;
  iccid: string;
  imei: string | null;
}

export type ActivationResult =
  | { deviceId: string; outcome: 'activated' }
  /** `retryAfterMs`: the carrier said when (Retry-After). */
  | { deviceId: string; outcome: 'retry'; error: string; retryAfterMs?: number }
  | { deviceId: string; outcome: 'rejected'; error: string };

export interface CarrierActivator {
  readonly name: string;
  /** Activations per second and burst, shared by every engine process (counted in PostgreSQL). */
  readonly rateLimit: RateLimit;
  readonly retry: RetryPolicy;
  /** Largest number of activations per call. */
  readonly maxBatch: number;
  /** One result per request; a thrown error retries all of them. */
  activate(requests: readonly ActivationRequest[]): Promise<ActivationResult[]>;
}

/** A credential named, never written: resolved through the engine's declared secret sources. */
export interface CarrierSecret {
  secretRef: { env: string } | { file: string };
}

export type CarrierAuth =
  | { type: 'basic'; username: string; password: CarrierSecret }
  | { type: 'bearer'; token: CarrierSecret }
  | { type: 'header'; name: string; value: CarrierSecret };

/** The HTTP adapter's declaration (a carrier file given to `fleetform serve --carrier`). */
export interface HttpCarrierConfig {
  /** Names the rate limit shared across engine processes, and the jobs' `carrier`. */
  name: string;
  baseUrl: string;
  auth: CarrierAuth | null;
  rateLimit: RateLimit;
  retry: RetryPolicy;
  timeoutMs: number;
  request: {
    method: 'POST' | 'PUT' | 'PATCH';
    /** Appended to baseUrl; `{deviceId}`, `{iccid}`, `{imei}` are replaced (URL-encoded) in per-SIM requests. */
    path: string;
    headers: Record<string, string>;
    /** JSON body; strings `{deviceId}` `{iccid}` `{imei}` are replaced, and in batch mode `"{activations}"` by the items. */
    body: unknown;
    /** One request for many SIMs, each SIM as `item`; null: one request per SIM. */
    batch: { maxSize: number; item: unknown } | null;
  };
  response: {
    /** HTTP statuses meaning the SIM is active (per-SIM mode) or that `results` says per SIM (batch mode). */
    activated: number[];
    /** Statuses meaning the carrier refuses for good: the row fails at once. */
    rejected: number[];
    /** Statuses worth retrying with backoff (Retry-After is honoured); any status in no list is retried too. */
    retryable: number[];
    /** JSON pointer to the carrier's error message in a refusal. */
    errorPath: string | null;
    /** Per-SIM mode: also require this value in an `activated` answer. */
    activatedWhen: { path: string; equals: string[] } | null;
    /** Batch mode: where the per-SIM outcomes are. */
    results: {
      path: string;
      /** Which request field identifies a result: deviceId or iccid. */
      match: 'deviceId' | 'iccid';
      idPath: string;
      outcomePath: string;
      activated: string[];
      rejected: string[];
      errorPath: string | null;
    } | null;
  };
}

/** One HTTP call to make, and the activations it carries. */
export interface CarrierCall {
  method: string;
  /** Path and query, relative to baseUrl. */
  path: string;
  headers: Record<string, string>;
  body: string | null;
  activations: ActivationRequest[];
}

export const ACTIVATION_PLACEHOLDERS = ['deviceId', 'iccid', 'imei'] as const;

function fill(template: string, activation: ActivationRequest | null, encode: (value: string) => string): string {
  return template.replace(/\{(deviceId|iccid|imei)\}/g, (_, key: 'deviceId' | 'iccid' | 'imei') => (activation ? encode(activation[key] ?? '') : ''));
}

/** A JSON template with the activation's values in: a string that is exactly a placeholder takes the value as is (null imei stays null). */
function fillJson(template: unknown, activation: ActivationRequest | null, items: unknown[] | null): unknown {
  if (typeof template === 'string') {
    if (template === '{activations}' && items) return items;
    const whole = /^\{(deviceId|iccid|imei)\}$/.exec(template);
    if (whole && activation) return activation[whole[1] as 'deviceId' | 'iccid' | 'imei'];
    return fill(template, activation, (v) => v);
  }
  if (Array.isArray(template)) return template.map((t) => fillJson(t, activation, items));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillJson(v, activation, items)]));
  }
  return template;
}

/** The calls that carry these activations (one per SIM, or one per batch of maxSize). */
export function carrierCalls(config: HttpCarrierConfig, activations: readonly ActivationRequest[]): CarrierCall[] {
  const { request } = config;
  const headers = { accept: 'application/json', ...(request.body !== null ? { 'content-type': 'application/json' } : {}), ...request.headers };
  if (request.batch) {
    const calls: CarrierCall[] = [];
    for (let i = 0; i < activations.length; i += request.batch.maxSize) {
      const chunk = activations.slice(i, i + request.batch.maxSize);
      const items = chunk.map((a) => fillJson(request.batch!.item, a, null));
      calls.push({ method: request.method, path: request.path, headers, body: JSON.stringify(fillJson(request.body, null, items)), activations: chunk });
    }
    return calls;
  }
  return activations.map((a) => ({
    method: request.method,
    path: fill(request.path, a, encodeURIComponent),
    headers,
    body: request.body === null ? null : JSON.stringify(fillJson(request.body, a, null)),
    activations: [a],
  }));
}

function at(value: unknown, pointer: string): unknown {
  if (pointer === '' || pointer === '/') return value;
  let node = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** A carrier's words, made safe to store and show: printable, short. */
function said(value: unknown, fallback: string): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
  const clean = text.replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ').replace(/[\uD800-\uDFFF]/g, '?').trim().slice(0, 200);
  return clean === '' ? fallback : clean;
}

export interface CarrierResponse {
  status: number;
  /** Retry-After, ms, when the carrier sent one. */
  retryAfterMs: number | null;
  body: string;
}

/** What the carrier's answer to one call means for each activation it carried. */
export function activationResults(config: HttpCarrierConfig, call: CarrierCall, response: CarrierResponse): ActivationResult[] {
  const { response: map } = config;
  let json: unknown = undefined;
  try {
    json = response.body === '' ? undefined : JSON.parse(response.body);
  } catch {
    json = undefined;
  }
  const carrierError = (fallback: string) => said(map.errorPath ? at(json, map.errorPath) : undefined, fallback);
  const retry = (error: string): ActivationResult[] =>
    call.activations.map((a) => ({ deviceId: a.deviceId, outcome: 'retry', error, ...(response.retryAfterMs !== null ? { retryAfterMs: response.retryAfterMs } : {}) }));
  if (map.rejected.includes(response.status)) {
    const error = `carrier refused (HTTP ${response.status}): ${carrierError('no reason given')}`;
    return call.activations.map((a) => ({ deviceId: a.deviceId, outcome: 'rejected', error }));
  }
  if (!map.activated.includes(response.status)) return retry(`carrier answered HTTP ${response.status}${map.retryable.includes(response.status) ? '' : ' (not declared)'}: ${carrierError('retrying')}`);
  if (!map.results) {
    if (map.activatedWhen) {
      const value = at(json, map.activatedWhen.path);
      if (typeof value !== 'string' || !map.activatedWhen.equals.includes(value)) {
        return retry(`carrier answered HTTP ${response.status} but ${map.activatedWhen.path} is ${said(value, 'missing')}`);
      }
    }
    return call.activations.map((a) => ({ deviceId: a.deviceId, outcome: 'activated' }));
  }
  const results = map.results;
  const list = at(json, results.path);
  const byId = new Map<string, unknown>();
  if (Array.isArray(list)) for (const item of list) byId.set(String(at(item, results.idPath)), item);
  return call.activations.map((a): ActivationResult => {
    const item = byId.get(a[results.match]);
    if (item === undefined) return { deviceId: a.deviceId, outcome: 'retry', error: 'carrier gave no result for this SIM' };
    const outcome = String(at(item, results.outcomePath));
    const error = said(results.errorPath ? at(item, results.errorPath) : undefined, outcome);
    if (results.activated.includes(outcome)) return { deviceId: a.deviceId, outcome: 'activated' };
    if (results.rejected.includes(outcome)) return { deviceId: a.deviceId, outcome: 'rejected', error: `carrier refused: ${error}` };
    return { deviceId: a.deviceId, outcome: 'retry', error: `carrier: ${error}` };
  });
}

/** The Authorization (or other) header for resolved secret values. */
export function authHeader(auth: CarrierAuth | null, secret: (source: CarrierSecret) => string): Record<string, string> {
  if (!auth) return {};
  switch (auth.type) {
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${secret(auth.password)}`).toString('base64')}` };
    case 'bearer':
      return { authorization: `Bearer ${secret(auth.token)}` };
    case 'header':
      return { [auth.name.toLowerCase()]: secret(auth.value) };
  }
}
