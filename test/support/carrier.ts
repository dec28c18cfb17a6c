// A local carrier API on 127.0.0.1 for tests and benchmarks, in two shapes:
// - `control-center`: one SIM per request, as Cisco IoT Control Center's "Edit Device Details":
//   PUT /rws/api/v1/devices/{iccid} {"status":"ACTIVATED"}, HTTP Basic (user:API key),
//   200 {"iccid"}; an unknown ICCID is 404 {"errorCode","errorMessage"};
// - `batch`: POST /activations {activations:[{deviceId,iccid,imei}]} → {results:[{deviceId,outcome,error?}]}.
// It enforces its own rate limit like a real carrier (429 + Retry-After past it), can be busy
// (503) or refuse SIMs, and counts what it did: activations are idempotent by ICCID.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CarrierStubOptions {
  shape?: 'control-center' | 'batch';
  /** Basic credentials it accepts (control-center): `user:key`. */
  basicAuth?: string;
  /** The carrier's own limit, activations per second and burst; past it: 429 with Retry-After. */
  rateLimit?: { perSecond: number; burst: number };
  /** Answer "busy" (503 / retry) to a SIM's first N requests. */
  transientFailures?: (deviceOrIccid: string) => number;
  /** ICCIDs the carrier does not know: refused for good. */
  rejects?: (iccid: string) => boolean;
}

export interface CarrierStub {
  url: string;
  /** Requests seen per SIM (by device id in batch shape, by ICCID in control-center shape). */
  requests: Map<string, number>;
  /** Successful activations per SIM: 1 each when every SIM is activated exactly once. */
  activations: Map<string, number>;
  /** SIMs active now. */
  activated: Set<string>;
  /** HTTP calls received, and those refused for the rate limit (429) or for credentials (401). */
  calls: number;
  throttled: number;
  unauthorized: number;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCarrierStub(options: CarrierStubOptions = {}): Promise<CarrierStub> {
  const shape = options.shape ?? 'batch';
  const stub = { requests: new Map<string, number>(), activations: new Map<string, number>(), activated: new Set<string>(), calls: 0, throttled: 0, unauthorized: 0 };
  const limit = options.rateLimit;
  let tokens = limit?.burst ?? 0;
  let refilled = performance.now();
  const admit = (n: number): boolean => {
    if (!limit) return true;
    const now = performance.now();
    tokens = Math.min(limit.burst, tokens + ((now - refilled) / 1000) * limit.perSecond);
    refilled = now;
    if (tokens < n) return false;
    tokens -= n;
    return true;
  };
  const activate = (key: string): 'activated' | 'busy' | 'rejected' => {
    const seen = (stub.requests.get(key) ?? 0) + 1;
    stub.requests.set(key, seen);
    if (!stub.activated.has(key) && seen <= (options.transientFailures?.(key) ?? 0)) return 'busy';
    stub.activated.add(key);
    stub.activations.set(key, (stub.activations.get(key) ?? 0) + 1);
    return 'activated';
  };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

  const server = createServer((req, res) => {
    void (async () => {
      stub.calls++;
      const body = await readBody(req);
      if (shape === 'control-center') {
        const match = /^\/rws\/api\/v1\/devices\/([^/?]+)$/.exec(req.url ?? '');
        if (req.method !== 'PUT' || !match) return json(res, 404, { errorCode: '10000000', errorMessage: 'Resource not found' });
        const expected = `Basic ${Buffer.from(options.basicAuth ?? '').toString('base64')}`;
        if (options.basicAuth && req.headers.authorization !== expected) {
          stub.unauthorized++;
          return json(res, 401, { errorCode: '10000001', errorMessage: 'Invalid username or API key' });
        }
        if (!admit(1)) {
          stub.throttled++;
          return json(res, 429, { errorCode: '10000029', errorMessage: 'Rate limit exceeded' }, { 'retry-after': '1' });
        }
        const iccid = decodeURIComponent(match[1]!);
        if ((JSON.parse(body) as { status?: string }).status !== 'ACTIVATED') return json(res, 400, { errorCode: '10000002', errorMessage: 'Invalid status' });
        if (options.rejects?.(iccid)) return json(res, 404, { errorCode: '10000003', errorMessage: `ICCID ${iccid} is not on this account` });
        const outcome = activate(iccid);
        if (outcome === 'busy') return json(res, 503, { errorCode: '10000500', errorMessage: 'Service busy' });
        return json(res, 200, { iccid });
      }
      if (req.method !== 'POST' || req.url !== '/activations') return json(res, 404, { error: 'no such route' });
      const { activations } = JSON.parse(body) as { activations: { deviceId: string; iccid: string }[] };
      if (!admit(activations.length)) {
        stub.throttled++;
        return json(res, 429, { error: 'rate limit' }, { 'retry-after': '1' });
      }
      const results = activations.map((a) => {
        if (options.rejects?.(a.iccid)) return { deviceId: a.deviceId, outcome: 'rejected', error: `ICCID ${a.iccid} is not on this carrier` };
        const outcome = activate(a.deviceId);
        return outcome === 'busy' ? { deviceId: a.deviceId, outcome: 'retry', error: 'carrier busy' } : { deviceId: a.deviceId, outcome: 'activated' };
      });
      json(res, 200, { results });
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
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

/** The carrier file for the batch shape (the engine's test and benchmark default). */
export function batchCarrierConfig(url: string, options: { name?: string; perSecond?: number; burst?: number; maxSize?: number; maxAttempts?: number; baseDelayMs?: number } = {}): string {
  return JSON.stringify({
    name: options.name ?? 'local-batch',
    baseUrl: url,
    rateLimit: { perSecond: options.perSecond ?? 100_000, burst: options.burst ?? 1000 },
    retry: { maxAttempts: options.maxAttempts ?? 5, baseDelayMs: options.baseDelayMs ?? 20, maxDelayMs: 200 },
    request: { method: 'POST', path: '/activations', body: { activations: '{activations}' }, batch: { maxSize: options.maxSize ?? 500, item: { deviceId: '{deviceId}', iccid: '{iccid}', imei: '{imei}' } } },
    response: {
      activated: [200],
      retryable: [429, 503],
      results: { path: '/results', match: 'deviceId', idPath: '/deviceId', outcomePath: '/outcome', activated: ['activated'], rejected: ['rejected'], errorPath: '/error' },
    },
  });
}
