// The device API refuses what it must, and a refused check-in writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
  token = await registerDevice(server.url, { id: 'dev-a' });
  await registerDevice(server.url, { id: 'dev-b' });
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

const body = checkInBody({ mcu: '1.0.0', ble: '1.0.0' });
const url = (id: string): string => `${server.url}/v1/devices/${id}/check-in`;

describe('device authentication', () => {
  it('an unknown device and a wrong token get the same 401, and nothing is stored', async () => {
    const unknown = await request(url('no-such-device'), { token, body });
    const wrong = await request(url('dev-b'), { token, body });
    const missing = await request(url('dev-a'), { body });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(missing.status).toBe(401);
    expect(wrong.text).toBe(unknown.text);
    expect(missing.text).toBe(unknown.text);
    expect(await server.engine.store.checkIns.count()).toBe(0);
  });

  it('a revoked token stops working; a rotated one replaces it', async () => {
    const id = 'dev-rot';
    const first = await registerDevice(server.url, { id });
    const rotated = await request<{ token: string }>(`${server.url}/v1/devices/${id}/token/rotate`, { token: ADMIN_TOKEN, method: 'POST' });
    expect(rotated.status).toBe(200);
    expect((await checkIn(server.url, id, first, body)).status).toBe(401);
    expect((await checkIn(server.url, id, rotated.body.token, body)).status).toBe(200);
    const revoked = await request(`${server.url}/v1/devices/${id}/token/revoke`, { token: ADMIN_TOKEN, method: 'POST' });
    expect(revoked.status).toBe(204);
    expect((await checkIn(server.url, id, rotated.body.token, body)).status).toBe(401);
  });

  it('the device token is never shown after registration', async () => {
    const view = await request(`${server.url}/v1/devices/dev-a`, { token: ADMIN_TOKEN });
    expect(view.text).not.toContain(token);
    expect(view.text).not.toMatch(/tokenHash|token_hash/);
  });
});

describe('check-in bodies', () => {
  it('a body missing a required field is a 400 naming it, and nothing is stored', async () => {
    const before = await server.engine.store.checkIns.count('dev-a');
    const result = await request<{ error: { code: string; field: string } }>(url('dev-a'), {
      token,
      body: { reported: { configHash: null }, telemetry: { time: '2026-11-22T08:00:00Z' } },
    });
    expect(result.status).toBe(400);
    expect(result.body.error).toMatchObject({ code: 'invalid-request', field: '/reported/firmware' });
    expect(await server.engine.store.checkIns.count('dev-a')).toBe(before);
  });

  it('a value out of range names its JSON path', async () => {
    const result = await request<{ error: { field: string } }>(url('dev-a'), {
      token,
      body: checkInBody({ mcu: '1.0.0' }, {}, { battery: 140 }),
    });
    expect(result.status).toBe(400);
    expect(result.body.error.field).toBe('/telemetry/battery');
  });

  it('malformed JSON is a 400 with a JSON error body', async () => {
    const result = await request<{ error: { code: string } }>(url('dev-a'), { token, rawBody: '{"reported": ' });
    expect(result.status).toBe(400);
    expect(result.body.error.code).toBe('malformed-json');
  });

  it('an oversized body is a 413, and nothing is stored', async () => {
    const before = await server.engine.store.checkIns.count('dev-a');
    const huge = checkInBody({ mcu: '1.0.0', ble: '1.0.0' }, { state: { blob: 'x'.repeat(64 * 1024) } });
    const result = await request<{ error: { code: string } }>(url('dev-a'), { token, body: huge });
    expect(result.status).toBe(413);
    expect(result.body.error.code).toBe('payload-too-large');
    expect(await server.engine.store.checkIns.count('dev-a')).toBe(before);
  });

  it('a valid check-in is stored before it is answered', async () => {
    const before = await server.engine.store.checkIns.count('dev-a');
    const result = await checkIn(server.url, 'dev-a', token, body);
    expect(result.status).toBe(200);
    expect(await server.engine.store.checkIns.count('dev-a')).toBe(before + 1);
  });
});

describe('check-in frequency', () => {
  it('a device checking in again too soon gets 429 with Retry-After, and that attempt is not stored', async () => {
    const strict = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir, minCheckInIntervalMs: 60_000 });
    try {
      await eventually(() => strict.engine.revisions.current);
      const deviceToken = await registerDevice(strict.url, { id: 'dev-chatty' });
      expect((await checkIn(strict.url, 'dev-chatty', deviceToken, body)).status).toBe(200);
      const again = await checkIn(strict.url, 'dev-chatty', deviceToken, body);
      expect(again.status).toBe(429);
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await strict.engine.store.checkIns.count('dev-chatty')).toBe(1);
    } finally {
      await strict.close();
    }
  });
});

describe('commands', () => {
  it('a queued command is delivered at the next check-in and its result recorded', async () => {
    const queued = await request<{ id: string; status: string }>(`${server.url}/v1/devices/dev-a/commands`, {
      token: ADMIN_TOKEN,
      body: { type: 'lock-movement', params: { locked: true } },
    });
    expect(queued.status).toBe(201);
    const delivered = await checkIn(server.url, 'dev-a', token, body);
    expect(delivered.body.commands).toEqual([{ id: queued.body.id, type: 'lock-movement', params: { locked: true } }]);
    await checkIn(server.url, 'dev-a', token, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }, { commandResults: [{ id: queued.body.id, status: 'succeeded' }] }));
    const commands = await request<{ commands: { id: string; status: string }[] }>(`${server.url}/v1/devices/dev-a/commands`, { token: ADMIN_TOKEN });
    expect(commands.body.commands.find((c) => c.id === queued.body.id)?.status).toBe('succeeded');
    const after = await checkIn(server.url, 'dev-a', token, body);
    expect(after.body.commands).toEqual([]);
  });

  it('a device cannot answer for another device’s command', async () => {
    const queued = await request<{ id: string }>(`${server.url}/v1/devices/dev-b/commands`, { token: ADMIN_TOKEN, body: { type: 'reboot' } });
    await checkIn(server.url, 'dev-a', token, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }, { commandResults: [{ id: queued.body.id, status: 'failed' }] }));
    const commands = await request<{ commands: { id: string; status: string }[] }>(`${server.url}/v1/devices/dev-b/commands`, { token: ADMIN_TOKEN });
    expect(commands.body.commands.find((c) => c.id === queued.body.id)?.status).toBe('queued');
  });
});
