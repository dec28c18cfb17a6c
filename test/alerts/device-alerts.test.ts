// Device rules in the running engine: an alert opens once per (rule, key), resolves after its
// hold-down, and its command action reaches the device at its next check-in.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckInRequest } from '../../engine/model/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { alertFleet, CONVERGED, alertEngineOptions, startWebhookReceiver, TestClock, type WebhookReceiver } from './support.ts';

interface AlertView {
  id: string;
  rule: string;
  status: string;
  severity: string;
  deviceId: string | null;
  site: string | null;
  tenant: string | null;
  inHoldDownSince: string | null;
  resolvedAt: string | null;
}

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let receiver: WebhookReceiver;
const clock = new TestClock(new Date('2026-11-22T08:00:00Z'));

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startWebhookReceiver();
  repo = await createFleetRepo(alertFleet(receiver.url));
  server = await startTestEngine(alertEngineOptions(db.url, repo.dir, clock));
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await db?.drop();
  await repo?.remove();
});

async function report(id: string, token: string, telemetry: Partial<CheckInRequest['telemetry']>, state?: Record<string, boolean>) {
  const result = await checkIn(server.url, id, token, checkInBody(CONVERGED, state ? { state } : {}, telemetry));
  expect(result.status).toBe(200);
  // Alert changes are written after the answer: wait for them before looking.
  await server.engine.alerts.idle();
  return result.body;
}

async function alerts(query: string, token = ADMIN_TOKEN): Promise<AlertView[]> {
  const result = await request<{ alerts: AlertView[] }>(`${server.url}/v1/alerts?${query}`, { token });
  expect(result.status).toBe(200);
  return result.body.alerts;
}

async function operatorToken(role: string, tenants: string[]): Promise<string> {
  const result = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name: `${role}-${tenants.join('+')}`, role, tenants } });
  expect(result.status).toBe(201);
  return result.body.token;
}

describe('low battery', () => {
  it('battery 5 opens the low-battery alert once; a second such check-in does not duplicate it', async () => {
    const token = await registerDevice(server.url, { id: 'bat-1' });
    await report('bat-1', token, { battery: 5 });
    const opened = await alerts('rule=low-battery&device=bat-1');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ status: 'open', severity: 'warning', deviceId: 'bat-1', site: 'plant-1', tenant: 'acme' });

    clock.advance(600);
    await report('bat-1', token, { battery: 5 });
    const again = await alerts('rule=low-battery&device=bat-1');
    expect(again.map((a) => a.id)).toEqual([opened[0]!.id]);
  });

  it('battery 80 resolves it only after the hold-down, and the history stays', async () => {
    const token = (await request<{ token: string }>(`${server.url}/v1/devices/bat-1/token/rotate`, { token: ADMIN_TOKEN, method: 'POST' })).body.token;
    clock.advance(600);
    await report('bat-1', token, { battery: 80 });
    const holding = await alerts('rule=low-battery&device=bat-1');
    expect(holding).toHaveLength(1);
    expect(holding[0]!.status).toBe('open');
    expect(holding[0]!.inHoldDownSince).toBe(clock.now().toISOString());

    clock.advance(1800);
    await report('bat-1', token, { battery: 80 });
    expect((await alerts('rule=low-battery&device=bat-1'))[0]!.status).toBe('open');

    clock.advance(1800);
    await report('bat-1', token, { battery: 81 });
    const resolved = await alerts('rule=low-battery&device=bat-1');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ status: 'resolved', resolvedAt: clock.now().toISOString() });

    // A new drop opens a new alert; the resolved one is kept as history.
    clock.advance(600);
    await report('bat-1', token, { battery: 4 });
    const history = await alerts('rule=low-battery&device=bat-1');
    expect(history.map((a) => a.status).sort()).toEqual(['open', 'resolved']);
  });

  it('a battery that recovers before the hold-down ends keeps the same alert open', async () => {
    const token = await registerDevice(server.url, { id: 'bat-2' });
    await report('bat-2', token, { battery: 9 });
    clock.advance(600);
    await report('bat-2', token, { battery: 50 });
    clock.advance(600);
    await report('bat-2', token, { battery: 8 });
    clock.advance(3600);
    await report('bat-2', token, { battery: 8 });
    const list = await alerts('rule=low-battery&device=bat-2');
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'open', inHoldDownSince: null });
  });
});

