// Carrier activation over HTTP, driven by a carrier file (engine/provisioning/carrier-config.ts):
// the request/response mapping, rate limit and retryable statuses are configuration; the
// credentials are secret references resolved through the engine's secret sources (the resolver
// main.ts builds), when the engine starts — a missing secret stops the start, naming the
// reference, never the value. Responses are read up to 1 MiB; nothing of a credential is logged
// or put in an error.
import { readFile } from 'node:fs/promises';
import {
  activationResults,
  authHeader,
  carrierCalls,
  parseCarrierConfig,
  type ActivationRequest,
  type ActivationResult,
  type CarrierActivator,
  type CarrierSecret,
  type HttpCarrierConfig,
  type RateLimit,
  type RetryPolicy,
} from '../provisioning/index.ts';

/** Resolves a secret reference to its value (undefined: there is no such secret, or it is outside the declared sources). */
export type CarrierSecretResolver = (reference: CarrierSecret['secretRef']) => string | undefined | Promise<string | undefined>;

export class CarrierSecretMissingError extends Error {
  readonly code = 'carrier-secret-missing';
  /** `refusal`: why the secret sources refused the reference (never a value). */
  constructor(carrier: string, reference: CarrierSecret['secretRef'], refusal: string | null = null) {
    const named = 'env' in reference ? `env ${reference.env}` : `file ${reference.file}`;
    super(`carrier ${carrier}: secret ${named} ${refusal ? `is refused: ${refusal}` : "is not available from the engine's secret sources"}`);
    this.name = 'CarrierSecretMissingError';
  }
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(3_600_000, Math.round(seconds * 1000));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.min(3_600_000, Math.max(0, at - Date.now()));
}

export class HttpCarrier implements CarrierActivator {
  readonly name: string;
  readonly rateLimit: RateLimit;
  readonly retry: RetryPolicy;
  readonly maxBatch: number;

  private constructor(
    private readonly config: HttpCarrierConfig,
    private readonly auth: Record<string, string>,
  ) {
    this.name = config.name;
    this.rateLimit = config.rateLimit;
    this.retry = config.retry;
    // Per-SIM APIs: a worker sends up to this many requests at once.
    this.maxBatch = config.request.batch?.maxSize ?? Math.max(1, Math.min(50, config.rateLimit.burst));
  }

  /** Resolves the carrier's credentials now, so a missing secret fails the start rather than every activation. */
  static async create(config: HttpCarrierConfig, resolve: CarrierSecretResolver): Promise<HttpCarrier> {
    const values = new Map<CarrierSecret, string>();
    const sources: CarrierSecret[] = [];
    const auth = config.auth;
    if (auth?.type === 'basic') sources.push(auth.password);
    if (auth?.type === 'bearer') sources.push(auth.token);
    if (auth?.type === 'header') sources.push(auth.value);
    for (const source of sources) {
      let value: string | undefined;
      try {
        value = await resolve(source.secretRef);
      } catch (error) {
        // Outside the declared sources (an engine setting, a path out of the secret directory): the start stops, saying why.
        throw new CarrierSecretMissingError(config.name, source.secretRef, (error as Error).message);
      }
      if (value === undefined || value === '') throw new CarrierSecretMissingError(config.name, source.secretRef);
      values.set(source, value.trim());
    }
    return new HttpCarrier(config, authHeader(config.auth, (source) => values.get(source) ?? ''));
  }

  /** Reads a carrier file (YAML or JSON); throws CarrierConfigError naming file:line:col for each problem. */
  static async fromFile(file: string, resolve: CarrierSecretResolver): Promise<HttpCarrier> {
    return HttpCarrier.create(parseCarrierConfig(file, await readFile(file, 'utf8')), resolve);
  }

  async activate(requests: readonly ActivationRequest[]): Promise<ActivationResult[]> {
    const base = this.config.baseUrl.endsWith('/') ? this.config.baseUrl.slice(0, -1) : this.config.baseUrl;
    const answers = await Promise.all(
      carrierCalls(this.config, requests).map(async (call) => {
        let response: Response;
        try {
          response = await fetch(`${base}${call.path}`, {
            method: call.method,
            headers: { ...call.headers, ...this.auth },
            ...(call.body !== null ? { body: call.body } : {}),
            redirect: 'manual',
            signal: AbortSignal.timeout(this.config.timeoutMs),
          });
        } catch (error) {
          // Network trouble and timeouts are worth retrying; the message names no credential.
          const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.config.timeoutMs} ms` : ((error as { cause?: { code?: string } }).cause?.code ?? 'connection failed');
          return call.activations.map((a): ActivationResult => ({ deviceId: a.deviceId, outcome: 'retry', error: `carrier unreachable: ${reason}` }));
        }
        const body = await readCapped(response).catch(() => '');
        return activationResults(this.config, call, { status: response.status, retryAfterMs: retryAfterMs(response.headers.get('retry-after')), body });
      }),
    );
    return answers.flat();
  }
}
