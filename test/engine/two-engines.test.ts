// Two engine processes on one database: both serve check-ins, exactly one follows git.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';
import { checkIn, checkInBody, eventually, registerDevice, startTestEngine, type TestEngine } from '../support/engine.ts';

let db: TestDatabase;
let repo: FleetRepo;
let first: TestEngine;
let second: TestEngine;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createFleetRepo(fixtureFleet({ maxInFlightPerCell: 3 }));
  first = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  second = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  await eventually(() => first.engine.revisions.current && second.engine.revisions.current);
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await db?.drop();
  await repo?.remove();
});

describe('two engines on one database', () => {
  it('exactly one follows git', () => {
    expect([first.engine.revisions.isLeader, second.engine.revisions.isLeader].filter(Boolean)).toHaveLength(1);
  });

  it('a commit is recorded once and reaches both engines', async () => {
    const sha = await repo.commit({ 'firmware-manifests/tr-rollout.yaml': rolloutYaml({ target: 'app-4', maxInFlightPerCell: 3 }) }, 'Target app-4');
    await eventually(() => first.engine.revisions.current?.sha === sha && second.engine.revisions.current?.sha === sha);
    const revisions = await first.engine.store.revisions.list();
    expect(revisions.filter((r) => r.sha === sha)).toHaveLength(1);
  });

  it('concurrent check-ins through both engines never exceed the per-cell throttle', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => `storm-${i}`);
    const tokens = await Promise.all(ids.map((id) => registerDevice(first.url, { id })));
    const answers = await Promise.all(
      ids.map((id, i) => checkIn(i % 2 === 0 ? first.url : second.url, id, tokens[i] ?? '', checkInBody({ mcu: '1.0.0', ble: '1.0.0' }))),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.firmware !== null)).toHaveLength(3);
    const counts = await first.engine.store.slots.inFlightCounts('tr-upgrade');
    expect(counts.perCell.get('310-410-1-11')).toBe(3);
  });

  it('a slot freed by a finished step goes to the next device', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => `storm-${i}`);
    const holders: string[] = [];
    for (const id of ids) {
      const device = await first.engine.store.devices.get(id);
      if (device?.firmwareState.phase === 'in-flight') holders.push(id);
    }
    expect(holders).toHaveLength(3);
    const holder = holders[0] ?? '';
    const step = (await first.engine.store.devices.get(holder))?.firmwareState.step;
    // Rotate to learn a token for the holder: registration tokens are not kept.
    const rotated = await first.engine.rotateDeviceToken('ffo_test-admin-token-not-secret', holder);
    const token = (rotated as { token: string }).token;
    const done = await checkIn(second.url, holder, token, checkInBody({ mcu: step?.to ?? '', ble: '1.0.0' }));
    expect(done.status).toBe(200);
    const waiting = ids.find((id) => !holders.includes(id)) ?? '';
    const waitingToken = ((await first.engine.rotateDeviceToken('ffo_test-admin-token-not-secret', waiting)) as { token: string }).token;
    const next = await checkIn(first.url, waiting, waitingToken, checkInBody({ mcu: '1.0.0', ble: '1.0.0' }));
    expect(next.body.firmware).not.toBeNull();
  });

  it('when the follower stops, the other engine takes over following git', async () => {
    const [leader, other] = first.engine.revisions.isLeader ? [first, second] : [second, first];
    await leader.close();
    await eventually(() => other.engine.revisions.isLeader);
    const sha = await repo.commit({ 'firmware-manifests/tr-rollout.yaml': rolloutYaml({ target: 'app-3', maxInFlightPerCell: 3 }) }, 'Back to app-3');
    await eventually(() => other.engine.revisions.current?.sha === sha);
    const restarted = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
    if (leader === first) first = restarted;
    else second = restarted;
    // The restarted engine resumes from the last applied revision, and does not take git over.
    await eventually(() => restarted.engine.revisions.current?.sha === sha);
    expect(restarted.engine.revisions.isLeader).toBe(false);
  });
});