describe('missing readings', () => {
  it('a check-in without a battery reading neither starts the hold-down nor resolves the alert', async () => {
    const token = await registerDevice(server.url, { id: 'bat-3' });
    await report('bat-3', token, { battery: 6 });
    for (let i = 0; i < 3; i++) {
      clock.advance(3600);
      await report('bat-3', token, { battery: undefined });
    }
    const list = await alerts('rule=low-battery&device=bat-3');
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'open', inHoldDownSince: null });
  });
});

describe('movement while locked', () => {
  it('a locked device that moves gets the theft-recovery command at its next check-in', async () => {
    const token = await registerDevice(server.url, { id: 'car-1', site: 'lot-7' });
    const parked = await report('car-1', token, { movement: false }, { movementLock: true });
    expect(parked.commands).toEqual([]);
    expect(await alerts('rule=movement-while-locked')).toEqual([]);

    clock.advance(600);
    const moved = await report('car-1', token, { movement: true }, { movementLock: true });
    // Queued after this check-in was answered: it goes out with the next one.
    expect(moved.commands).toEqual([]);
    expect(await alerts('rule=movement-while-locked&device=car-1')).toHaveLength(1);

    clock.advance(60);
    const next = await report('car-1', token, { movement: true }, { movementLock: true });
    expect(next.commands).toHaveLength(1);
    expect(next.commands[0]).toMatchObject({ type: 'enable-theft-recovery', params: { reportIntervalSeconds: 60 } });

    // Still moving: the same alert, and no second command.
    clock.advance(60);
    const after = await report('car-1', token, { movement: true }, { movementLock: true, theftRecovery: true });
    expect(after.commands.filter((c) => c.type === 'enable-theft-recovery')).toHaveLength(1); // delivered, not yet answered
    expect(await alerts('rule=movement-while-locked&device=car-1')).toHaveLength(1);
    const commands = await request<{ commands: { type: string; createdBy: string }[] }>(`${server.url}/v1/devices/car-1/commands`, { token: ADMIN_TOKEN });
    expect(commands.body.commands.filter((c) => c.type === 'enable-theft-recovery')).toEqual([expect.objectContaining({ createdBy: 'alert:movement-while-locked' })]);
  });

  it('an unlocked device that moves raises nothing', async () => {
    const token = await registerDevice(server.url, { id: 'car-2', site: 'lot-7' });
    const answer = await report('car-2', token, { movement: true }, { movementLock: false });
    expect(answer.commands).toEqual([]);
    expect(await alerts('rule=movement-while-locked&device=car-2')).toEqual([]);
  });
});

