// 200 virtual devices against a real engine (real PostgreSQL, a real git repository): the whole fleet
// reaches the rollout target through valid steps only, and no tower ever carries more downloads than
// the rollout's per-cell throttle — even with failing installs and devices going silent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../engine/config/index.ts';
import { CompatibilityModel, FirmwarePlanner } from '../../engine/firmware/index.ts';
import { readWorkingTree } from '../../engine/git/index.ts';
import type { Snapshot } from '../../engine/model/index.ts';
import { formatReport, runSimulation, type SimulationReport } from '../../engine/simulate/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ADMIN_TOKEN, request, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createFleetRepo, fixtureFleet, rolloutYaml, type FleetRepo } from '../support/fleet.ts';

const DEVICES = 200;
const PER_CELL = 3;
const TOWERS_PER_SITE = 4;

let db: TestDatabase;
let repo: FleetRepo;
let engine: TestEngine;
let snapshot: Snapshot;
let report: SimulationReport;

beforeAll(async () => {
  db = await createTestDatabase();
  // Retries one second apart, many of them: failures slow a device down but do not park it for an hour.
  const rollout = rolloutYaml({ target: 'app-3', maxInFlightPerCell: PER_CELL, maxRetries: 20 }).replace('retryDelaySeconds: 60', 'retryDelaySeconds: 1');
  repo = await createFleetRepo({ ...fixtureFleet(), 'firmware-manifests/tr-rollout.yaml': rollout });
  const compiled = await compileSnapshot(await readWorkingTree({ dir: repo.dir }));
  if (!compiled.snapshot) throw new Error(`fixture does not compile: ${compiled.issues.map((i) => i.message).join('; ')}`);
  snapshot = compiled.snapshot;
  engine = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  report = await runSimulation({
    url: engine.url,
    adminToken: ADMIN_TOKEN,
    snapshot,
    devices: DEVICES,
    speed: 2000,
    failureRate: 0.1,
    towersPerSite: TOWERS_PER_SITE,
    durationMs: 90_000,
    seed: 42,
    concurrency: 32,
    stopWhenConverged: true,
    engineStatus: false,
    behaviour: { silenceProbability: 0.02 },
  });
  if (process.env.FLEETFORM_TEST_LOG_SIMULATION) process.stdout.write(formatReport(report));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await repo?.remove();
  await db?.drop();
});

describe('a simulated fleet of 200 trackers', () => {
  it('converges: every device ends on the rollout target, as the devices and the engine both see it', async () => {
    const model = new FirmwarePlanner(snapshot).model('tr') as CompatibilityModel;
    const target = model.bundle('app-3')?.components;
    expect(target).toBeDefined();
    expect(report.outcomes).toHaveLength(DEVICES);
    expect(report.converged).toBe(true);
    for (const outcome of report.outcomes) {
      expect(outcome.target).toEqual(target);
      expect(outcome.firmware).toEqual(target);
    }
    const listed = await request<{ devices: { id: string; status: string; reported: { firmware: Record<string, string> } }[] }>(`${engine.url}/v1/devices?limit=1000`, { token: ADMIN_TOKEN });
    const simulated = listed.body.devices.filter((d) => d.id.startsWith('sim-42-'));
    expect(simulated).toHaveLength(DEVICES);
    for (const device of simulated) {
      expect(device.reported.firmware).toEqual(target);
      expect(device.status).toBe('converged');
    }
  });

  it('took valid steps only: one component each, from where it was, onto a known-good combination', () => {
    const planner = new FirmwarePlanner(snapshot);
    const model = planner.model('tr') as CompatibilityModel;
    expect(report.violations).toEqual([]);
    for (const outcome of report.outcomes) {
      const fewest = planner.plan({ hardware: 'tr', from: outcome.initial, target: { bundle: 'app-3' } }).steps.length;
      expect(model.isStable(outcome.initial)).toBe(true);
      expect(outcome.steps).toHaveLength(fewest);
      let state = outcome.initial;
      for (const step of outcome.steps) {
        expect(step.from).toEqual(state);
        const changed = Object.keys(step.to).filter((c) => step.to[c] !== step.from[c]);
        expect(changed).toEqual([step.component]);
        expect(model.isGood(step.to)).toBe(true);
        state = step.to;
      }
      expect(state).toEqual(outcome.target);
    }
  });

  it('never had more downloads on one tower than maxInFlightPerCell, and the limit was actually reached', () => {
    expect(report.breaches).toEqual([]);
    const peaks = report.throttlePeaks.map((p) => p.peak);
    expect(Math.max(...peaks)).toBeLessThanOrEqual(PER_CELL);
    // Otherwise the throttle was never under pressure and the check above proves nothing.
    expect(peaks).toContain(PER_CELL);
  });

  it('had failing installs along the way, which were retried', () => {
    expect(report.stepsFailed).toBeGreaterThan(0);
    expect(report.stepsIssued).toBe(report.stepsSucceeded + report.stepsFailed);
  });

  it('was never answered with a server error (overlapping check-in writes do not deadlock)', () => {
    const serverErrors = Object.entries(report.errors).filter(([code]) => code.startsWith('5') || code === 'internal');
    expect(serverErrors).toEqual([]);
  });
});
