// GET /v1/revisions/{sha}/plan: the review a pull request gets, computed by the engine against the
// devices it knows, the same as `fleetform diff --database-url` prints.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Review } from '../../engine/review/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { fleetform } from '../review/cli.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
let applied: string;
/** A pull request's head: target app-4 instead of app-3, on a branch the engine does not follow. */
let proposal: string;

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo.dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Reviewer', GIT_AUTHOR_EMAIL: 'r@example.com', GIT_COMMITTER_NAME: 'Reviewer', GIT_COMMITTER_EMAIL: 'r@example.com' },
  }).trim();
}

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  applied = (await eventually(() => server.engine.revisions.current)).sha;
  // Two acme devices at app-1 and app-3, one globex device at app-1.
  const fleet = [
    { id: 'acme-old', site: 'plant-1', firmware: { mcu: '1.0.0', ble: '1.0.0' } },
    { id: 'acme-new', site: 'plant-1', firmware: { mcu: '1.1.0', ble: '2.0.0' } },
    { id: 'globex-old', site: 'depot-9', firmware: { mcu: '1.0.0', ble: '1.0.0' } },
  ];
  for (const device of fleet) {
    const token = await registerDevice(server.url, { id: device.id, site: device.site });
    expect((await checkIn(server.url, device.id, token, checkInBody(device.firmware))).status).toBe(200);
  }
  git('checkout', '-q', '-b', 'target-app-4');
  await writeFile(join(repo.dir, 'firmware-manifests/tr-rollout.yaml'), rolloutYaml({ target: 'app-4' }));
  git('commit', '-q', '-am', 'Roll trackers on to app-4');
  proposal = git('rev-parse', 'HEAD');
  git('checkout', '-q', 'main');
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

type PlanJson = Review & { summary: string };

describe('GET /v1/revisions/{sha}/plan', () => {
  it('reviews a commit against the applied revision: per-path device counts from the reported states', async () => {
    const plan = await request<PlanJson>(`${server.url}/v1/revisions/${proposal}/plan`, { token: ADMIN_TOKEN });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.body.base.revision).toBe(applied);
    expect(plan.body.head.revision).toBe(proposal);
    expect(plan.body.headValid).toBe(true);
    expect(plan.body.resources.map((r) => `${r.kind}/${r.name}:${r.type}`)).toEqual(['Rollout/tr-upgrade:changed']);
    const impact = plan.body.impact!;
    expect(impact.devices).toBe(3);
    const paths = impact.firmware.paths.map((p) => ({ from: p.from, to: p.to, steps: p.steps, devices: p.devices }));
    expect(paths).toEqual(
      expect.arrayContaining([
        { from: 'app-1', to: 'app-4', steps: 3, devices: 2 },
        { from: 'app-3', to: 'app-4', steps: 1, devices: 1 },
      ]),
    );
    expect(paths).toHaveLength(2);
  });

  it('prints the same markdown as `fleetform diff --database-url`', async () => {
    const plan = await request(`${server.url}/v1/revisions/${proposal}/plan?base=${applied}&format=markdown`, { token: ADMIN_TOKEN });
    expect(plan.status).toBe(200);
    expect(plan.headers.get('content-type')).toMatch(/^text\/markdown/);
    const cli = await fleetform(repo.dir, 'diff', applied, proposal, '--format', 'markdown', '--database-url', db.url);
    expect(cli.code, cli.stderr).toBe(0);
    expect(plan.text).toBe(cli.stdout);
  });

  it('counts only the devices of the operator’s tenants', async () => {
    const acme = await request<{ token: string }>(`${server.url}/v1/operator-tokens`, { token: ADMIN_TOKEN, body: { name: 'acme-viewer', role: 'viewer', tenants: ['acme'] } });
    const plan = await request<PlanJson>(`${server.url}/v1/revisions/${proposal}/plan`, { token: acme.body.token });
    expect(plan.body.impact?.devices).toBe(2);
    expect(plan.body.impact?.firmware.paths.reduce((n, p) => n + p.devices, 0)).toBe(2);
  });

  it('refuses what it cannot review, naming the parameter', async () => {
    expect((await request(`${server.url}/v1/revisions/${proposal}/plan`)).status).toBe(401);
    const unknown = await request<{ error: { code: string; message: string } }>(`${server.url}/v1/revisions/${'0'.repeat(40)}/plan`, { token: ADMIN_TOKEN });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/not in the engine's repository/);
    for (const [path, field] of [
      [`main/plan`, '/sha'],
      [`${proposal}/plan?base=HEAD~1`, '/base'],
      [`${proposal}/plan?format=pdf`, '/format'],
    ] as const) {
      const refused = await request<{ error: { field: string } }>(`${server.url}/v1/revisions/${path}`, { token: ADMIN_TOKEN });
      expect(refused.status, path).toBe(400);
      expect(refused.body.error.field, path).toBe(field);
    }
  });
});
