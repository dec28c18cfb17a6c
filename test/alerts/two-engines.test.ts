// Two engines on one database: an alert is opened once whichever engine sees the check-ins,
// and a webhook delivery claimed by both workers at once goes out once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { alertFleet, CONVERGED, alertEngineOptions, startWebhookReceiver, TestClock, type WebhookReceiver } from './support.ts';

let db: TestDatabase;
let repo: FleetRepo;
let receiver: WebhookReceiver;
let a: TestEngine;
let b: TestEngine;
const clock = new TestClock(new Date('2026-11-22T08:00:00Z'));

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startWebhookReceiver();
  repo = await createFleetRepo(alertFleet(receiver.url));
  const options = alertEngineOptions(db.url, repo.dir, clock);
  a = await startTestEngine(options);
  b = await startTestEngine(options);
  await eventually(() => a.engine.revisions.current && b.engine.revisions.current);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await receiver?.close();
  await db?.drop();
  await repo?.remove();
});

async function report(server: TestEngine, id: string, token: string, battery: number): Promise<void> {
  expect((await checkIn(server.url, id, token, checkInBody(CONVERGED, {}, { battery }))).status).toBe(200);
  await server.engine.alerts.idle();
}

async function lowBattery(id: string): Promise<{ id: string; status: string; inHoldDownSince: string | null }[]> {
  const list = await request<{ alerts: { id: string; status: string; inHoldDownSince: string | null }[] }>(`${a.url}/v1/alerts?rule=low-battery&device=${id}`, { token: ADMIN_TOKEN });
  return list.body.alerts;
}

describe('two engines', () => {
  it('check-ins through either engine open one alert, and the hold-down counts from the first clear reading', async () => {
    const token = await registerDevice(a.url, { id: 'twin-1' });
    await report(a, 'twin-1', token, 5);
    clock.advance(600);
    // Engine b has not seen this alert: its opening meets the stored one and adopts it.
    await report(b, 'twin-1', token, 5);
    const alerts = await lowBattery('twin-1');
    expect(alerts).toHaveLength(1);

    clock.advance(600);
    const firstClear = clock.now().toISOString();
    await report(b, 'twin-1', token, 80);
    clock.advance(600);
    // Engine a's cache is behind (it never saw the hold-down start): the earlier start stands.
    await report(a, 'twin-1', token, 80);
    expect((await lowBattery('twin-1'))[0]).toMatchObject({ id: alerts[0]!.id, status: 'open', inHoldDownSince: firstClear });
  });

  it('a delivery due for both engines’ workers goes out once', async () => {
    receiver.respond = () => 200;
    const before = receiver.received.length;
    const due = new Date(clock.now().getTime() + 1000);
    const [fromA, fromB] = await Promise.all([a.engine.alerts.deliverDueWebhooks(due), b.engine.alerts.deliverDueWebhooks(due)]);
    expect(fromA + fromB).toBe(1);
    expect(receiver.received.length - before).toBe(1);
  });
});