describe('operator API', () => {
  it('filters by status, severity, site and rule', async () => {
    const critical = await alerts('severity=critical');
    expect(critical.length).toBeGreaterThan(0);
    expect(critical.every((a) => a.severity === 'critical')).toBe(true);
    expect((await alerts('site=lot-7')).every((a) => a.site === 'lot-7')).toBe(true);
    expect((await alerts('status=resolved')).every((a) => a.status === 'resolved')).toBe(true);
    const bad = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/alerts?severity=urgent`, { token: ADMIN_TOKEN });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('/severity');
  });

  it('an operator acknowledges; a viewer cannot; a resolved alert cannot be acknowledged', async () => {
    const [open] = await alerts('rule=low-battery&device=bat-2');
    const viewer = await operatorToken('viewer', ['*']);
    expect((await request(`${server.url}/v1/alerts/${open!.id}/ack`, { token: viewer, method: 'POST' })).status).toBe(403);
    const operator = await operatorToken('operator', ['acme']);
    const acked = await request<AlertView & { acknowledgedBy: string }>(`${server.url}/v1/alerts/${open!.id}/ack`, { token: operator, method: 'POST' });
    expect(acked.status).toBe(200);
    expect(acked.body.status).toBe('acknowledged');
    const resolved = (await alerts('rule=low-battery&device=bat-1&status=resolved'))[0]!;
    const refused = await request<{ error: { code: string } }>(`${server.url}/v1/alerts/${resolved.id}/ack`, { token: operator, method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('alert-resolved');
  });

  it('an acknowledged alert still resolves when its condition clears', async () => {
    const token = (await request<{ token: string }>(`${server.url}/v1/devices/bat-2/token/rotate`, { token: ADMIN_TOKEN, method: 'POST' })).body.token;
    clock.advance(600);
    await report('bat-2', token, { battery: 90 });
    clock.advance(3600);
    await report('bat-2', token, { battery: 90 });
    const list = await alerts('rule=low-battery&device=bat-2');
    expect(list.map((a) => a.status)).toEqual(['resolved']);
  });

  it('a token sees only its tenants’ alerts', async () => {
    const globexToken = await registerDevice(server.url, { id: 'gx-1', site: 'depot-9' });
    await report('gx-1', globexToken, { battery: 3 });
    const globex = await operatorToken('viewer', ['globex']);
    const acme = await operatorToken('viewer', ['acme']);
    const seenByGlobex = await alerts('', globex);
    expect(seenByGlobex.map((a) => a.deviceId)).toEqual(['gx-1']);
    const seenByAcme = await alerts('', acme);
    expect(seenByAcme.length).toBeGreaterThan(0);
    expect(seenByAcme.some((a) => a.deviceId === 'gx-1')).toBe(false);
    const hidden = seenByAcme[0]!;
    expect((await request(`${server.url}/v1/alerts/${hidden.id}`, { token: globex })).status).toBe(404);
    expect((await request(`${server.url}/v1/alerts/${hidden.id}`, { token: acme })).status).toBe(200);
  });

  it('the metrics count active alerts by rule and severity', async () => {
    const metrics = await request(`${server.url}/metrics`);
    const active = await alerts('status=active&rule=low-battery');
    const line = metrics.text.split('\n').find((l) => l.startsWith('fleetform_alerts_open{') && l.includes('rule="low-battery"') && l.includes('status="open"'));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').at(-1))).toBe(active.filter((a) => a.status === 'open').length);
  });
});

describe('cell towers and location', () => {
  it('refuses a malformed tower batch, naming the field, and needs the operator role', async () => {
    const bad = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/cell-towers`, {
      token: ADMIN_TOKEN,
      body: { towers: [{ mcc: 262, mnc: 1, lac: 5, cid: 9, lat: 48.1, lon: 11.5 }, { mcc: 262, mnc: 1, lac: 5, cid: 10, lat: 123, lon: 11.5 }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('/towers/1/lat');
    const viewer = await operatorToken('viewer', ['*']);
    expect((await request(`${server.url}/v1/cell-towers`, { token: viewer, body: { towers: [] } })).status).toBe(403);
  });

  it('an imported tower locates a device on a cell no site declares, with the tower’s range as accuracy; stored with the telemetry', async () => {
    const imported = await request<{ upserted: number }>(`${server.url}/v1/cell-towers`, {
      token: ADMIN_TOKEN,
      body: { towers: [{ mcc: 262, mnc: 1, lac: 5, cid: 9, lat: 48.137, lon: 11.575, rangeM: 2500 }] },
    });
    expect(imported.status).toBe(200);
    expect(imported.body.upserted).toBe(1);
    const token = await registerDevice(server.url, { id: 'cell-1' });
    await report('cell-1', token, { cell: { mcc: 262, mnc: 1, lac: 5, cid: 9 } });
    const device = await request<{ lastLocation: unknown }>(`${server.url}/v1/devices/cell-1`, { token: ADMIN_TOKEN });
    expect(device.body.lastLocation).toEqual({ source: 'cell', lat: 48.137, lon: 11.575, accuracyM: 2500 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = await client.query<{ location: unknown }>(`select location from check_in where device_id = 'cell-1'`);
      expect(rows.rows).toEqual([{ location: { source: 'cell', lat: 48.137, lon: 11.575, accuracyM: 2500 } }]);
    } finally {
      await client.end();
    }
  });

  it('a site’s declared tower wins over an imported one for the same cell', async () => {
    await request(`${server.url}/v1/cell-towers`, { token: ADMIN_TOKEN, body: { towers: [{ mcc: 310, mnc: 410, lac: 1, cid: 11, lat: 10, lon: 10, rangeM: 9000 }] } });
    const token = await registerDevice(server.url, { id: 'cell-2' });
    await report('cell-2', token, { cell: { mcc: 310, mnc: 410, lac: 1, cid: 11 } });
    const device = await request<{ lastLocation: unknown }>(`${server.url}/v1/devices/cell-2`, { token: ADMIN_TOKEN });
    expect(device.body.lastLocation).toEqual({ source: 'cell', lat: 40, lon: -105, accuracyM: 1500 });
  });
});
