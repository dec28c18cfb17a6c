// Webhook notifications: signed with HMAC-SHA256, retried with exponential backoff until the
// receiver takes them, every attempt recorded, and the queue survives an engine restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../engine/rules/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { alertFleet, CONVERGED, HOOK_SECRET, HOOK_SECRET_ENV, alertEngineOptions, startWebhookReceiver, TestClock, type ReceivedHook, type WebhookReceiver } from './support.ts';

interface AlertDetail {
  id: string;
  deliveries: {
    id: string;
    event: string;
    target: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    history: { attempt: number; statusCode: number | null; error: string | null }[];
  }[];
}

let db: TestDatabase;
let repo: FleetRepo;
let receiver: WebhookReceiver;
let server: TestEngine;
const clock = new TestClock(new Date('2026-11-22T08:00:00Z'));

function engineOptions() {
  return alertEngineOptions(db.url, repo.dir, clock);
}

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startWebhookReceiver();
  repo = await createFleetRepo(alertFleet(receiver.url));
  server = await startTestEngine(engineOptions());
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await db?.drop();
  await repo?.remove();
});

async function lowBattery(id: string): Promise<string> {
  const token = await registerDevice(server.url, { id });
  expect((await checkIn(server.url, id, token, checkInBody(CONVERGED, {}, { battery: 4 }))).status).toBe(200);
  await server.engine.alerts.idle();
  const list = await request<{ alerts: { id: string }[] }>(`${server.url}/v1/alerts?rule=low-battery&device=${id}`, { token: ADMIN_TOKEN });
  expect(list.body.alerts).toHaveLength(1);
  return list.body.alerts[0]!.id;
}

function hooksFor(alertId: string): ReceivedHook[] {
  return receiver.received.filter((hook) => (JSON.parse(hook.body) as { alert: { id: string } }).alert.id === alertId);
}

async function detail(alertId: string): Promise<AlertDetail> {
  const result = await request<AlertDetail>(`${server.url}/v1/alerts/${alertId}`, { token: ADMIN_TOKEN });
  expect(result.status).toBe(200);
  return result.body;
}

describe('webhook delivery', () => {
  it('a receiver that fails twice then succeeds gets exactly one successful delivery, with a valid signature', async () => {
    const failuresLeft = { n: 2 };
    receiver.respond = () => (failuresLeft.n-- > 0 ? 500 : 204);
    const alertId = await lowBattery('hook-1');
    const start = clock.now().getTime();

    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start))).toBe(1);
    // Not due again until the backoff has passed.
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 1000))).toBe(0);
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 3_600_000))).toBe(1);
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 7_200_000))).toBe(1);
    // Delivered: never sent again.
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 86_400_000))).toBe(0);

    const hooks = hooksFor(alertId);
    expect(hooks.map((h) => h.answered)).toEqual([500, 500, 204]);
    const delivered = hooks.filter((h) => h.answered < 300);
    expect(delivered).toHaveLength(1);
    const hook = delivered[0]!;
    expect(hook.path).toBe('/battery');
    const timestamp = hook.headers['x-fleetform-timestamp'] as string;
    expect(Number(timestamp)).toBe((start + 7_200_000) / 1000);
    const check = (secret: string) =>
      verifyWebhookSignature({ body: hook.body, secret, signature: hook.headers['x-fleetform-signature'] as string, timestamp, now: Number(timestamp) });
    expect(check(HOOK_SECRET)).toEqual({ ok: true });
    expect(check('some-other-secret')).toEqual({ ok: false, code: 'signature-mismatch' });
    expect(JSON.parse(hook.body)).toMatchObject({ event: 'alert.opened', alert: { id: alertId, rule: 'low-battery', deviceId: 'hook-1', status: 'open' } });

    const view = await detail(alertId);
    expect(view.deliveries).toEqual([expect.objectContaining({ event: 'alert.opened', status: 'delivered', attempts: 3, lastStatusCode: 204, lastError: null })]);
    // Every attempt is recorded, and the view names the receiver by origin only.
    expect(view.deliveries[0]!.history.map((h) => h.statusCode)).toEqual([500, 500, 204]);
    expect(view.deliveries[0]!.target).toBe(receiver.url);
  });

  it('backs off exponentially: the second retry waits about twice as long as the first', async () => {
    receiver.respond = () => 503;
    const alertId = await lowBattery('hook-2');
    const start = clock.now().getTime();
    await server.engine.alerts.deliverDueWebhooks(new Date(start));
    // random() = 0.5: delay after attempt n is 0.75 · 10 s · 2^(n-1).
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 7_400))).toBe(0);
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 7_500))).toBe(1);
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 7_500 + 14_900))).toBe(0);
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 7_500 + 15_000))).toBe(1);
    expect(hooksFor(alertId)).toHaveLength(3);
    const view = await detail(alertId);
    expect(view.deliveries[0]).toMatchObject({ status: 'pending', attempts: 3, lastStatusCode: 503, lastError: 'HTTP 503' });
  });

  it('the secret never shows in the operator view, nor its reference', async () => {
    const list = await request(`${server.url}/v1/alerts`, { token: ADMIN_TOKEN });
    expect(list.text).not.toContain(HOOK_SECRET);
    expect(list.text).not.toContain(HOOK_SECRET_ENV);
    const [first] = (list.body as { alerts: { id: string }[] }).alerts;
    const view = await request<{ deliveries: unknown[] }>(`${server.url}/v1/alerts/${first!.id}`, { token: ADMIN_TOKEN });
    // The alert has a signed delivery to show, so the view had a secret to leak.
    expect(view.body.deliveries.length).toBeGreaterThan(0);
    expect(view.text).not.toContain(HOOK_SECRET);
    expect(view.text).not.toContain(HOOK_SECRET_ENV);
  });
});

describe('engine restart', () => {
  it('a delivery that failed before the restart is delivered by the restarted engine', async () => {
    receiver.respond = () => 502;
    const alertId = await lowBattery('hook-3');
    const start = clock.now().getTime();
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start))).toBe(1);
    await server.close();

    receiver.respond = () => 200;
    server = await startTestEngine(engineOptions());
    await eventually(() => server.engine.revisions.current);
    // The new process knows nothing in memory: what is due comes from the database.
    expect(await server.engine.alerts.deliverDueWebhooks(new Date(start + 60_000))).toBeGreaterThanOrEqual(1);
    const hooks = hooksFor(alertId);
    expect(hooks.map((h) => h.answered)).toEqual([502, 200]);
    const view = await detail(alertId);
    expect(view.deliveries).toEqual([expect.objectContaining({ status: 'delivered', attempts: 2 })]);
  });

  it('a delivery queued but never attempted before the restart goes out after it', async () => {
    receiver.respond = () => 200;
    const alertId = await lowBattery('hook-4');
    await server.close();
    server = await startTestEngine(engineOptions());
    await eventually(() => server.engine.revisions.current);
    await server.engine.alerts.deliverDueWebhooks(clock.now());
    expect(hooksFor(alertId).map((h) => h.answered)).toEqual([200]);
  });
});
