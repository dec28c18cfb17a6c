// An engine under test: real PostgreSQL (a fresh database), a real git repository, HTTP on a free port.
import pino from 'pino';
import { Engine, type EngineOptions } from '../../engine/service/index.ts';
import type { CheckInAnswer, CheckInRequest } from '../../engine/model/index.ts';

export const ADMIN_TOKEN = 'ffo_test-admin-token-not-secret';

export interface TestEngine {
  engine: Engine;
  url: string;
  close(): Promise<void>;
}

export async function startTestEngine(options: Partial<EngineOptions> & { databaseUrl: string; repoDir: string }): Promise<TestEngine> {
  const engine = await Engine.start({
    branch: 'main',
    log: pino({ level: process.env.FLEETFORM_TEST_LOG ?? 'silent' }),
    adminToken: ADMIN_TOKEN,
    minCheckInIntervalMs: 0,
    pollIntervalMs: 200,
    leaseRetryMs: 300,
    offlineSweepMs: 0,
    ...options,
  });
  const port = await engine.listen(0, '127.0.0.1');
  return { engine, url: `http://127.0.0.1:${port}`, close: () => engine.close() };
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export async function request<T = unknown>(
  url: string,
  init: { method?: string; token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

export async function registerDevice(
  base: string,
  device: { id: string; profile?: string; site?: string; labels?: Record<string, string> },
  token = ADMIN_TOKEN,
): Promise<string> {
  const result = await request<{ token: string }>(`${base}/v1/devices`, {
    token,
    body: { profile: 'tracker', site: 'plant-1', ...device },
  });
  if (result.status !== 201) throw new Error(`registration failed: ${result.status} ${result.text}`);
  return result.body.token;
}

export function checkInBody(firmware: Record<string, string>, extra: Partial<CheckInRequest['reported']> = {}, telemetry: Partial<CheckInRequest['telemetry']> = {}): CheckInRequest {
  return {
    reported: { firmware, configHash: null, ...extra },
    telemetry: { time: '2026-11-22T08:00:00Z', battery: 80, cell: { mcc: 310, mnc: 410, lac: 1, cid: 11 }, ...telemetry },
  };
}

export async function checkIn(base: string, id: string, token: string, body: CheckInRequest): Promise<HttpResult<CheckInAnswer>> {
  return request<CheckInAnswer>(`${base}/v1/devices/${encodeURIComponent(id)}/check-in`, { token, body });
}

/** Waits until `probe` holds; polls (revision pick-up is asynchronous by design). */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
