// `fleetform simulate` and `fleetform demo` from the command line: bad flags exit 2 with a message that
// names the flag; a run against a real engine prints its report and exits 0 when the fleet converged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram } from '../../engine/cli/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ADMIN_TOKEN, startTestEngine, type TestEngine } from '../support/engine.ts';
import { createFleetRepo, fixtureFleet, type FleetRepo } from '../support/fleet.ts';

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runProgram(['node', 'fleetform', ...argv], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env,
    cwd: process.cwd(),
    exit: () => undefined,
  });
  return { code, stdout, stderr };
}

describe('flags', () => {
  it.each([
    [['simulate'], /--devices is required/],
    [['simulate', '--devices', '0'], /--devices: expected a whole number from 1/],
    [['simulate', '--devices', 'ten'], /--devices/],
    [['simulate', '--devices', '5', '--speed', '0'], /--speed: expected a number above 0/],
    [['simulate', '--devices', '5', '--failure-rate', '1.5'], /--failure-rate/],
    [['simulate', '--devices', '5', '--towers', '-1'], /--towers/],
    [['simulate', '--devices', '5', '--duration', 'soon'], /--duration: expected e\.g\. 90s/],
    [['simulate', '--devices', '5', '--url', 'ftp://x'], /--url/],
    [['simulate', '--devices', '5', '--seed', 'abc'], /--seed/],
    [['simulate', '--devices', '5', '--progress', 'fancy', '--token', 't'], /--progress/],
    [['demo', '--devices', '-3'], /--devices/],
    [['demo', '--port', 'http'], /--port/],
  ])('%j exits 2', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('needs an operator token', async () => {
    const result = await run(['simulate', '--devices', '5', '--data-dir', '/nonexistent-fleetform-dir']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/an operator token is needed/);
  });
});

describe('a run against an engine', () => {
  let db: TestDatabase;
  let repo: FleetRepo;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase();
    repo = await createFleetRepo(fixtureFleet({ maxInFlightPerCell: 2 }));
    engine = await startTestEngine({ databaseUrl: db.url, repoDir: repo.dir });
  });
  afterAll(async () => {
    await engine?.close();
    await repo?.remove();
    await db?.drop();
  });

  it('registers the devices, upgrades them and reports the convergence as JSON', async () => {
    const result = await run(
      ['simulate', '--devices', '20', '--url', engine.url, '--repo', repo.dir, '--speed', '3000', '--failure-rate', '0', '--towers', '2', '--seed', '5', '--duration', '40s', '--json'],
      { FLEETFORM_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { converged: boolean; devices: number; devicesAtTarget: number; violations: unknown[]; breaches: unknown[]; stepsSucceeded: number };
    expect(report).toMatchObject({ converged: true, devices: 20, devicesAtTarget: 20, violations: [], breaches: [] });
    // app-1 → app-3 is two steps for each of the 20.
    expect(report.stepsSucceeded).toBe(40);
  });

  it('refuses a token the engine does not know, with exit 1 and the reason', async () => {
    const result = await run(['simulate', '--devices', '2', '--url', engine.url, '--repo', repo.dir, '--token', 'ffo_wrong', '--progress', 'none']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[unauthorized\]/);
  });
});
