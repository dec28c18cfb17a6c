// Operators see what their role and tenants allow, and never a secret or a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;

async function operatorToken(role: string, tenants: string[]): Promise<string> {
  const result = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name: `${role}-${tenants.join('+')}`, role, tenants } });
  expect(result.status).toBe(201);
  return result.body.token;
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
  await registerDevice(server.url, { id: 'acme-1', site: 'plant-1' });
  await registerDevice(server.url, { id: 'globex-1', site: 'depot-9' });
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

describe('tenant scope', () => {
  it('a token scoped to one tenant lists only that tenant’s devices', async () => {
    const acme = await operatorToken('viewer', ['acme']);
    const list = await request<{ devices: { id: string; tenant: string }[] }>(`${server.url}/v1/devices`, { token: acme });
    expect(list.body.devices.map((d) => d.id)).toEqual(['acme-1']);
  });

  it('another tenant’s device does not exist for it', async () => {
    const acme = await operatorToken('operator', ['acme']);
    expect((await request(`${server.url}/v1/devices/globex-1`, { token: acme })).status).toBe(404);
    expect((await request(`${server.url}/v1/devices/globex-1/commands`, { token: acme, body: { type: 'reboot' } })).status).toBe(404);
  });

  it('a token cannot register a device at another tenant’s site', async () => {
    const acme = await operatorToken('operator', ['acme']);
    const result = await request<{ error: { code: string } }>(`${server.url}/v1/devices`, { token: acme, body: { id: 'sneaky', profile: 'tracker', site: 'depot-9' } });
    expect(result.status).toBe(403);
  });
});

describe('roles', () => {
  it('a viewer reads but cannot register or command', async () => {
    const viewer = await operatorToken('viewer', ['*']);
    expect((await request(`${server.url}/v1/devices/acme-1`, { token: viewer })).status).toBe(200);
    expect((await request(`${server.url}/v1/devices`, { token: viewer, body: { id: 'v-1', profile: 'tracker', site: 'plant-1' } })).status).toBe(403);
    expect((await request(`${server.url}/v1/devices/acme-1/commands`, { token: viewer, body: { type: 'reboot' } })).status).toBe(403);
  });

  it('an operator cannot mint operator tokens', async () => {
    const operator = await operatorToken('operator', ['*']);
    const result = await request(`${server.url}/v1/operator-tokens`, { token: operator, body: { name: 'x', role: 'admin', tenants: ['*'] } });
    expect(result.status).toBe(403);
  });

  it('no token or an unknown one is a 401', async () => {
    expect((await request(`${server.url}/v1/devices`)).status).toBe(401);
    expect((await request(`${server.url}/v1/devices`, { token: 'ffo_nope' })).status).toBe(401);
  });
});

describe('registration', () => {
  it('names the unknown site or profile', async () => {
    const site = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/devices`, {
      token: ADMIN_TOKEN,
      body: { id: 'x-1', profile: 'tracker', site: 'atlantis' },
    });
    expect(site.status).toBe(400);
    expect(site.body.error).toMatchObject({ code: 'unknown-site', field: '/site' });
  });

  it('a device id registers once', async () => {
    const again = await request<{ error: { code: string } }>(`${server.url}/v1/devices`, { token: ADMIN_TOKEN, body: { id: 'acme-1', profile: 'tracker', site: 'plant-1' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('device-exists');
  });
});

describe('fleet views', () => {
  it('filters devices by site, profile and status', async () => {
    const bySite = await request<{ devices: { id: string }[] }>(`${server.url}/v1/devices?site=depot-9`, { token: ADMIN_TOKEN });
    expect(bySite.body.devices.map((d) => d.id)).toEqual(['globex-1']);
    const pending = await request<{ devices: { id: string }[] }>(`${server.url}/v1/devices?status=pending&profile=tracker`, { token: ADMIN_TOKEN });
    expect(pending.body.devices.map((d) => d.id).sort()).toEqual(['acme-1', 'globex-1']);
  });

  it('pages the device list, and refuses a malformed page or an unknown status naming the parameter', async () => {
    const first = await request<{ devices: { id: string }[] }>(`${server.url}/v1/devices?limit=1`, { token: ADMIN_TOKEN });
    const second = await request<{ devices: { id: string }[] }>(`${server.url}/v1/devices?limit=1&offset=1`, { token: ADMIN_TOKEN });
    expect(first.body.devices).toHaveLength(1);
    expect(second.body.devices).toHaveLength(1);
    expect(second.body.devices[0]?.id).not.toBe(first.body.devices[0]?.id);
    for (const [query, field] of [
      ['limit=ten', '/limit'],
      ['limit=0', '/limit'],
      ['limit=5000', '/limit'],
      ['limit=1.5', '/limit'],
      ['offset=-1', '/offset'],
      ['status=asleep', '/status'],
      ['site=a&site=b', '/site'],
    ] as const) {
      const result = await request<{ error: { code: string; field: string } }>(`${server.url}/v1/devices?${query}`, { token: ADMIN_TOKEN });
      expect(result.status, query).toBe(400);
      expect(result.body.error, query).toMatchObject({ code: 'invalid-request', field });
    }
  });

  it('shows a rollout with its waves and steps in flight', async () => {
    const list = await request<{ rollouts: { name: string }[] }>(`${server.url}/v1/rollouts`, { token: ADMIN_TOKEN });
    expect(list.body.rollouts.map((r) => r.name)).toEqual(['tr-upgrade']);
    const token = await registerDevice(server.url, { id: 'acme-roll' });
    await checkIn(server.url, 'acme-roll', token, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }));
    const detail = await request<{ inFlight: number; paused: boolean; waves: { name: string; open: boolean }[] }>(`${server.url}/v1/rollouts/tr-upgrade`, { token: ADMIN_TOKEN });
    // Every tracker is in the one 100 % wave: acme-1, globex-1 (never checked in) and acme-roll (step in flight).
    expect(detail.body).toMatchObject({ inFlight: 1, paused: false, waves: [{ name: 'all', open: true, devices: 3, eligible: 3, inFlight: 1 }] });
    const globex = await operatorToken('viewer', ['globex']);
    const scoped = await request<{ waves: { devices: number }[] }>(`${server.url}/v1/rollouts/tr-upgrade`, { token: globex });
    expect(scoped.body.waves[0]?.devices).toBe(1);
    expect((await request(`${server.url}/v1/rollouts/nope`, { token: ADMIN_TOKEN })).status).toBe(404);
  });

  it('exposes Prometheus metrics and readiness', async () => {
    const metrics = await request(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('fleetform_check_ins_total{outcome="answered"}');
    expect(metrics.text).toContain('fleetform_http_request_duration_seconds_bucket');
    expect(metrics.text).toMatch(/fleetform_devices\{status="upgrading"\} 1/);
    expect(metrics.text).toContain(`fleetform_revision_applied{revision="${repo.head()}"}`);
    expect((await request(`${server.url}/healthz`)).status).toBe(200);
    const ready = await request<{ status: string }>(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('an unknown route is a JSON 404', async () => {
    const result = await request<{ error: { code: string } }>(`${server.url}/v1/nothing-here`);
    expect(result.status).toBe(404);
    expect(result.body.error.code).toBe('not-found');
  });
});
