// Carrier activation over HTTP, and a local carrier for tests and benchmarks.
// Protocol: POST {url}/activations {activations: [{deviceId, iccid, imei}]} →
//   {results: [{deviceId, outcome: 'activated' | 'retry' | 'rejected', error?}]}.
// The device id is the idempotency key: a SIM already activated answers 'activated' again.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActivationRequest, ActivationResult, CarrierActivator, RateLimit, RetryPolicy } from '../provisioning/index.ts';

export interface HttpCarrierOptions {
  url: string;
  name?: string;
  rateLimit?: RateLimit;
  retry?: RetryPolicy;
  maxBatch?: number;
  timeoutMs?: number;
}

export class HttpCarrier implements CarrierActivator {
  readonly name: string;
  readonly rateLimit: RateLimit;
  readonly retry: RetryPolicy;
  readonly maxBatch: number;

  constructor(private readonly options: HttpCarrierOptions) {
    this.name = options.name ?? 'http-carrier';
    this.rateLimit = options.rateLimit ?? { perSecond: 100, burst: 100 };
    this.retry = options.retry ?? { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };
    this.maxBatch = options.maxBatch ?? 100;
  }

  async activate(requests: readonly ActivationRequest[]): Promise<ActivationResult[]> {
    const response = await fetch(new URL('activations', this.options.url.endsWith('/') ? this.options.url : `${this.options.url}/`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ activations: requests }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
    if (!response.ok) throw new Error(`carrier answered ${response.status}`);
    const body = (await response.json()) as { results?: ActivationResult[] };
    const byId = new Map((body.results ?? []).map((r) => [r.deviceId, r]));
    // A device the carrier did not answer for is retried.
    return requests.map((r) => byId.get(r.deviceId) ?? { deviceId: r.deviceId, outcome: 'retry', error: 'carrier gave no result' });
  }
}

export interface CarrierStubOptions {
  /** Answer 'retry' to a device's first N requests (transient carrier trouble). */
  transientFailures?: (deviceId: string) => number;
  /** ICCIDs the carrier refuses for good. */
  rejects?: (iccid: string) => boolean;
}

export interface CarrierStub {
  url: string;
  /** Requests seen per device (every call, successful or not). */
  requests: Map<string, number>;
  /** SIMs activated (once each: activation is idempotent by device id). */
  activated: Set<string>;
  /** HTTP calls received. */
  calls: number;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** A local carrier API on 127.0.0.1 (free port). */
export async function startCarrierStub(options: CarrierStubOptions = {}): Promise<CarrierStub> {
  const stub: Omit<CarrierStub, 'url' | 'close'> = { requests: new Map(), activated: new Set(), calls: 0 };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/activations')) {
        res.writeHead(404).end();
        return;
      }
      stub.calls++;
      const body = JSON.parse(await readBody(req)) as { activations: ActivationRequest[] };
      const results: ActivationResult[] = body.activations.map((a) => {
        const seen = (stub.requests.get(a.deviceId) ?? 0) + 1;
        stub.requests.set(a.deviceId, seen);
        if (options.rejects?.(a.iccid)) return { deviceId: a.deviceId, outcome: 'rejected', error: `ICCID ${a.iccid} is not on this carrier` };
        if (!stub.activated.has(a.deviceId) && seen <= (options.transientFailures?.(a.deviceId) ?? 0)) {
          return { deviceId: a.deviceId, outcome: 'retry', error: 'carrier busy' };
        }
        stub.activated.add(a.deviceId);
        return { deviceId: a.deviceId, outcome: 'activated' };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
    })().catch(() => res.writeHead(500).end());
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
