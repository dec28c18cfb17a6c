// The engine judges a merge with the same checks as `fleetform validate`: what validate rejects is never applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, eventually, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet());
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

async function rejectedIssues(sha: string): Promise<{ code: string; file: string; line: number }[]> {
  const revision = await eventually(async () => {
    const result = await request<{ status: string; issues: { code: string; file: string; line: number }[] }>(`${server.url}/v1/revisions/${sha}`, {
      token: ADMIN_TOKEN,
    });
    return result.status === 200 ? result.body : null;
  });
  expect(revision.status).toBe('rejected');
  return revision.issues;
}

describe('a merge the engine must refuse', () => {
  it('an alert rule over a fact that does not exist is rejected, not silently false', async () => {
    const applied = server.engine.revisions.current?.sha;
    const sha = await repo.commit(
      {
        'rules/battery.yaml': `apiVersion: fleetform/v1
kind: AlertRule
metadata:
  name: low-battery
spec:
  scope: device
  severity: warning
  conditions:
    all:
      - { fact: batteryLevel, operator: lessThan, value: 15 }
`,
      },
      'Alert on a fact nobody reports',
    );
    const issues = await rejectedIssues(sha);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'unknown-fact', file: 'rules/battery.yaml', line: 10 }));
    expect(server.engine.revisions.current?.sha).toBe(applied);
  });

  it('a rollout target no known-good combination can reach is rejected', async () => {
    const applied = server.engine.revisions.current?.sha;
    // Without app-2 (mcu 1.1.0 + ble 1.0.0), app-1 cannot reach app-3 one component at a time.
    const matrix = fixtureFleet()['firmware-manifests/tr-matrix.yaml']!.replace(/^.*app-2.*\n/m, '');
    const sha = await repo.commit(
      { 'firmware-manifests/tr-matrix.yaml': matrix, 'firmware-manifests/tr-rollout.yaml': rolloutYaml({ target: 'app-3' }), 'rules/battery.yaml': null },
      'Retire app-2',
    );
    const issues = await rejectedIssues(sha);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'unreachable-target', file: 'firmware-manifests/tr-rollout.yaml' }));
    expect(server.engine.revisions.current?.sha).toBe(applied);
  });
});
