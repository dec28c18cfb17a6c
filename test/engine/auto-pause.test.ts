// A wave that fails too often pauses its rollout; resuming takes a commit that changes the rollout.
// Pausing and unpausing in git is not such a change: the automatic pause outlives it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';
import { ADMIN_TOKEN, checkIn, checkInBody, eventually, registerDevice, request, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let server: TestEngine;
const OLD = { mcu: '1.0.0', ble: '1.0.0' };

/** The fixture rollout with an abort threshold on its one wave, optionally paused in git. */
function rollout(options: { ratio?: number; paused?: boolean } = {}): string {
  const yaml = rolloutYaml().replace('    - { name: all, percent: 100 }', `    - { name: all, percent: 100, maxFailureRatio: ${options.ratio ?? 0.5}, minDevices: 2 }`);
  return options.paused ? yaml.replace('  activeWave: all', '  activeWave: all\n  paused: true') : yaml;
}

async function commitRollout(yaml: string, message: string): Promise<void> {
  const sha = await repo.commit({ 'firmware-manifests/tr-rollout.yaml': yaml }, message);
  await eventually(() => server.engine.revisions.current?.sha === sha);
  // Read the bookkeeping back from PostgreSQL, as every engine process does.
  await server.engine.checkIns.refreshRolloutRuntimes();
}

interface RolloutView {
  paused: boolean;
  pausedReason: string | null;
  waves: { name: string; succeeded: number; failed: number }[];
}

const view = async (): Promise<RolloutView> => (await request<RolloutView>(`${server.url}/v1/rollouts/tr-upgrade`, { token: ADMIN_TOKEN })).body;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo({ ...fixtureFleet(), 'firmware-manifests/tr-rollout.yaml': rollout() });
  server = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => server.engine.revisions.current);
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
  await repo?.remove();
});

describe('automatic pause', () => {
  let late: string;

  it('pauses the rollout when the wave fails above its threshold, and hands out no more steps', async () => {
    for (const id of ['fail-1', 'fail-2']) {
      const token = await registerDevice(server.url, { id });
      const step = (await checkIn(server.url, id, token, checkInBody(OLD))).body.firmware;
      expect(step).not.toBeNull();
      await checkIn(server.url, id, token, checkInBody(OLD, { firmwareStep: { id: step!.stepId, status: 'failed', error: 'flash write error' } }));
    }
    await server.engine.checkIns.refreshRolloutRuntimes();
    const paused = await view();
    expect(paused.paused).toBe(true);
    expect(paused.pausedReason).toMatch(/all/);
    expect(paused.waves[0]).toMatchObject({ failed: 2 });
    late = await registerDevice(server.url, { id: 'late' });
    expect((await checkIn(server.url, 'late', late, checkInBody(OLD))).body.firmware).toBeNull();
  });

  it('stays paused through pausing and unpausing in git', async () => {
    await commitRollout(rollout({ paused: true }), 'Pause the tracker rollout');
    expect((await view()).pausedReason).toBe('paused in git');
    await commitRollout(rollout(), 'Unpause the tracker rollout');
    const still = await view();
    expect(still.paused).toBe(true);
    expect(still.pausedReason).not.toBe('paused in git');
    expect((await checkIn(server.url, 'late', late, checkInBody(OLD))).body.firmware).toBeNull();
  });

  it('resumes with a commit that changes the rollout, its wave counts starting afresh', async () => {
    await commitRollout(rollout({ ratio: 0.6 }), 'Flash fix shipped: resume the tracker rollout');
    const resumed = await view();
    expect(resumed).toMatchObject({ paused: false, pausedReason: null });
    expect(resumed.waves[0]).toMatchObject({ succeeded: 0, failed: 0 });
    expect((await checkIn(server.url, 'late', late, checkInBody(OLD))).body.firmware).not.toBeNull();
  });
});
